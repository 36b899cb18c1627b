// Test support: every response of a connection's reply stream read with Http1Response as a transport would (fed in
// pieces, reset() after each response that is done, on_eof() at the end), with the parser's promises checked on
// the way. Shared by tests/unit_http1.cpp, tests/fuzz/fuzz_http1.cpp and tests/http1_decode.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <servebench/event_loop/http1.hpp>

namespace servebench::testing {

// Everything the parser said about one response.
struct Http1Reply {
  int heads = 0;           // on_head calls
  int status_at_head = 0;  // status() inside on_head
  std::string body;        // the on_body pieces joined
  std::uint64_t body_bytes = 0;
  detail::Http1Response::State state = detail::Http1Response::State::head;
  std::string error;
  int status = 0;
  bool keep_alive = false;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  std::size_t consumed = 0;  // of the stream, by every feed of this response together

  bool operator==(const Http1Reply& o) const {
    return heads == o.heads && status_at_head == o.status_at_head && body == o.body && body_bytes == o.body_bytes &&
           state == o.state && error == o.error && status == o.status && keep_alive == o.keep_alive &&
           content_length == o.content_length && chunked == o.chunked && consumed == o.consumed;
  }
};

// Reads `wire` cut into pieces at `cuts` (ascending offsets), one response after another, until one fails or the
// bytes end; then, when `eof`, the peer's close. A response not begun when the bytes end is left out (the stream
// ended between responses), unless it is the only one. check(condition, what) is called with each promise:
// feed consumes at most what it is given, and all of it unless the response ended or failed; on_body pieces are
// never empty and lie inside the bytes fed; body_bytes() is their sum; on_head comes once, with a status; an error
// names itself and keeps no connection alive.
template <class Check>
std::vector<Http1Reply> read_http1_replies(std::string_view wire, const std::vector<std::size_t>& cuts, bool eof,
                                           std::size_t max_head_bytes, Check&& check) {
  using State = detail::Http1Response::State;
  detail::Http1Response parser(max_head_bytes);
  std::vector<Http1Reply> replies(1);
  std::string_view fed;
  auto on_head = [&] {
    Http1Reply& r = replies.back();
    ++r.heads;
    r.status_at_head = parser.status();
    check(r.heads == 1, "on_head comes once");
    check(parser.status() >= 100 && parser.status() <= 999, "on_head comes with a status");
  };
  auto on_body = [&](const char* p, std::size_t n) {
    check(n > 0 && p >= fed.data() && p + n <= fed.data() + fed.size(), "a body piece lies inside the bytes fed");
    replies.back().body.append(p, n);
  };
  auto close = [&] {
    Http1Reply& r = replies.back();
    r.body_bytes = parser.body_bytes();
    r.state = parser.state();
    r.error = parser.error();
    r.status = parser.status();
    r.keep_alive = parser.keep_alive();
    r.content_length = parser.content_length();
    r.chunked = parser.chunked();
    check(r.body_bytes == r.body.size(), "body_bytes() is the sum of the pieces");
    check((r.state == State::error) == !r.error.empty(), "an error, and only an error, has a message");
    check(r.state != State::error || !r.keep_alive, "an error keeps no connection alive");
  };
  std::size_t from = 0;
  for (std::size_t k = 0; k <= cuts.size(); ++k) {
    const std::size_t to = k < cuts.size() ? cuts[k] : wire.size();
    fed = wire.substr(from, to - from);
    from = to;
    while (!fed.empty()) {  // one piece may end a response and begin the next
      const std::size_t took = parser.feed(fed, on_head, on_body);
      check(took <= fed.size(), "feed consumes at most what it is given");
      replies.back().consumed += took;
      fed.remove_prefix(took);
      if (parser.state() == State::error) {
        close();
        return replies;
      }
      if (parser.state() != State::done) {
        check(fed.empty(), "feed consumes everything unless the response ended");
        break;
      }
      close();
      parser.reset();
      replies.emplace_back();
    }
  }
  if (!parser.started() && replies.size() > 1) {
    replies.pop_back();
    return replies;
  }
  if (eof) parser.on_eof();
  close();
  return replies;
}

}  // namespace servebench::testing
