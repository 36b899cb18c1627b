// servebench — workloads: where prompts come from.
//
// A Workload is a random-access source of prompts: `at(index)` gives the prompt for request `index`. Schedulers pull
// from it by index from several threads at once, so every workload is immutable once built and `at` is const. A
// workload is either finite (`size()` has a value) or infinite (`size()` is empty: templates and synthetic prompts).
// A finite workload either cycles (`at` wraps around, so a three-prompt list can feed a hundred requests: lists and
// templates) or is a data set that refuses to (files, built prompts): a run that asks for more requests than it
// holds fails before sending anything, unless the data set was sampled with replacement to the run's size
// (workload/datasets.hpp). Everything is deterministic: the same workload (and seed) gives the same prompt at the
// same index on every run and every platform.
//
//   auto list   = servebench::fixed_prompts({"Explain attention.", "What is a KV cache?"}, 100);
//   auto conc   = servebench::template_prompts("Question {i}: Explain concept {i} briefly.", 50);
//   auto file   = servebench::jsonl_prompts("prompts.jsonl");           // {"prompt": "...", "max_tokens": 64}
//   auto synth  = servebench::synthetic_prompts(200, 128, /*seed=*/1);  // 200-word prompts
#pragma once

#include <array>
#include <cstdint>
#include <fstream>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "deferred.hpp"

namespace servebench {

// One message of a chat history.
struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// One request to make: the prompt and its generation length.
struct Prompt {
  std::string text;  // with `messages`: their contents, one per line, for dialects that take a single text
  int max_tokens = 100;
  // The prompt's length in tokens as the server counts it, when the workload built it to that length from the
  // server's tokenizer (workload/tokenizer.hpp); -1 otherwise. Records carry it as n_in_expected.
  std::int64_t input_tokens = -1;
  // A chat history (multi-turn conversations, JSONL {"messages"}): the chat dialect sends it as it is; empty: one
  // user message of `text`.
  std::vector<ChatMessage> messages = {};
};

// Thrown when a workload cannot be built: a file that cannot be read, a bad JSONL line (the message names the file
// and the 1-based line number), an empty list.
struct WorkloadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Workload {
 public:
  using Generator = std::function<Prompt(std::uint64_t index)>;

  // `generator` must be safe to call from several threads at once (schedulers do) and must depend only on the index.
  // `size` empty: infinite. A finite workload calls the generator with index % size when it `cycles`; one that
  // does not throws WorkloadError for an index past its end (the schedulers check before a run that it is not).
  template <class Deferred = void>  // deferred: see serialize.hpp
  Workload(Generator generator, std::optional<std::uint64_t> size = std::nullopt, std::string name = {},
           bool cycles = true)
      : generator_(std::make_shared<const deferred<Generator, Deferred>>(std::move(generator))), size_(size),
        name_(std::move(name)), cycles_(cycles) {
    if (!*generator_) throw std::invalid_argument("servebench::Workload: empty generator");
    if (size_ && *size_ == 0) throw WorkloadError("servebench::Workload '" + name_ + "' has no prompts");
  }

  Prompt at(std::uint64_t index) const {
    if (size_ && !cycles_ && index >= *size_) throw WorkloadError(too_few(index + 1));
    return (*generator_)(size_ ? index % *size_ : index);
  }
  std::optional<std::uint64_t> size() const noexcept { return size_; }
  bool infinite() const noexcept { return !size_; }
  bool cycles() const noexcept { return cycles_; }
  const std::string& name() const noexcept { return name_; }

  // Throws WorkloadError when `requests` requests would run past the end of a data set that does not cycle.
  void check_enough(std::uint64_t requests) const {
    if (size_ && !cycles_ && requests > *size_) throw WorkloadError(too_few(requests));
  }

  // The first `count` prompts (wrapping for a finite workload), e.g. to print or save what a run will send.
  template <class = void>  // deferred: see serialize.hpp
  std::vector<Prompt> take(std::uint64_t count) const {
    std::vector<Prompt> out;
    out.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) out.push_back(at(i));
    return out;
  }

