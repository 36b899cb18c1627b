// servebench::sim — the simulated tokenizer: how long a prompt is in tokens, and the text of each generated token.
// One pseudo-word per token, deterministic in (seed, prompt, position) as greedy decoding is, so a reply's
// completion_tokens is exact and the same prompt always gets the same words.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "random.hpp"

namespace servebench {
namespace sim {
namespace detail {

// Prompt length in pseudo-tokens: about four bytes a token, as BPE tokenizers average on English text.
inline std::int64_t count_prompt_tokens(const std::string& text) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>((text.size() + 3) / 4));
}

// Token i of a reply: one word, deterministic in (seed, prompt, i), as greedy decoding is.
inline std::string token_text(std::uint64_t seed, std::uint64_t prompt_hash, std::int64_t i, bool leading_space) {
  static const char* const words[] = {
      "the",    "model",    "attention", "layer",     "token",     "weights",  "query",    "key",
      "value",  "sequence", "encoder",   "decoder",   "softmax",   "vector",   "context",  "head",
      "learns", "each",     "position",  "signal",    "embedding", "gradient", "training", "data",
      "output", "input",    "network",   "transform", "scale",     "norm",     "residual", "stream",
      "batch",  "cache",    "compute",   "memory",    "of",        "and",      "to",       "in",
      "is",     "that",     "with",      "for",       "as",        "by",       "on",       "a",
      "which",  "from",     "this",      "its",       "are",       "can",      "each",     "word",
      "step",   "then",     "more",      "when",      "how",       "it",       "all",      "logits"};
  constexpr std::size_t n_words = sizeof(words) / sizeof(words[0]);
  const auto h = splitmix64(seed ^ prompt_hash ^ splitmix64(static_cast<std::uint64_t>(i)));
  return (leading_space ? std::string(" ") : std::string()) + words[h % n_words];
}

}  // namespace detail
}  // namespace sim
}  // namespace servebench
