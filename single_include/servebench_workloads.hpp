// servebench 0.1.0 -- single-header edition of workload builders (tokenizer, data sets, traces, sessions).
//
// GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench/workloads.hpp and the headers it
// includes; edit those and run `python3 tools/amalgamate.py`. In place of the headers of other parts it
// includes "servebench.hpp": keep the files in one directory.
// Dependencies stay external:
//   g++ -std=c++17 -I single_include app.cpp $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread
//
// Contents, in order:
//   servebench/workloads.hpp
//   servebench/workload/datasets.hpp
//   servebench/workload/lengths.hpp
//   servebench/workload/multiturn.hpp
//   servebench/workload/tokenizer.hpp
//   servebench/workload/trace.hpp
#pragma once

// ---- begin servebench/workloads.hpp ----
// servebench — the workload builders beyond the core's fixed, templated and JSONL prompts (workload.hpp), each about
// one thing, under servebench/workload/:
//   lengths.hpp    length distributions (fixed, uniform with a range ratio, normal, log-normal), seeded
//   tokenizer.hpp  prompts of an exact length in tokens, counted by the server's own /tokenize
//   datasets.hpp   ShareGPT and JSONL data sets, sampled with a seed, never wrapped silently
//   trace.hpp      trace replay (the Mooncake format) as an open loop's schedule
//   multiturn.hpp  multi-turn chat sessions whose prompts grow turn by turn
// A part of its own, included on purpose (single header servebench_workloads.hpp): <servebench.hpp> does not
// include it, so a program that sends fixed prompts never compiles a tokenizer client or a data-set reader.

// ---- begin servebench/workload/datasets.hpp ----
// servebench — data sets: ShareGPT JSON (the file vLLM's benchmark reads) and JSONL, sampled with a seed to the
// size a run needs. A data set never wraps: a run that asks for more requests than it holds fails with a message
// naming both counts, unless it is sampled with replacement (DatasetSampling::with_replacement). A malformed file
// fails while loading, before anything is sent, with one line naming the file, the line (or entry) and the field.
//
//   auto chats = servebench::sharegpt_prompts("ShareGPT_V3_unfiltered_cleaned_split.json", {200, false, 1});
//   auto file  = servebench::jsonl_dataset("prompts.jsonl", {0, false, 0});   // every line, in order

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

#include "servebench.hpp"  // servebench/workload.hpp and the rest of the core

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
// ---- end servebench/workload/datasets.hpp ----
// ---- begin servebench/workload/lengths.hpp ----
// servebench — length distributions for prompts and replies: fixed, uniform with a range ratio (vLLM's
// --random-range-ratio), normal and log-normal, clamped to [min, max]. A draw is a pure function of (seed, index),
// built on splitmix64 and Box-Muller rather than <random>'s distributions (whose output differs between standard
// libraries), so the same seed gives the same lengths on every run and every platform.
//
//   auto in  = servebench::LengthDistribution::uniform(512, 0.5);        // integers in [256, 768]
//   auto out = servebench::LengthDistribution::lognormal(128, 64, 1, 1024);
//   std::int64_t n = in.draw(/*seed=*/1, /*index=*/42);

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>


namespace servebench {

enum class LengthShape { fixed, uniform, normal, lognormal };

template <>
struct EnumNames<LengthShape> {
  static constexpr const char* what = "length distribution";
  static constexpr EnumName<LengthShape> entries[] = {{LengthShape::fixed, "fixed"},
                                                      {LengthShape::uniform, "uniform"},
                                                      {LengthShape::normal, "normal"},
                                                      {LengthShape::lognormal, "lognormal"}};
};
SERVEBENCH_ENUM_JSON(LengthShape)

namespace detail {

// Two independent uniform doubles in (0, 1] from the stream of (seed, index, salt).
inline std::pair<double, double> uniform_pair(std::uint64_t seed, std::uint64_t index, std::uint64_t salt) noexcept {
  std::uint64_t state = seed ^ (salt * 0x9E3779B97F4A7C15ULL);
  state = splitmix64(state) ^ (index * 0xD1B54A32D192ED03ULL);
  const std::uint64_t a = splitmix64(state), b = splitmix64(state);
  constexpr double scale = 1.0 / 9007199254740992.0;  // 2^-53
  return {(static_cast<double>(a >> 11) + 1.0) * scale, (static_cast<double>(b >> 11) + 1.0) * scale};
}

}  // namespace detail

// Lengths in tokens. `mean` is the fixed length, the centre of the uniform range, or the mean of the (unclamped)
// normal or log-normal; `stddev` their standard deviation (of the lengths themselves for the log-normal).
struct LengthDistribution {
  LengthShape shape = LengthShape::fixed;
  double mean = 128;
  double range_ratio = 0;  // uniform: integers in [floor(mean * (1 - r)), ceil(mean * (1 + r))], 0 <= r < 1
  double stddev = 0;       // normal, lognormal
  std::int64_t min = 1;    // every draw is clamped to [min, max]
  std::int64_t max = std::numeric_limits<std::int32_t>::max();

