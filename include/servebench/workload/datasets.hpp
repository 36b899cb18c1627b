// servebench — data sets: ShareGPT JSON (the file vLLM's benchmark reads) and JSONL, sampled with a seed to the
// size a run needs. A data set never wraps: a run that asks for more requests than it holds fails with a message
// naming both counts, unless it is sampled with replacement (DatasetSampling::with_replacement). A malformed file
// fails while loading, before anything is sent, with one line naming the file, the line (or entry) and the field.
//
//   auto chats = servebench::sharegpt_prompts("ShareGPT_V3_unfiltered_cleaned_split.json", {200, false, 1});
//   auto file  = servebench::jsonl_dataset("prompts.jsonl", {0, false, 0});   // every line, in order
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../workload.hpp"

namespace servebench {

// How a run takes its prompts from a data set.
struct DatasetSampling {
  std::uint64_t requests = 0;             // 0: every entry, in file order
  bool with_replacement = false;          // may repeat entries (and so feed more requests than the file holds)
  std::uint64_t seed = 0;                 // which entries, in which order (a seeded shuffle, or seeded draws)
  std::optional<int> output_tokens = {};  // every max_tokens set to this (--output-tokens) instead of the file's
};

namespace detail {

// 1-based line of byte `offset` in `text`.
inline std::size_t line_of(const std::string& text, std::size_t offset) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

}  // namespace detail

// `entries` sampled as `sampling` says, into a data set named `name` (a workload that does not cycle). Without
// replacement: a seeded Fisher-Yates shuffle (identity order when requests is 0), the first `requests`.
inline Workload sample_dataset(std::vector<Prompt> entries, const std::string& name, const DatasetSampling& sampling) {
  if (entries.empty()) throw WorkloadError(name + ": no prompts");
  if (sampling.output_tokens) {
    detail::check_max_tokens(*sampling.output_tokens, "sample_dataset");
    for (auto& p : entries) p.max_tokens = *sampling.output_tokens;
  }
  const auto size = static_cast<std::uint64_t>(entries.size());
  if (sampling.requests == 0) return fixed_prompts(std::move(entries), name, /*cycles=*/false);
  std::uint64_t state = sampling.seed ^ 0x5A3D1E5ULL;
  std::vector<Prompt> chosen;
  chosen.reserve(static_cast<std::size_t>(sampling.requests));
  if (sampling.with_replacement) {
    for (std::uint64_t i = 0; i < sampling.requests; ++i)
      chosen.push_back(entries[static_cast<std::size_t>(detail::splitmix64(state) % size)]);
  } else {
    if (sampling.requests > size)
      throw WorkloadError(name + ": the data set holds " + std::to_string(size) + " prompts but " +
                          std::to_string(sampling.requests) +
                          " requests were asked for; ask for fewer, or sample with replacement "
                          "(--sample-with-replacement)");
    for (std::uint64_t i = size - 1; i > 0; --i)
      std::swap(entries[static_cast<std::size_t>(i)],
                entries[static_cast<std::size_t>(detail::splitmix64(state) % (i + 1))]);
    entries.resize(static_cast<std::size_t>(sampling.requests));
    chosen = std::move(entries);
  }
  return fixed_prompts(std::move(chosen), name, /*cycles=*/false);
}

// Parses ShareGPT JSON: a list of {"conversations": [{"from": "human", "value": ...}, {"from": "gpt", "value": ...},
// ...]}. As vLLM's benchmark: the first turn is the prompt, the second the reply, whose length (words, one per
// token, unless `count_tokens` gives the server's count) is the request's max_tokens; entries with fewer than two
// turns are skipped. `source_name` names the file in error messages.
template <class CountTokens = std::nullptr_t>
std::vector<Prompt> parse_sharegpt(const std::string& text, const std::string& source_name,
                                   CountTokens count_tokens = nullptr) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw WorkloadError(source_name + ":" + std::to_string(detail::line_of(text, e.byte ? e.byte - 1 : 0)) +
                        ": not valid JSON (" + e.what() + ")");
  } catch (const nlohmann::json::exception& e) {
    throw WorkloadError(source_name + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_array()) throw WorkloadError(source_name + ": expected a JSON list of {\"conversations\": [...]} entries");
  std::vector<Prompt> prompts;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& entry = j[i];
    auto fail = [&](const std::string& field, const std::string& why) {
      throw WorkloadError(source_name + ": entry " + std::to_string(i) + ": field \"" + field + "\" " + why);
    };
    if (!entry.is_object()) fail("conversations", "is missing (the entry is not an object)");
    const auto conversations = entry.find("conversations");
    if (conversations == entry.end()) fail("conversations", "is missing");
    if (!conversations->is_array()) fail("conversations", "must be a list of turns");
    for (std::size_t t = 0; t < conversations->size() && t < 2; ++t) {
      const auto& turn = (*conversations)[t];
      const std::string at = "conversations[" + std::to_string(t) + "].value";
      const auto value = turn.is_object() ? turn.find("value") : turn.end();
      if (!turn.is_object() || value == turn.end()) fail(at, "is missing");
      if (!value->is_string()) fail(at, "must be a string");
    }
    if (conversations->size() < 2) continue;
    Prompt p;
    p.text = (*conversations)[0]["value"].template get<std::string>();
    const auto reply = (*conversations)[1]["value"].template get<std::string>();
    std::int64_t reply_tokens = 0;
    if constexpr (std::is_same<CountTokens, std::nullptr_t>::value) {
      std::istringstream words(reply);
      for (std::string w; words >> w;) ++reply_tokens;
    } else {
      reply_tokens = count_tokens(reply);
    }
    if (p.text.empty() || reply_tokens < 1) continue;  // as vLLM: nothing to send, or nothing to wait for
    p.max_tokens = static_cast<int>(std::min<std::int64_t>(reply_tokens, 1'000'000));
    prompts.push_back(std::move(p));
  }
  if (prompts.empty()) throw WorkloadError(source_name + ": no entry has a prompt and a reply");
  return prompts;
}

inline std::string read_dataset_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WorkloadError(path + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw WorkloadError(path + ": read error");
  return text;
}

// A ShareGPT file, sampled.
template <class CountTokens = std::nullptr_t>
Workload sharegpt_prompts(const std::string& path, const DatasetSampling& sampling = {},
                          CountTokens count_tokens = nullptr) {
  return sample_dataset(parse_sharegpt(read_dataset_file(path), path, count_tokens), path, sampling);
}

// A JSONL file of {prompt | messages, max_tokens} (parse_jsonl_prompts), sampled.
template <class = void>  // deferred: see serialize.hpp
Workload jsonl_dataset(const std::string& path, const DatasetSampling& sampling = {}, int default_max_tokens = 100) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WorkloadError(path + ": cannot open");
  return sample_dataset(parse_jsonl_prompts(in, path, default_max_tokens), path, sampling);
}

}  // namespace servebench
