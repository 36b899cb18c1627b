// libFuzzer target: the HTTP/1.1 response parser. The bytes are a connection's whole reply stream (any number of
// responses, read one after another with reset() between them, then the peer's close). Fed whole, in two pieces cut
// at a point taken from the first byte, and one byte at a time, they must give the same responses: the same head,
// body, state, error and keep-alive. Every feed consumes at most what it was given, and all of it unless the
// response ended or failed; body_bytes() is the sum of the on_body pieces, which are never empty and lie inside the
// bytes fed; an error always names itself and never keeps the connection alive.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <servebench/event_loop/http1.hpp>

namespace {

using servebench::detail::Http1Response;
using State = Http1Response::State;

struct Reply {
  int heads = 0;
  int status = 0;
  std::string body;
  State state = State::head;
  std::string error;
  bool keep_alive = false;
  std::size_t consumed = 0;

  bool operator==(const Reply& o) const {
    return heads == o.heads && status == o.status && body == o.body && state == o.state && error == o.error &&
           keep_alive == o.keep_alive && consumed == o.consumed;
  }
};

void check(bool condition) {
  if (!condition) std::abort();
}

// Reads every response of `wire`, fed in pieces of at most `piece` bytes (0: whole, else the first piece ends at
// `first_cut`); the last one sees the peer's close.
std::vector<Reply> parse_all(std::string_view wire, std::size_t first_cut, std::size_t piece, std::size_t max_head) {
  Http1Response parser(max_head);
  std::vector<Reply> replies(1);
  std::uint64_t body_sum = 0;
  auto on_head = [&] {
    ++replies.back().heads;
    check(parser.status() >= 100 && parser.status() <= 999);
    check(parser.state() == State::body || parser.state() == State::done);
  };
  std::string_view fed;
  auto on_body = [&](const char* p, std::size_t n) {
    check(n > 0 && p >= fed.data() && p + n <= fed.data() + fed.size());
    replies.back().body.append(p, n);
    body_sum += n;
  };
  auto close = [&](Reply& r) {
    check(parser.body_bytes() == body_sum && r.body.size() == body_sum);
    check(r.heads <= 1);
    r.state = parser.state();
    r.error = parser.error();
    r.status = parser.status();
    r.keep_alive = parser.keep_alive();
    check((r.state == State::error) == !r.error.empty());
    if (r.state == State::error) check(!r.keep_alive);
  };
  std::size_t from = 0;
  while (from < wire.size()) {
    std::size_t n = wire.size() - from;
    if (piece != 0) n = from == 0 && first_cut != 0 ? first_cut : piece;
    if (n > wire.size() - from) n = wire.size() - from;
    fed = wire.substr(from, n);
    // One piece may finish a response and start the next.
    while (!fed.empty()) {
      const std::size_t took = parser.feed(fed, on_head, on_body);
      check(took <= fed.size());
      replies.back().consumed += took;
      fed.remove_prefix(took);
      if (parser.state() == State::error) {
        close(replies.back());
        return replies;
      }
      if (parser.state() != State::done) {
        check(fed.empty());
        break;
      }
      check(took > 0 || replies.back().consumed > 0);
      close(replies.back());
      parser.reset();
      body_sum = 0;
      replies.emplace_back();
    }
    from += n;
  }
  parser.on_eof();
  close(replies.back());
  return replies;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first byte picks the cut, the second the head limit (small ones reach the limits' errors); the rest is the
  // wire.
  const std::string_view wire(reinterpret_cast<const char*>(data) + 2, size - 2);
  static const std::size_t limits[] = {16, 64, 512, 64 * 1024};
  const std::size_t max_head = limits[data[1] % 4];
  const std::size_t cut = wire.size() * data[0] / 256;

  const auto whole = parse_all(wire, 0, 0, max_head);
  const auto halves = parse_all(wire, cut, wire.size(), max_head);
  const auto bytewise = parse_all(wire, 0, 1, max_head);
  check(whole == halves);
  check(whole == bytewise);
  std::size_t consumed = 0;
  for (const Reply& r : whole) consumed += r.consumed;
  check(consumed <= wire.size());
  // Only a failed response leaves bytes unread.
  if (whole.back().state != State::error) check(consumed == wire.size());
  return 0;
}