  static LengthDistribution fixed(std::int64_t n) {
    LengthDistribution d;
    d.mean = static_cast<double>(n);
    d.min = std::min<std::int64_t>(1, n);
    d.validate();
    return d;
  }
  static LengthDistribution uniform(double mean, double range_ratio) {
    LengthDistribution d;
    d.shape = LengthShape::uniform;
    d.mean = mean;
    d.range_ratio = range_ratio;
    d.validate();
    return d;
  }
  static LengthDistribution normal(double mean, double stddev, std::int64_t min = 1,
                                   std::int64_t max = std::numeric_limits<std::int32_t>::max()) {
    return spread(LengthShape::normal, mean, stddev, min, max);
  }
  static LengthDistribution lognormal(double mean, double stddev, std::int64_t min = 1,
                                      std::int64_t max = std::numeric_limits<std::int32_t>::max()) {
    return spread(LengthShape::lognormal, mean, stddev, min, max);
  }

  // Throws std::invalid_argument naming the parameter that is out of range.
  void validate() const {
    auto fail = [](const std::string& why) { throw std::invalid_argument("servebench::LengthDistribution: " + why); };
    if (!(mean >= 1) || !std::isfinite(mean)) fail("the mean length must be >= 1");
    if (!(range_ratio >= 0 && range_ratio < 1)) fail("the range ratio must be in [0, 1)");
    if (!(stddev >= 0) || !std::isfinite(stddev)) fail("the standard deviation must be >= 0");
    if (min < 0 || max < min) fail("the bounds must satisfy 0 <= min <= max");
  }

  // The smallest and largest length a uniform draw gives (vLLM's bounds).
  std::pair<std::int64_t, std::int64_t> uniform_bounds() const {
    return {static_cast<std::int64_t>(std::floor(mean * (1 - range_ratio))),
            static_cast<std::int64_t>(std::ceil(mean * (1 + range_ratio)))};
  }

  // The length of draw `index` of stream `seed`; `salt` separates streams that share a seed (input from output).
  std::int64_t draw(std::uint64_t seed, std::uint64_t index, std::uint64_t salt = 0) const {
    const auto [u1, u2] = detail::uniform_pair(seed, index, salt);
    double x = mean;
    switch (shape) {
      case LengthShape::fixed: break;
      case LengthShape::uniform: {
        const auto [low, high] = uniform_bounds();
        const auto span = static_cast<double>(high - low + 1);
        x = static_cast<double>(low) + std::min(std::floor((1.0 - u1) * span), span - 1);
        break;
      }
      case LengthShape::normal: x = mean + stddev * standard_normal(u1, u2); break;
      case LengthShape::lognormal: {
        const double sigma2 = std::log1p((stddev * stddev) / (mean * mean));
        x = std::exp(std::log(mean) - sigma2 / 2 + std::sqrt(sigma2) * standard_normal(u1, u2));
        break;
      }
    }
    const double clamped = std::min(std::max(std::round(x), static_cast<double>(min)), static_cast<double>(max));
    return static_cast<std::int64_t>(clamped);
  }

