// servebench::sim — simulated inference servers: an HF-like sequential engine and a vLLM-like continuous-batching
// engine behind real HTTP (cpp-httplib) on 127.0.0.1, calibrated on GPU measurements (shared/calibration/), with
// seeded fault injection. Every example, the demo and most tests run against these, so nothing needs a GPU.
//
// A part of its own (CMake target servebench::sim, Meson dependency servebench-sim, single header
// servebench_sim.hpp): the measurement core (<servebench.hpp>) never includes it, so a program that only measures
// real servers neither compiles nor links a server. One concern a header, under servebench/sim/:
//   config.hpp    EngineConfig, FaultConfig, ServerOptions, ServerStats: plain data and the fluent options
//   presets.hpp   preset("hf-transformers-h200" | "transformers-cb-h200" | "vllm-h100"), each with its provenance
//   engine.hpp    the sequential and continuous-batching models in model time, their real-time loop, predict_burst
//   faults.hpp    one request's seeded draw of faults and the named points of a reply where each acts
//   wire.hpp      the wire formats (hf, OpenAI completions, OpenAI chat): requests in, replies and errors out
//   server.hpp    the HTTP server: routes, replies, Server
//   dialects.hpp  client dialects that read the servers' ground truth (sim_timing) into RequestRecord
//   random.hpp, tokens.hpp: seeded randomness and the simulated tokenizer
#pragma once

#include "sim/config.hpp"
#include "sim/dialects.hpp"
#include "sim/engine.hpp"
#include "sim/faults.hpp"
#include "sim/presets.hpp"
#include "sim/server.hpp"
#include "sim/wire.hpp"
