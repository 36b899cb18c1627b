// servebench — the measurement core in one include: statistics, records, dialects, the driver, workloads of fixed,
// templated and JSONL prompts, the scheduler, artifacts, reports (text, markdown), charts, and the series of a
// server's own metrics that a level keeps.
//
// Parts of their own, each included on purpose, so that a program that does not use one never compiles it:
//   <servebench/sim.hpp>          the simulated servers (CMake target servebench::sim)
//   <servebench/metrics.hpp>      the Prometheus text format and the scraper that reads a server's /metrics
//   <servebench/workloads.hpp>    exact-length prompts from the server's tokenizer, length distributions, data sets
//                                 (ShareGPT, JSONL), trace replay and multi-turn sessions
//   <servebench/html_report.hpp>  the self-contained HTML report
// Each has a single header of its own in single_include/, beside the core's.
#pragma once

#include "servebench/api.hpp"
#include "servebench/artifact.hpp"
#include "servebench/chart.hpp"
#include "servebench/driver.hpp"
#include "servebench/files.hpp"
#include "servebench/modelled_time.hpp"
#include "servebench/ready.hpp"
#include "servebench/record.hpp"
#include "servebench/record_stream.hpp"
#include "servebench/repetitions.hpp"
#include "servebench/report.hpp"
#include "servebench/result.hpp"
#include "servebench/scheduler.hpp"
#include "servebench/serialize.hpp"
#include "servebench/sse.hpp"
#include "servebench/stats.hpp"
#include "servebench/target.hpp"
#include "servebench/url.hpp"
#include "servebench/version.hpp"
#include "servebench/workload.hpp"