 private:
  static double standard_normal(double u1, double u2) {  // Box-Muller, u1 in (0, 1]
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  static LengthDistribution spread(LengthShape shape, double mean, double stddev, std::int64_t min, std::int64_t max) {
    LengthDistribution d;
    d.shape = shape;
    d.mean = mean;
    d.stddev = stddev;
    d.min = min;
    d.max = max;
    d.validate();
    return d;
  }
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LengthDistribution*) {
  using D = LengthDistribution;
  return field_list<Deferred>(required("shape", &D::shape), required("mean", &D::mean),
                              field("range_ratio", &D::range_ratio), field("stddev", &D::stddev), field("min", &D::min),
                              field("max", &D::max));
}

}  // namespace servebench
// ---- end servebench/workload/lengths.hpp ----
// ---- begin servebench/workload/multiturn.hpp ----
// servebench — multi-turn conversations: `sessions` chats of `turns` turns, request s * turns + t carrying the whole
// history up to turn t (the user's turns and the assistant's earlier replies) as chat messages, so every turn's
// prompt grows and begins with the previous one's (what a prefix cache reuses). The assistant's earlier replies are
// synthetic text of the requested output length, so the workload stays a pure function of (seed, index); the
// replies the server actually gave are not fed back. Run it with ClosedLoop::sessions(turns, think_time), so that
// each worker sends one session's turns in order and concurrency means concurrent sessions; ttft_by_turn() gives
// the per-turn TTFT.
//
//   auto chats = servebench::multiturn_prompts(8, 4, 64, 32, /*seed=*/1);
//   run_closed_loop(ClosedLoop().concurrency(4).requests(32).sessions(4, 500ms), chats, chat_target);

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// ---- begin servebench/workload/tokenizer.hpp ----
// servebench — prompts of an exact length in tokens, as the server under test counts them, without a tokenizer on
// the client: the server's own POST /tokenize (vLLM, SGLang, llama.cpp, servebench::sim) is asked, and each prompt
// is grown or trimmed and counted again until it has exactly the requested tokens, as vLLM's benchmark aligns its
// prompts to the server's tokenizer. Every prompt is built before the run (nothing is tokenized while it runs) and
// carries the count in Prompt::input_tokens, which the scheduler copies into each record as n_in_expected so that
// the summary compares it with the usage.prompt_tokens the server reports (LevelSummary::input_length_mismatches).
// A server without a tokenizer endpoint gets the word approximation (one word per token), marked approximate.
//
//   servebench::ServerTokenizer tokenizer(options);                  // the target's DriverOptions
//   auto built = servebench::exact_length_prompts(tokenizer, 200, LengthDistribution::uniform(512, 0.5),
//                                                 LengthDistribution::fixed(128), /*seed=*/1);
//   built.workload; built.exact; built.note;

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>


namespace servebench {

// The tokenizer endpoints of one server. Not thread-safe (one HTTP client); build prompts before the run.
class ServerTokenizer {
 public:
  // `chat`: count as the chat endpoint will, the chat template's tokens included ({"messages": [...]}).
  explicit ServerTokenizer(const DriverOptions& options, bool chat = false)
      : url_(detail::parse_base_url(options.base_url())), model_(options.model()), chat_(chat),
        client_(detail::make_client(url_, options.tls())) {
    client_->set_connection_timeout(options.connect_timeout());
    client_->set_read_timeout(std::chrono::seconds(30));
    if (!options.api_key().empty()) client_->set_bearer_token_auth(options.api_key());
  }

  // Whether the server answers POST /tokenize with a token list; when not, why (for the artifact and the reader).
  bool available(std::string* why = nullptr) {
    if (!available_) {
      std::string reason;
      const auto body = ask("/tokenize", tokenize_body("servebench"), reason);
      available_ = body && token_ids(*body, reason);
      reason_ = reason;
    }
    if (why) *why = reason_;
    return *available_;
  }

  // The server's tokens for `text` (special tokens included, as its generation endpoints count them). Throws
  // WorkloadError naming the server and its answer when it has no tokenizer or refuses.
  std::vector<std::int64_t> tokenize(const std::string& text) {
    std::string why;
    auto body = ask("/tokenize", tokenize_body(text), why);
    std::optional<std::vector<std::int64_t>> ids;
    if (body) ids = token_ids(*body, why);
    if (!ids) throw WorkloadError(why);
    return std::move(*ids);
  }

