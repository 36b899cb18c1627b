// libFuzzer target: the SSE parser. The same bytes fed whole, fed one byte at a time and fed in pieces whose sizes
// come from the input itself must give the same events — the parser's one promise is that splits do not matter.
// An event's fields can never hold a line break (lines end at CR or LF), only data joins its lines with '\n'.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <servebench/sse.hpp>

namespace {

using servebench::SseEvent;

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  return true;
}

// `sizes` drives the piece lengths (cycled); 0 in it gives an empty feed, which must be harmless too.
std::vector<SseEvent> parse(std::string_view stream, std::string_view sizes) {
  servebench::SseParser parser;
  std::vector<SseEvent> events;
  auto keep = [&](const SseEvent& e) { events.push_back(e); };
  std::size_t from = 0, k = 0;
  while (from < stream.size()) {
    std::size_t n = stream.size() - from;
    if (!sizes.empty()) n = static_cast<unsigned char>(sizes[k++ % sizes.size()]) % 17;
    if (n > stream.size() - from) n = stream.size() - from;
    parser.feed(stream.substr(from, n), keep);
    from += n;
    if (k > 4 * stream.size() + 64) {  // sizes of all zeros: finish the rest in one feed
      parser.feed(stream.substr(from), keep);
      break;
    }
  }
  parser.finish(keep);
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first byte says how many of the following bytes are piece sizes; the rest is the stream.
  std::size_t split_bytes = input.empty() ? 0 : static_cast<unsigned char>(input[0]) % 9;
  std::string_view rest = input.empty() ? input : input.substr(1);
  if (split_bytes > rest.size()) split_bytes = rest.size();
  const std::string_view sizes = rest.substr(0, split_bytes);
  const std::string_view stream = rest.substr(split_bytes);

  const auto whole = parse(stream, {});
  const auto pieces = parse(stream, sizes);
  static const char one[] = {1};
  const auto bytewise = parse(stream, std::string_view(one, 1));
  if (!same(whole, pieces) || !same(whole, bytewise)) std::abort();
  for (const auto& e : whole) {
    if (e.event.find_first_of("\r\n") != std::string::npos) std::abort();
    if (e.id.find_first_of("\r\n") != std::string::npos || e.id.find('\0') != std::string::npos) std::abort();
    if (e.data.find('\r') != std::string::npos) std::abort();
  }
  // A parser reused after finish() starts a new stream: the same bytes give the same events again.
  servebench::SseParser parser;
  std::vector<SseEvent> first, second;
  parser.feed(stream, [&](const SseEvent& e) { first.push_back(e); });
  parser.finish([&](const SseEvent& e) { first.push_back(e); });
  parser.feed(stream, [&](const SseEvent& e) { second.push_back(e); });
  parser.finish([&](const SseEvent& e) { second.push_back(e); });
  if (!same(first, second) || !same(first, whole)) std::abort();
  return 0;
}
