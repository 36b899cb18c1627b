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
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../record.hpp"
#include "../stats.hpp"
#include "../workload.hpp"
#include "tokenizer.hpp"

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