  std::string detokenize(const std::vector<std::int64_t>& tokens) {
    std::string why;
    auto body = ask("/detokenize", {{"tokens", tokens}}, why);
    if (!body) throw WorkloadError(why);
    for (const char* key : {"prompt", "content", "text"}) {  // vLLM and SGLang, llama.cpp, others
      const auto it = body->find(key);
      if (it != body->end() && it->is_string()) return it->get<std::string>();
    }
    throw WorkloadError(where("/detokenize") + " answered without the text (\"prompt\" or \"content\")");
  }

  bool chat() const noexcept { return chat_; }
  std::string base_url() const { return url_.scheme + "://" + url_.host + ":" + std::to_string(url_.port); }

 private:
  nlohmann::json tokenize_body(const std::string& text) const {
    nlohmann::json body;
    if (chat_) {
      body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
      body["add_generation_prompt"] = true;
    } else {
      body["prompt"] = text;       // vLLM, SGLang
      body["content"] = text;      // llama.cpp
      body["add_special"] = true;  // llama.cpp: count the BOS its /completion adds (vLLM's default already does)
    }
    if (!model_.empty()) body["model"] = model_;
    return body;
  }

  std::string where(const char* path) const { return "the tokenizer at " + base_url() + url_.prefix + path; }

  // The token ids of a /tokenize answer: its "tokens", a list of integers; or nullopt and why.
  std::optional<std::vector<std::int64_t>> token_ids(const nlohmann::json& body, std::string& why) const {
    const auto tokens = body.find("tokens");
    bool ids = tokens != body.end() && tokens->is_array();
    for (std::size_t i = 0; ids && i < tokens->size(); ++i) ids = api::is_int64((*tokens)[i]);
    if (!ids) {
      why = where("/tokenize") +
            " answered without a \"tokens\" list of integer ids: " + detail::first_bytes(body.dump(), 160);
      return std::nullopt;
    }
    return tokens->get<std::vector<std::int64_t>>();
  }

  std::optional<nlohmann::json> ask(const char* path, const nlohmann::json& body, std::string& why) {
    const auto res = client_->Post((url_.prefix + path).c_str(), body.dump(), "application/json");
    if (!res) {
      why = where(path) + " cannot be reached (cpp-httplib error " + std::to_string(static_cast<int>(res.error())) +
            ")";
      return std::nullopt;
    }
    if (res->status != 200) {
      why = where(path) + " answered HTTP " + std::to_string(res->status) +
            (res->status == 404 ? " (the server has no tokenizer endpoint)" : "") + ": " +
            detail::first_bytes(res->body, 160);
      return std::nullopt;
    }
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      why = where(path) + " answered with something that is not a JSON object: " + detail::first_bytes(res->body, 160);
      return std::nullopt;
    }
    return j;
  }

