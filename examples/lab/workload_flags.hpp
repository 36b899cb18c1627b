// The workload flags of the lab programs (and of any command that wants them): which data set, how long the prompts
// and replies are, shared prefixes. Exact names, so every program spells them the same:
//   --dataset random|sharegpt|jsonl|prefix|multiturn|trace   --dataset-path FILE   --input-tokens N
//   --output-tokens N   --range-ratio R   --prefix-tokens P   --groups G   --turns T   --ramp-up FROM:TO:SECONDS
//   --sample-with-replacement   --seed S
// add_dataset_flags() defines them; build_dataset() turns them into the prompts of a run, counted by the server's
// own tokenizer where it has one (servebench/workload/tokenizer.hpp).
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <servebench.hpp>
#include <servebench/workloads.hpp>

#include "../common/cli.hpp"

namespace servebench {
namespace lab {

struct WorkloadFlags {
  std::string dataset;  // empty: the program's own prompts
  std::string dataset_path;
  std::int64_t input_tokens = 128;
  std::int64_t output_tokens = 0;  // 0: the data set's lengths (ShareGPT, JSONL), else the program's default
  double range_ratio = 0;
  std::int64_t prefix_tokens = 0;
  std::uint64_t groups = 1;
  int turns = 1;
  std::string ramp_up;
  bool with_replacement = false;
  std::uint64_t seed = 0;
};

// `with_seed`: define --seed here too (a program whose --seed already means something else shares it instead).
inline void add_dataset_flags(CLI::App& app, WorkloadFlags& f, bool with_seed = true) {
  app.add_option("--dataset", f.dataset,
                 "prompts: random (exact token counts from the server's /tokenize), sharegpt, jsonl, prefix (shared "
                 "prefixes), multiturn (conversations), trace (open loop only); default: the program's own")
      ->check(CLI::IsMember({"random", "sharegpt", "jsonl", "prefix", "multiturn", "trace"}));
  app.add_option("--dataset-path", f.dataset_path, "the ShareGPT JSON or JSONL file")->type_name("FILE");
  app.add_option("--input-tokens", f.input_tokens,
                 "prompt tokens (random: the mean with --range-ratio; prefix: "
                 "the unique part after the shared one)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--output-tokens", f.output_tokens, "tokens per reply, forced where the API can (ignore_eos)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--range-ratio", f.range_ratio, "random: input lengths uniform in [N(1-R), N(1+R)]")
      ->check(CLI::Range(0.0, 0.999))
      ->capture_default_str();
  app.add_option("--prefix-tokens", f.prefix_tokens, "prefix: tokens every prompt of a group shares")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--groups", f.groups, "prefix: how many distinct shared prefixes")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--turns", f.turns, "multiturn: turns per conversation")->check(CLI::Range(1, 1000));
  app.add_option("--ramp-up", f.ramp_up, "open loop: request rate from FROM to TO over SECONDS")
      ->type_name("FROM:TO:SECONDS");
  app.add_flag("--sample-with-replacement", f.with_replacement,
               "sharegpt, jsonl: repeat entries when the run needs more than the file holds");
  if (with_seed)
    app.add_option("--seed", f.seed, "which prompts and lengths (the same seed, the same prompts)")
        ->capture_default_str();
}

// --ramp-up FROM:TO:SECONDS, checked; throws examples::UsageError.
struct RampFlag {
  double from = 0, to = 0, seconds = 0;
};
inline RampFlag parse_ramp_up(const std::string& text) {
  RampFlag r;
  char c1 = 0, c2 = 0;
  std::istringstream in(text);
  in >> r.from >> c1 >> r.to >> c2 >> r.seconds;
  if (!in || c1 != ':' || c2 != ':' || !in.eof() || !(r.from > 0) || !(r.to > 0) || !(r.seconds > 0))
    throw examples::UsageError("--ramp-up '" + text + "': expected FROM:TO:SECONDS with positive numbers, e.g. " +
                               "1:20:30 (1 to 20 requests/s over 30 s)");
  return r;
}

// The flags that only make sense together; throws examples::UsageError. Call it before starting anything.
// `open_loop`: the run sends at a rate (servebench run --rate), where a trace and a ramp apply.
inline void check_dataset_flags(const WorkloadFlags& flags, bool open_loop = false) {
  const auto& d = flags.dataset;
  if (d == "trace" && !open_loop)
    throw examples::UsageError("--dataset trace replays arrival times: it needs an open loop (servebench run --rate), "
                               "and this run is closed-loop");
  if (d == "trace" && flags.dataset_path.empty())
    throw examples::UsageError("--dataset trace needs --dataset-path FILE");
  if (!flags.ramp_up.empty() && !open_loop)
    throw examples::UsageError("--ramp-up needs an open loop (servebench run --rate); this run is closed-loop");
  if (!flags.ramp_up.empty()) parse_ramp_up(flags.ramp_up);
  if ((d == "multiturn") != (flags.turns > 1))
    throw examples::UsageError(d == "multiturn" ? "--dataset multiturn needs --turns T (T >= 2)"
                                                : "--turns goes with --dataset multiturn");
  if (d != "trace" && (d == "sharegpt" || d == "jsonl") != !flags.dataset_path.empty())
    throw examples::UsageError(flags.dataset_path.empty()
                                   ? "--dataset " + d + " needs --dataset-path FILE"
                                   : "--dataset-path goes with --dataset sharegpt, jsonl or trace");
  if ((d == "prefix") != (flags.prefix_tokens > 0))
    throw examples::UsageError(d == "prefix" ? "--dataset prefix needs --prefix-tokens P"
                                             : "--prefix-tokens goes with --dataset prefix");
}

// The prompts `flags` ask for, `requests` of them (multiturn: `requests` sessions), counted by the tokenizer of the
// server `counted_by` (its /tokenize; `chat`: as its chat endpoint counts, template included). Throws
// examples::UsageError for flags that do not fit together, WorkloadError for a file that cannot be used (one line
// naming it).
inline BuiltWorkload build_dataset(const WorkloadFlags& flags, const DriverOptions& counted_by, bool chat,
                                   std::uint64_t requests, int default_output_tokens, bool open_loop = false) {
  check_dataset_flags(flags, open_loop);
  const auto& d = flags.dataset;
  const auto output = LengthDistribution::fixed(flags.output_tokens ? flags.output_tokens : default_output_tokens);
  ServerTokenizer tokenizer(counted_by, chat);
  if (d == "random")
    return exact_length_prompts(tokenizer, requests, LengthDistribution::uniform(flags.input_tokens, flags.range_ratio),
                                output, flags.seed);
  if (d == "multiturn") {  // `requests` sessions of --turns turns; user turns of --input-tokens words
    const auto turns = static_cast<std::uint64_t>(flags.turns);
    BuiltWorkload built{multiturn_prompts(requests, turns, static_cast<std::size_t>(flags.input_tokens),
                                          static_cast<int>(output.mean), flags.seed),
                        false,
                        "input lengths approximate (one word per token); the server's counts are in n_in",
                        {}};
    built.description = {{"dataset", d}, {"sessions", requests}, {"turns", turns}, {"seed", flags.seed}};
    return built;
  }
  if (d == "prefix")
    return shared_prefix_prompts(tokenizer, requests, flags.groups, flags.prefix_tokens, flags.input_tokens, output,
                                 flags.seed);
  DatasetSampling sampling{requests, flags.with_replacement, flags.seed, {}};
  if (flags.output_tokens) sampling.output_tokens = static_cast<int>(flags.output_tokens);
  Workload w = d == "sharegpt" ? sharegpt_prompts(flags.dataset_path, sampling)
                               : jsonl_dataset(flags.dataset_path, sampling, default_output_tokens);
  BuiltWorkload built{w, false, "input lengths as the file gives them (counted by the server: n_in)", {}};
  built.description = {{"dataset", d},
                       {"path", flags.dataset_path},
                       {"requests", requests},
                       {"seed", flags.seed},
                       {"with_replacement", flags.with_replacement}};
  return built;
}

// --dataset trace: the trace's prompts and its arrival schedule (OpenLoop::schedule), lengths counted by the
// server `counted_by` as build_dataset() does.
struct TraceWorkload {
  BuiltWorkload built;
  std::vector<Nanos> offsets;
};
inline TraceWorkload build_trace(const WorkloadFlags& flags, const DriverOptions& counted_by, bool chat) {
  check_dataset_flags(flags, true);
  const Trace trace = read_trace(flags.dataset_path);
  ServerTokenizer tokenizer(counted_by, chat);
  return {trace_prompts(tokenizer, trace, flags.seed), trace.offsets};
}

}  // namespace lab
}  // namespace servebench