 private:
  std::string too_few(std::uint64_t requests) const {
    return "servebench: the data set '" + name_ + "' holds " + std::to_string(*size_) + " prompts but the run needs " +
           std::to_string(requests) +
           "; ask for fewer requests, or sample it with replacement (--sample-with-replacement)";
  }

  std::shared_ptr<const Generator> generator_;  // shared: copies of a workload are cheap and see the same prompts
  std::optional<std::uint64_t> size_;
  std::string name_;
  bool cycles_ = true;
};

namespace detail {

// splitmix64: a tiny, fully specified mixer, so seeded prompts are the same on every standard library (the
// distributions of <random> are not).
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline void replace_all(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

inline void check_max_tokens(int max_tokens, const char* who) {
  if (max_tokens <= 0) throw std::invalid_argument(std::string("servebench::") + who + ": max_tokens must be > 0");
}

// Ordinary English words, so synthetic prompts tokenize roughly like prose (about 1.3 tokens per word on
// Llama-family tokenizers) rather than like random characters, which would inflate the token count.
inline constexpr std::array<const char*, 64> synthetic_vocabulary{
    "the",     "model",    "server",    "request",  "answer",  "question", "data",    "system", "time",   "network",
    "memory",  "layer",    "attention", "token",    "batch",   "engine",   "explain", "simple", "large",  "small",
    "quickly", "slowly",   "because",   "which",    "between", "about",    "through", "under",  "after",  "before",
    "while",   "where",    "people",    "learn",    "build",   "measure",  "compare", "result", "number", "value",
    "history", "science",  "river",     "mountain", "city",    "language", "music",   "garden", "write",  "read",
    "think",   "describe", "example",   "detail",   "reason",  "method",   "every",   "other",  "first",  "second",
    "several", "many",     "often",     "always",
};

}  // namespace detail

// A fixed list of prompts, used in order and wrapped around (or, with `cycles` false, a data set that refuses to).
template <class = void>  // deferred: see serialize.hpp
Workload fixed_prompts(std::vector<Prompt> prompts, std::string name = "fixed", bool cycles = true) {
  if (prompts.empty()) throw WorkloadError("servebench::fixed_prompts: the list is empty");
  for (const auto& p : prompts) detail::check_max_tokens(p.max_tokens, "fixed_prompts");
  const auto size = static_cast<std::uint64_t>(prompts.size());
  // The generator holds the prompts; copies of the workload share the generator.
  return Workload([prompts = std::move(prompts)](std::uint64_t i) { return prompts[static_cast<std::size_t>(i)]; },
                  size, std::move(name), cycles);
}

template <class = void>  // deferred: see serialize.hpp
Workload fixed_prompts(const std::vector<std::string>& texts, int max_tokens, std::string name = "fixed") {
  std::vector<Prompt> prompts;
  prompts.reserve(texts.size());
  for (const auto& t : texts) prompts.push_back(Prompt{t, max_tokens});
  return fixed_prompts(std::move(prompts), std::move(name));
}

// `pattern` with every "{i}" replaced by the request index (0, 1, 2, ...), like the lab's f-string. Infinite unless
// `count` is given, in which case it wraps after `count` prompts.
template <class = void>  // deferred: see serialize.hpp
Workload template_prompts(std::string pattern, int max_tokens, std::optional<std::uint64_t> count = std::nullopt,
                          std::string name = "template") {
  detail::check_max_tokens(max_tokens, "template_prompts");
  return Workload(
      [pattern = std::move(pattern), max_tokens](std::uint64_t i) {
        Prompt p{pattern, max_tokens};
        detail::replace_all(p.text, "{i}", std::to_string(i));
        return p;
      },
      count, std::move(name));
}

// Parses JSON Lines: one object per line, {"prompt": string | "messages": [{"role", "content"}, ...], "max_tokens":
// positive integer (optional, else `default_max_tokens`)}. Blank lines are skipped. `source_name` names the input in
// error messages.
template <class Json = nlohmann::json>  // deferred: see serialize.hpp
std::vector<Prompt> parse_jsonl_prompts(std::istream& in, const std::string& source_name,
                                        int default_max_tokens = 100) {
  detail::check_max_tokens(default_max_tokens, "parse_jsonl_prompts");
  std::vector<Prompt> prompts;
  std::string line;
  std::size_t line_number = 0;
  auto fail = [&](const std::string& why) {
    throw WorkloadError(source_name + ":" + std::to_string(line_number) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // files written on Windows
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const typename Json::exception& e) {
      // Not only parse_error: a number too large for a double (1e400) is out_of_range (found by fuzzing).
      fail(std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) fail("expected a JSON object with a \"prompt\" or \"messages\" field");
    Prompt p;
    p.max_tokens = default_max_tokens;
    auto prompt = j.find("prompt");
    auto messages = j.find("messages");
    if (prompt != j.end()) {
      if (!prompt->is_string()) fail("field \"prompt\" must be a string");
      p.text = prompt->template get<std::string>();
    } else if (messages != j.end()) {
      if (!messages->is_array() || messages->empty()) fail("field \"messages\" must be a non-empty list");
      for (std::size_t m = 0; m < messages->size(); ++m) {
        const auto& message = (*messages)[m];
        const std::string at = "field \"messages[" + std::to_string(m) + "]";
        if (!message.is_object()) fail(at + "\" must be an object {\"role\", \"content\"}");
        const auto role = message.find("role"), content = message.find("content");
        if (role == message.end() || !role->is_string()) fail(at + ".role\" must be a string");
        if (content == message.end() || !content->is_string()) fail(at + ".content\" must be a string");
        p.messages.push_back({role->template get<std::string>(), content->template get<std::string>()});
        p.text += (m ? "\n" : "") + p.messages.back().content;
      }
    } else {
      fail("missing field \"prompt\" (or \"messages\")");
    }
    auto max_tokens = j.find("max_tokens");
    if (max_tokens != j.end() && !max_tokens->is_null()) {
      if (!max_tokens->is_number_integer()) fail("field \"max_tokens\" must be an integer");
      const auto value = max_tokens->template get<std::int64_t>();
      if (value <= 0 || value > 1'000'000'000) fail("field \"max_tokens\" must be a positive integer");
      p.max_tokens = static_cast<int>(value);
    }
    prompts.push_back(std::move(p));
  }
  if (in.bad()) throw WorkloadError(source_name + ": read error");
  if (prompts.empty()) throw WorkloadError(source_name + ": no prompts");
  return prompts;
}

// A JSONL file of {"prompt", "max_tokens"} records, read once up front (a bad line fails here, not mid-run). A data
// set: it does not wrap (see the top of the file).
template <class = void>  // deferred: see serialize.hpp
Workload jsonl_prompts(const std::string& path, int default_max_tokens = 100) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WorkloadError(path + ": cannot open");
  return fixed_prompts(parse_jsonl_prompts(in, path, default_max_tokens), path, /*cycles=*/false);
}

// Prompts of exactly `words` words drawn from a fixed vocabulary, different for every index, the same for the same
// (seed, index) on every platform. Infinite. For input-length experiments without a data set.
template <class = void>  // deferred: see serialize.hpp
Workload synthetic_prompts(std::size_t words, int max_tokens, std::uint64_t seed = 0, std::string name = "synthetic") {
  detail::check_max_tokens(max_tokens, "synthetic_prompts");
  if (words == 0) throw std::invalid_argument("servebench::synthetic_prompts: words must be > 0");
  return Workload(
      [words, max_tokens, seed](std::uint64_t i) {
        // One independent stream per (seed, index): random access, no shared state between threads.
        std::uint64_t state = seed;
        state = detail::splitmix64(state) ^ (i * 0xD1B54A32D192ED03ULL);
        Prompt p{{}, max_tokens};
        p.text.reserve(words * 8);
        for (std::size_t w = 0; w < words; ++w) {
          if (w) p.text += ' ';
          p.text += detail::synthetic_vocabulary[detail::splitmix64(state) % detail::synthetic_vocabulary.size()];
        }
        return p;
      },
      std::nullopt, std::move(name));
}

}  // namespace servebench