  detail::BaseUrl url_;
  std::string model_;
  bool chat_;
  std::unique_ptr<httplib::Client> client_;
  std::optional<bool> available_;
  std::string reason_;
};

namespace detail {

// `words` synthetic words of stream (seed, index).
inline std::vector<std::string> synthetic_words(std::size_t words, std::uint64_t seed, std::uint64_t index) {
  std::uint64_t state = seed;
  state = splitmix64(state) ^ (index * 0xD1B54A32D192ED03ULL);
  std::vector<std::string> out;
  out.reserve(words);
  for (std::size_t w = 0; w < words; ++w)
    out.emplace_back(synthetic_vocabulary[splitmix64(state) % synthetic_vocabulary.size()]);
  return out;
}

inline std::string join_words(const std::vector<std::string>& words, std::size_t count) {
  std::string text;
  for (std::size_t i = 0; i < count && i < words.size(); ++i) {
    if (i) text += ' ';
    text += words[i];
  }
  return text;
}

inline std::string words_text(std::size_t words, std::uint64_t seed, std::uint64_t index) {
  return join_words(synthetic_words(words, seed, index), words);
}

}  // namespace detail

// Text of exactly `tokens` tokens as `tokenizer`'s server counts it: `lead` (a shared prefix; may be empty) and then
// the synthetic words of (seed, index). The detokenized first `tokens` tokens when they count back to the same
// number and keep `lead` (one request each way), else the longest prefix of whole words not over the count (a
// binary search), completed with a cut word or short words. Throws WorkloadError when no text of that count is
// found (the server's tokenizer then cannot make it from words, or `lead` alone is longer).
template <class = void>  // deferred: see serialize.hpp
std::string exact_length_text(ServerTokenizer& tokenizer, std::int64_t tokens, std::uint64_t seed, std::uint64_t index,
                              const std::string& lead = {}) {
  if (tokens < 1) throw std::invalid_argument("servebench::exact_length_text: tokens must be >= 1");
  auto count = [&](const std::string& text) { return static_cast<std::int64_t>(tokenizer.tokenize(text).size()); };
  auto joined = [&](const std::string& head, const std::string& tail) {
    return head.empty() ? tail : tail.empty() ? head : head + " " + tail;
  };
  std::vector<std::string> words;
  auto compose = [&](std::size_t k) { return joined(lead, detail::join_words(words, k)); };
  // Grow: enough words to reach the count.
  std::size_t n_words = static_cast<std::size_t>(tokens) + 8;
  std::vector<std::int64_t> ids;
  for (int grow = 0;; ++grow) {
    words = detail::synthetic_words(n_words, seed, index);
    ids = tokenizer.tokenize(compose(words.size()));
    if (static_cast<std::int64_t>(ids.size()) >= tokens) break;
    if (grow == 8)
      throw WorkloadError(tokenizer.base_url() + ": " + std::to_string(n_words) + " words count only " +
                          std::to_string(ids.size()) + " tokens; cannot reach " + std::to_string(tokens));
    n_words *= 2;
  }
  if (static_cast<std::int64_t>(ids.size()) == tokens) return compose(words.size());
  // Trim: the first `tokens` tokens' text, when it counts back the same and keeps the lead.
  {
    const std::string guess = tokenizer.detokenize({ids.begin(), ids.begin() + tokens});
    if (!guess.empty() && guess.rfind(lead, 0) == 0 && count(guess) == tokens) return guess;
  }
  // Otherwise the longest whole-word prefix with at most `tokens` tokens.
  std::size_t lo = 0, hi = words.size();  // count(compose(lo)) <= tokens < count(compose(hi)), lo = 0 aside
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    (count(compose(mid)) <= tokens ? lo : hi) = mid;
  }
  std::string text = compose(lo);
  std::int64_t have = text.empty() ? 0 : count(text);
  if (have == tokens) return text;
  if (have > tokens)
    throw WorkloadError(tokenizer.base_url() + ": the shared prefix alone has " + std::to_string(have) +
                        " tokens, more than the " + std::to_string(tokens) + " asked for");
  // Complete it: a cut of the next word, then short words, re-counted each time (bounded).
  const std::string& next = words[lo];
  for (std::size_t cut = 1; cut < next.size(); ++cut) {
    const std::string candidate = joined(text, next.substr(0, cut));
    const auto n = count(candidate);
    if (n == tokens) return candidate;
    if (n > tokens) break;
  }
  for (int attempt = 0; attempt < 64 && have < tokens; ++attempt) {
    bool grew = false;
    for (const char* word : {"a", "the", "of", "to", "in", "is", "I"}) {
      const std::string candidate = joined(text, word);
      const auto n = count(candidate);
      if (n == tokens) return candidate;
      if (n < tokens) {
        text = candidate;
        have = n;
        grew = true;
        break;
      }
    }
    if (!grew) break;
  }
  throw WorkloadError(tokenizer.base_url() + ": no prompt of exactly " + std::to_string(tokens) +
                      " tokens could be built from words (nearest below: " + std::to_string(have) + ")");
}

// What a built workload promises, for the artifact (RunMetadata::configuration["workload"]).
struct BuiltWorkload {
  Workload workload;
  bool exact = false;  // every prompt has exactly its input_tokens as the server counts them
  std::string note;    // for a person: which tokenizer counted, or why the lengths are approximate
  nlohmann::json description = nlohmann::json::object();
};

namespace detail {

// The data set of `prompts`, with the note on how their lengths were counted (`why`: why not exactly).
inline BuiltWorkload built_workload(std::vector<Prompt> prompts, std::string name, bool exact,
                                    const ServerTokenizer& tokenizer, const std::string& why) {
  std::string note = exact ? "input lengths exact: counted by " + tokenizer.base_url() + "/tokenize"
                           : "input lengths approximate (one word per token): " + why;
  return {fixed_prompts(std::move(prompts), std::move(name), /*cycles=*/false), exact, std::move(note), {}};
}

}  // namespace detail

