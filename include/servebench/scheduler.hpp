// servebench — the scheduler: turns single requests into experiments (its parts are in scheduler/).
//
//   * Closed loop (run_closed_loop): exactly N requests in flight until a request count or a duration is reached —
//     the lab's concurrency experiment. Each of the N workers owns one sender (one connection, kept alive).
//   * Open loop (run_open_loop): arrivals at a rate, constant / Poisson / gamma with a burstiness factor, computed up
//     front from a seed so a run repeats exactly. A request keeps its arrival time as `t_sched`, so a late send shows
//     up in `client_queue` and `latency_from_sched` instead of hiding (coordinated omission).
//   * Sweep (run_sweep): a list of concurrency levels or rates against one or more targets, one after another (as the
//     lab does) or interleaved level by level (so machine noise hits every target alike).
//   * Warm-up requests are sent and kept out of the statistics; a level timeout abandons what is still in flight as
//     `deadline_exceeded`; Ctrl-C / SIGTERM stop sending, give in-flight requests a grace period, and return every
//     record gathered so far, marked interrupted. A second Ctrl-C exits at once.
//
// Every loop returns a LevelResult (result.hpp): the target, the settings it ran with, the summary, every record and
// how the run went; write_artifact() stores it whole.
//
//   auto target = servebench::make_target<servebench::api::openai_completions>(
//       servebench::DriverOptions().label("vllm").base_url("http://127.0.0.1:8000").model("my-model"));
//   auto result = servebench::run_closed_loop(servebench::ClosedLoop().concurrency(10).requests(100).warmup(2),
//                                             servebench::template_prompts("Question {i}?", 50), target);
#pragma once

#include "scheduler/arrivals.hpp"
#include "scheduler/closed_loop.hpp"
#include "scheduler/interrupt.hpp"
#include "scheduler/level.hpp"
#include "scheduler/open_loop.hpp"
#include "scheduler/options.hpp"
#include "scheduler/progress.hpp"
#include "scheduler/sweep.hpp"
