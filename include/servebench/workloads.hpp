// servebench — the workload builders beyond the core's fixed, templated and JSONL prompts (workload.hpp), each about
// one thing, under servebench/workload/:
//   lengths.hpp    length distributions (fixed, uniform with a range ratio, normal, log-normal), seeded
//   tokenizer.hpp  prompts of an exact length in tokens, counted by the server's own /tokenize
//   datasets.hpp   ShareGPT and JSONL data sets, sampled with a seed, never wrapped silently
//   trace.hpp      trace replay (the Mooncake format) as an open loop's schedule
//   multiturn.hpp  multi-turn chat sessions whose prompts grow turn by turn
// A part of its own, included on purpose (single header servebench_workloads.hpp): <servebench.hpp> does not
// include it, so a program that sends fixed prompts never compiles a tokenizer client or a data-set reader.
#pragma once

#include "workload/datasets.hpp"
#include "workload/lengths.hpp"
#include "workload/multiturn.hpp"
#include "workload/tokenizer.hpp"
#include "workload/trace.hpp"