// `count` prompts whose input lengths follow `input` exactly as the server counts them (its /tokenize), and whose
// max_tokens follow `output`; seeded, and cached per (server, length, index) for the life of the process, so a
// sweep over levels asks once. Without a tokenizer endpoint: `words` words per prompt, marked approximate.
template <class = void>  // deferred: see serialize.hpp
BuiltWorkload exact_length_prompts(ServerTokenizer& tokenizer, std::uint64_t count, const LengthDistribution& input,
                                   const LengthDistribution& output, std::uint64_t seed = 0,
                                   std::string name = "random") {
  input.validate();
  output.validate();
  if (count == 0) throw WorkloadError("servebench::exact_length_prompts: no requests asked for");
  static std::mutex cache_mutex;
  static std::map<std::tuple<std::string, bool, std::int64_t, std::uint64_t, std::uint64_t>, std::string> cache;
  std::string why;
  const bool exact = tokenizer.available(&why);
  std::vector<Prompt> prompts;
  prompts.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::int64_t n_in = input.draw(seed, i, 0x1A);
    Prompt p;
    p.max_tokens = static_cast<int>(std::max<std::int64_t>(1, output.draw(seed, i, 0x0B)));
    if (exact) {
      const auto key = std::make_tuple(tokenizer.base_url(), tokenizer.chat(), n_in, seed, i);
      std::unique_lock<std::mutex> lock(cache_mutex);
      auto it = cache.find(key);
      if (it == cache.end()) {
        lock.unlock();
        std::string text = exact_length_text(tokenizer, n_in, seed, i);
        lock.lock();
        it = cache.emplace(key, std::move(text)).first;
      }
      p.text = it->second;
      p.input_tokens = n_in;
    } else {
      p.text = detail::words_text(static_cast<std::size_t>(n_in), seed, i);
    }
    prompts.push_back(std::move(p));
  }
  BuiltWorkload built = detail::built_workload(std::move(prompts), std::move(name), exact, tokenizer, why);
  built.description = {{"dataset", built.workload.name()},
                       {"requests", count},
                       {"input_tokens", input},
                       {"output_tokens", output},
                       {"seed", seed},
                       {"input_lengths", exact ? "exact" : "approximate"},
                       {"note", built.note}};
  return built;
}

// Shared prefixes: `groups` groups of prompts, request i in group i % groups, each prompt the group's prefix of
// `prefix_tokens` tokens followed by `suffix_tokens` of its own, `prefix_tokens + suffix_tokens` in all as the server
// counts them (exactly, with a tokenizer endpoint; else in words, approximate). A batching engine with a prefix
// cache prefills the prefix once per group; the server's cached_tokens (LevelSummary::prefix_hit_rate) shows it.
template <class = void>  // deferred: see serialize.hpp
BuiltWorkload shared_prefix_prompts(ServerTokenizer& tokenizer, std::uint64_t count, std::uint64_t groups,
                                    std::int64_t prefix_tokens, std::int64_t suffix_tokens,
                                    const LengthDistribution& output, std::uint64_t seed = 0) {
  output.validate();
  if (count == 0 || groups == 0 || prefix_tokens < 1 || suffix_tokens < 1)
    throw WorkloadError("servebench::shared_prefix_prompts: requests, groups, prefix and suffix tokens must be >= 1");
  std::string why;
  const bool exact = tokenizer.available(&why);
  std::vector<std::string> prefixes;
  for (std::uint64_t g = 0; g < groups; ++g) {
    const std::uint64_t group_seed = seed ^ (0x9F1C0000ULL + g);
    prefixes.push_back(exact ? exact_length_text(tokenizer, prefix_tokens, group_seed, g)
                             : detail::words_text(static_cast<std::size_t>(prefix_tokens), group_seed, g));
  }
  std::vector<Prompt> prompts;
  for (std::uint64_t i = 0; i < count; ++i) {
    Prompt p;
    p.max_tokens = static_cast<int>(std::max<std::int64_t>(1, output.draw(seed, i, 0x0B)));
    const std::string& prefix = prefixes[static_cast<std::size_t>(i % groups)];
    if (exact) {
      p.text = exact_length_text(tokenizer, prefix_tokens + suffix_tokens, seed, i, prefix);
      p.input_tokens = prefix_tokens + suffix_tokens;
    } else {
      p.text = prefix + " " + detail::words_text(static_cast<std::size_t>(suffix_tokens), seed, i);
    }
    prompts.push_back(std::move(p));
  }
  BuiltWorkload built = detail::built_workload(std::move(prompts), "prefix", exact, tokenizer, why);
  built.description = {{"dataset", "prefix"},
                       {"requests", count},
                       {"groups", groups},
                       {"prefix_tokens", prefix_tokens},
                       {"suffix_tokens", suffix_tokens},
                       {"output_tokens", output},
                       {"seed", seed},
                       {"input_lengths", exact ? "exact" : "approximate"},
                       {"note", built.note}};
  return built;
}

}  // namespace servebench
// ---- end servebench/workload/tokenizer.hpp ----

