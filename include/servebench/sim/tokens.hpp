// servebench::sim — the simulated tokenizer: how long a prompt is in tokens, and the text of each generated token.
// One pseudo-word per token, deterministic in (seed, prompt, position) as greedy decoding is, so a reply's
// completion_tokens is exact and the same prompt always gets the same words.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "random.hpp"

namespace servebench {
namespace sim {
namespace detail {

// Prompt length in pseudo-tokens: about four bytes a token, as BPE tokenizers average on English text.
inline std::int64_t count_prompt_tokens(const std::string& text) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>((text.size() + 3) / 4));
}

// What a chat template adds per message (role markers), as Llama 3's adds about 4: template tokens have id 0.
inline constexpr std::int64_t chat_template_tokens = 4;

// The pseudo-tokens themselves, as POST /tokenize returns them: each id packs up to four bytes of the text
// (little-endian), so /detokenize gives the text back exactly and tokenize(t).size() == count_prompt_tokens(t).
// The empty text is one token, id 0 (as a tokenizer's beginning-of-sequence token), whose text is empty.
inline std::vector<std::int64_t> tokenize(const std::string& text) {
  std::vector<std::int64_t> ids;
  ids.reserve(text.size() / 4 + 1);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t id = 0;
    for (std::size_t b = 0; b < 4 && i + b < text.size(); ++b)
      id |= static_cast<std::uint32_t>(static_cast<unsigned char>(text[i + b])) << (8 * b);
    ids.push_back(id);
  }
  if (ids.empty()) ids.push_back(0);
  return ids;
}

// The text of `ids`; false when an id is not one tokenize() can give (negative, or above 32 bits).
inline bool detokenize(const std::vector<std::int64_t>& ids, std::string& text) {
  text.clear();
  for (const auto id : ids) {
    if (id < 0 || id > 0xFFFFFFFFLL) return false;
    for (int b = 0; b < 4; ++b) {
      const auto byte = static_cast<char>((static_cast<std::uint64_t>(id) >> (8 * b)) & 0xFF);
      if (byte == 0) break;
      text += byte;
    }
  }
  return true;
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
