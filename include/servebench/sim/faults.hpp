// servebench::sim — fault injection: one request's draw of faults (FaultPlan, fixed by the server's seed and the
// request's arrival number, so a test can recompute what any reply got), and the named points of a reply where a
// drawn fault acts. The server asks the plan at each point and reads it no other way.
//
//   before_generation   http_500, http_503: the request is answered with that status at once, nothing generated
//   before_first_token  stall, jitter: the first token waits (streaming: its event; whole reply: the body)
//   mid_reply           malformed_json: the middle part is cut in half; drop_mid_stream: the connection closes
//                       before it. The middle part of a stream is the event of token n / 2, of a whole reply its
//                       body (the drop then sends the first half of the bytes Content-Length promised).
//   before_last_token   slow_reply: the last token is held until slow_reply_s after the request arrived
//
// Every fault a plan holds is counted in ServerStats::faults when the request arrives (injected_kinds), whether or
// not the reply later gets as far as the point where it acts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../record.hpp"
#include "config.hpp"
#include "random.hpp"

namespace servebench {
namespace sim {
namespace detail {

// One request's draw of faults.
struct FaultPlan {
  enum class Exclusive { none, http_500, http_503, malformed_json, drop_mid_stream } exclusive = Exclusive::none;
  double first_token_delay_s = 0;  // stall + jitter
  bool stalled = false;
  double slow_until_s = 0;  // hold the last token until this long after arrival (0: no)

  // The kinds injected into this request, as ServerStats::faults names them. A request answered 500 or 503 gets
  // nothing else: it never reaches a token.
  std::vector<const char*> injected_kinds() const {
    if (exclusive == Exclusive::http_500) return {fault_http_500};
    if (exclusive == Exclusive::http_503) return {fault_http_503};
    std::vector<const char*> kinds;
    if (stalled) kinds.push_back(fault_stall);
    if (slow_until_s > 0) kinds.push_back(fault_slow_reply);
    if (exclusive == Exclusive::malformed_json) kinds.push_back(fault_malformed_json);
    if (exclusive == Exclusive::drop_mid_stream) kinds.push_back(fault_drop_mid_stream);
    return kinds;
  }

  // before_generation: the HTTP status to answer instead of generating, or 0 to generate.
  int status_before_generation() const {
    if (exclusive == Exclusive::http_500) return 500;
    if (exclusive == Exclusive::http_503) return 503;
    return 0;
  }

  // before_first_token: real seconds the first token waits.
  double first_token_wait_s() const { return first_token_delay_s; }

  // mid_reply: what happens to the middle part of the reply.
  enum class MidReply { intact, cut, drop };
  MidReply mid_reply() const {
    if (exclusive == Exclusive::malformed_json) return MidReply::cut;
    if (exclusive == Exclusive::drop_mid_stream) return MidReply::drop;
    return MidReply::intact;
  }
  // Whether token `i` of `n` is the middle one, whose event a streaming mid_reply fault acts on.
  static bool is_middle_token(std::int64_t i, std::int64_t n) { return i == n / 2; }

  // before_last_token: the real time (steady clock) until which the last token is held, or 0 when it is not.
  Nanos last_token_held_until(Nanos arrival) const {
    return slow_until_s > 0 ? arrival + static_cast<Nanos>(slow_until_s * 1e9) : 0;
  }
};

// A malformed part: its first half.
inline void cut_in_half(std::string& part) { part.resize(part.size() / 2); }

inline FaultPlan draw_faults(const FaultConfig& f, std::uint64_t seed, std::uint64_t request_number) {
  Rng rng(splitmix64(seed ^ 0xFA017ULL) ^ splitmix64(request_number));
  FaultPlan plan;
  const double u = rng.uniform();
  double edge = f.http_500_rate;
  if (u < edge)
    plan.exclusive = FaultPlan::Exclusive::http_500;
  else if (u < (edge += f.http_503_rate))
    plan.exclusive = FaultPlan::Exclusive::http_503;
  else if (u < (edge += f.malformed_json_rate))
    plan.exclusive = FaultPlan::Exclusive::malformed_json;
  else if (u < (edge += f.drop_mid_stream_rate))
    plan.exclusive = FaultPlan::Exclusive::drop_mid_stream;
  if (rng.uniform() < f.stall_rate) {
    plan.stalled = true;
    plan.first_token_delay_s += f.stall_s;
  }
  plan.first_token_delay_s += f.jitter_s * rng.uniform();
  if (rng.uniform() < f.slow_reply_rate) plan.slow_until_s = f.slow_reply_s;
  return plan;
}

}  // namespace detail
}  // namespace sim
}  // namespace servebench