namespace servebench {

// User turns of `user_words` synthetic words, assistant replies of `reply_tokens` words and max_tokens; a data set
// of sessions * turns requests.
template <class = void>  // deferred: see serialize.hpp
Workload multiturn_prompts(std::uint64_t sessions, std::uint64_t turns, std::size_t user_words, int reply_tokens,
                           std::uint64_t seed = 0) {
  if (sessions == 0 || turns == 0 || user_words == 0)
    throw WorkloadError("servebench::multiturn_prompts: sessions, turns and words per turn must be >= 1");
  detail::check_max_tokens(reply_tokens, "multiturn_prompts");
  return Workload(
      [turns, user_words, reply_tokens, seed](std::uint64_t i) {
        const std::uint64_t session = i / turns, turn = i % turns;
        Prompt p;
        p.max_tokens = reply_tokens;
        for (std::uint64_t t = 0; t <= turn; ++t) {
          const std::uint64_t stream = session * turns + t;
          p.messages.push_back({"user", detail::words_text(user_words, seed, stream)});
          if (t < turn)
            p.messages.push_back(
                {"assistant", detail::words_text(static_cast<std::size_t>(reply_tokens), seed ^ 0xA5515ULL, stream)});
        }
        for (std::size_t m = 0; m < p.messages.size(); ++m) p.text += (m ? "\n" : "") + p.messages[m].content;
        return p;
      },
      sessions * turns, "multiturn", /*cycles=*/false);
}

// TTFT of the successful streamed records by turn (record index % turns); an empty entry for a turn without any.
template <class Records = std::vector<RequestRecord>>
std::vector<std::optional<Summary>> ttft_by_turn(const Records& records, std::uint64_t turns,
                                                 PercentileMethod method = PercentileMethod::linear) {
  std::vector<std::vector<double>> by_turn(static_cast<std::size_t>(turns));
  for (const auto& r : records)
    if (!r.warmup && r.ok() && r.streamed) by_turn[static_cast<std::size_t>(r.index % turns)].push_back(r.ttft_s());
  std::vector<std::optional<Summary>> out;
  for (auto& v : by_turn) {
    if (v.empty())
      out.emplace_back();
    else
      out.emplace_back(summarize_samples(std::move(v), method));
  }
  return out;
}

}  // namespace servebench
// ---- end servebench/workload/multiturn.hpp ----
// ---- begin servebench/workload/trace.hpp ----
// servebench — trace replay: a JSONL file of arrivals with their lengths, in the Mooncake trace format
// ({"timestamp": ms, "input_length": tokens, "output_length": tokens, "hash_ids": [block ids]}), becomes the arrival
// schedule of an open loop (OpenLoop::schedule) and the prompts sent at those times: exact input lengths where the
// server has a tokenizer endpoint, and prompts whose hash_ids agree sharing the text of those blocks (Mooncake's
// blocks are 512 tokens), so a prefix cache sees the reuse the trace recorded.
//
//   auto trace = servebench::read_trace("mooncake_trace.jsonl");
//   auto built = servebench::trace_prompts(tokenizer, trace);
//   run_open_loop(OpenLoop().schedule(trace.offsets), built.workload, target);

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>


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
// ---- end servebench/workload/trace.hpp ----
// ---- end servebench/workloads.hpp ----
