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
#pragma once

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

#include "../driver.hpp"
#include "../url.hpp"
#include "../workload.hpp"
#include "lengths.hpp"

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
