// libFuzzer target: the HTTP/1.1 response parser. The bytes are a connection's whole reply stream (any number of
// responses, read one after another with reset() between them, then the peer's close). Fed whole, in two pieces cut
// at a point taken from the first byte, and one byte at a time, they must give the same responses: the same head,
// body, state, error and keep-alive. On the way tests/support/http1_replies.hpp checks the parser's promises: every
// feed consumes at most what it was given (all of it unless the response ended or failed), body_bytes() is the sum
// of the on_body pieces (never empty, inside the bytes fed), an error names itself and keeps no connection alive.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "../support/http1_replies.hpp"

namespace {

void check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_http1: broken promise: %s\n", what);
  std::abort();
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

  using servebench::testing::read_http1_replies;
  const auto whole = read_http1_replies(wire, {}, true, max_head, check);
  std::vector<std::size_t> halves;
  if (cut > 0) halves.push_back(cut);
  std::vector<std::size_t> bytes;
  for (std::size_t i = 1; i < wire.size(); ++i) bytes.push_back(i);
  check(read_http1_replies(wire, halves, true, max_head, check) == whole, "two pieces give what the whole gives");
  check(read_http1_replies(wire, bytes, true, max_head, check) == whole, "single bytes give what the whole gives");
  std::size_t consumed = 0;
  for (const auto& r : whole) consumed += r.consumed;
  check(consumed <= wire.size(), "no more consumed than the stream holds");
  if (whole.back().state != servebench::detail::Http1Response::State::error)
    check(consumed == wire.size(), "only a failed response leaves bytes unread");
  return 0;
}
