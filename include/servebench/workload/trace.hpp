// servebench — trace replay: a JSONL file of arrivals with their lengths, in the Mooncake trace format
// ({"timestamp": ms, "input_length": tokens, "output_length": tokens, "hash_ids": [block ids]}), becomes the arrival
// schedule of an open loop (OpenLoop::schedule) and the prompts sent at those times: exact input lengths where the
// server has a tokenizer endpoint, and prompts whose hash_ids agree sharing the text of those blocks (Mooncake's
// blocks are 512 tokens), so a prefix cache sees the reuse the trace recorded.
//
//   auto trace = servebench::read_trace("mooncake_trace.jsonl");
//   auto built = servebench::trace_prompts(tokenizer, trace);
//   run_open_loop(OpenLoop().schedule(trace.offsets), built.workload, target);
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../record.hpp"
#include "../workload.hpp"
#include "tokenizer.hpp"

namespace servebench {

struct TraceEntry {
  Nanos offset = 0;  // after the first entry's timestamp
  std::int64_t input_length = 0;
  std::int64_t output_length = 0;
  std::vector<std::int64_t> hash_ids;
};

struct Trace {
  std::vector<TraceEntry> entries;  // in file order, non-decreasing offsets
  std::vector<Nanos> offsets;       // the same, for OpenLoop::schedule
  std::int64_t block_tokens = 512;  // the tokens one hash id stands for
};

// Parses a trace; one WorkloadError line naming the source, the line and the field for anything malformed.
template <class = void>  // deferred: see serialize.hpp
Trace parse_trace(std::istream& in, const std::string& source_name) {
  Trace trace;
  std::string line;
  std::size_t line_number = 0;
  double first_ms = 0;
  auto fail = [&](const std::string& why) {
    throw WorkloadError(source_name + ":" + std::to_string(line_number) + ": " + why);
  };
  auto length = [&](const nlohmann::json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) fail(std::string("missing field \"") + key + "\"");
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > 10'000'000)
      fail(std::string("field \"") + key + "\" must be a positive integer");
    return it->get<std::int64_t>();
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) fail("not valid JSON");
    if (!j.is_object()) fail("expected a JSON object {\"timestamp\", \"input_length\", \"output_length\"}");
    const auto ts = j.find("timestamp");
    if (ts == j.end()) fail("missing field \"timestamp\"");
    if (!ts->is_number() || !(ts->get<double>() >= 0)) fail("field \"timestamp\" must be a number of ms >= 0");
    TraceEntry e;
    const double ms = ts->get<double>();
    if (trace.entries.empty()) first_ms = ms;
    e.offset = static_cast<Nanos>((ms - first_ms) * 1e6);
    if (!trace.entries.empty() && e.offset < trace.entries.back().offset)
      fail("field \"timestamp\" goes back in time (the trace must be in arrival order)");
    e.input_length = length(j, "input_length");
    e.output_length = length(j, "output_length");
    if (const auto ids = j.find("hash_ids"); ids != j.end()) {
      if (!ids->is_array() ||
          !std::all_of(ids->begin(), ids->end(), [](const nlohmann::json& x) { return x.is_number_integer(); }))
        fail("field \"hash_ids\" must be a list of integers");
      e.hash_ids = ids->get<std::vector<std::int64_t>>();
    }
    trace.offsets.push_back(e.offset);
    trace.entries.push_back(std::move(e));
  }
  if (in.bad()) throw WorkloadError(source_name + ": read error");
  if (trace.entries.empty()) throw WorkloadError(source_name + ": no arrivals");
  return trace;
}

template <class = void>  // deferred: see serialize.hpp
Trace read_trace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WorkloadError(path + ": cannot open");
  return parse_trace(in, path);
}

// The prompts of a trace, one per entry, in order: input_length tokens as the server counts them (approximate,
// one word per token, without a tokenizer endpoint), max_tokens = output_length. Entries whose leading hash_ids
// agree share the text of those whole blocks.
template <class = void>  // deferred: see serialize.hpp
BuiltWorkload trace_prompts(ServerTokenizer& tokenizer, const Trace& trace, std::uint64_t seed = 0) {
  std::string why;
  const bool exact = tokenizer.available(&why);
  std::map<std::int64_t, std::string> blocks;  // hash id -> the text of its block
  std::vector<Prompt> prompts;
  for (std::size_t i = 0; i < trace.entries.size(); ++i) {
    const auto& e = trace.entries[i];
    Prompt p;
    p.max_tokens = static_cast<int>(e.output_length);
    std::string lead;
    const auto whole = std::min<std::size_t>(e.hash_ids.size(),
                                             static_cast<std::size_t>((e.input_length - 1) / trace.block_tokens));
    for (std::size_t b = 0; b < whole; ++b) {
      auto it = blocks.find(e.hash_ids[b]);
      if (it == blocks.end()) {
        const auto block_seed = seed ^ static_cast<std::uint64_t>(e.hash_ids[b]) * 0x9E3779B97F4A7C15ULL;
        std::string text = exact ? exact_length_text(tokenizer, trace.block_tokens, block_seed, 0)
                                 : detail::words_text(static_cast<std::size_t>(trace.block_tokens), block_seed, 0);
        it = blocks.emplace(e.hash_ids[b], std::move(text)).first;
      }
      lead += (lead.empty() ? "" : " ") + it->second;
    }
    if (exact) {
      p.text = exact_length_text(tokenizer, e.input_length, seed, i, lead);
      p.input_tokens = e.input_length;
    } else {
      const auto rest = e.input_length - static_cast<std::int64_t>(whole) * trace.block_tokens;
      p.text = lead + (lead.empty() ? "" : " ") + detail::words_text(static_cast<std::size_t>(rest), seed, i);
    }
    prompts.push_back(std::move(p));
  }
  BuiltWorkload built = detail::built_workload(std::move(prompts), "trace", exact, tokenizer, why);
  built.description = {{"dataset", "trace"},
                       {"requests", trace.entries.size()},
                       {"duration_s", ns_to_s(trace.offsets.back())},
                       {"input_lengths", exact ? "exact" : "approximate"},
                       {"note", built.note}};
  return built;
}

}  // namespace servebench
