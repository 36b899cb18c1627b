#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include <servebench/sse.hpp>

using servebench::SseEvent;
using servebench::SseParser;

namespace {

bool same(const SseEvent& a, const SseEvent& b) { return a.event == b.event && a.data == b.data && a.id == b.id; }

std::vector<SseEvent> parse_in_pieces(const std::string& stream, const std::vector<std::size_t>& cuts) {
  SseParser parser;
  std::vector<SseEvent> events;
  auto keep = [&](const SseEvent& e) { events.push_back(e); };
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    parser.feed(std::string_view(stream).substr(from, cut - from), keep);
    from = cut;
  }
  parser.feed(std::string_view(stream).substr(from), keep);
  parser.finish(keep);
  return events;
}

// A recorded vLLM-style completion stream (shape copied from a real /v1/completions stream with include_usage),
// mixed with every feature the parser must handle: CRLF, bare CR, multi-line data, comments, event/id fields,
// a BOM, and a final event without its trailing blank line.
const std::string recorded =
    "\xEF\xBB\xBF: keep-alive comment\r\n"
    "data: {\"id\":\"cmpl-1\",\"choices\":[{\"index\":0,\"text\":\" Hello\",\"finish_reason\":null}]}\r\n\r\n"
    "event: delta\n"
    "id: 7\n"
    "data: {\"choices\":[{\"text\":\" wor\"}]}\n\n"
    "data:line one\rdata: line two\r\r"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n"
    "retry: 1000\n"
    "unknownfield\n"
    "event: lonely\n\n"
    "data\n\n"
    "data: [DONE]";

// The events `recorded` must produce, written out by hand from the spec's rules.
const std::vector<SseEvent> expected = {
    {"", "{\"id\":\"cmpl-1\",\"choices\":[{\"index\":0,\"text\":\" Hello\",\"finish_reason\":null}]}", ""},
    {"delta", "{\"choices\":[{\"text\":\" wor\"}]}", "7"},
    {"", "line one\nline two", "7"},
    {"", "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}", "7"},
    {"", "", "7"},  // a bare `data` line is a field with an empty value: one event with empty data
    {"", "[DONE]", "7"},
};

void check_events(const std::vector<SseEvent>& got) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("event " << i << ": got data '" << got[i].data << "'");
    CHECK(same(got[i], expected[i]));
  }
}

}  // namespace

TEST_CASE("a recorded stream fed whole yields the events the spec defines") {
  check_events(parse_in_pieces(recorded, {}));
}

TEST_CASE("a recorded stream split at every byte position yields identical events") {
  for (std::size_t cut = 0; cut <= recorded.size(); ++cut) {
    INFO("split at " << cut);
    check_events(parse_in_pieces(recorded, {cut}));
  }
}

TEST_CASE("a recorded stream fed one byte at a time yields identical events") {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < recorded.size(); ++i) cuts.push_back(i);
  check_events(parse_in_pieces(recorded, cuts));
}

TEST_CASE("a recorded stream fed in random chunk sizes yields identical events") {
  std::mt19937 rng(12345);  // fixed seed: a failure reproduces
  for (int round = 0; round < 500; ++round) {
    std::uniform_int_distribution<std::size_t> size(1, 1 + static_cast<std::size_t>(round % 40));
    std::vector<std::size_t> cuts;
    for (std::size_t at = size(rng); at < recorded.size(); at += size(rng)) cuts.push_back(at);
    INFO("round " << round);
    check_events(parse_in_pieces(recorded, cuts));
  }
}

TEST_CASE("a CR at the end of one read and an LF at the start of the next make one line break") {
  // If the parser took CR and LF as two breaks, the blank line would dispatch the event early, with only "a".
  const auto events = parse_in_pieces("data: a\r\ndata: b\r\n\r\n", {8});
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "a\nb");
}

TEST_CASE("finish dispatches a final event without a trailing blank line, and nothing when there is none") {
  SseParser parser;
  std::vector<SseEvent> events;
  auto keep = [&](const SseEvent& e) { events.push_back(e); };
  SUBCASE("a pending line") {
    parser.feed("data: last", keep);
    CHECK(events.empty());
    parser.finish(keep);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "last");
  }
  SUBCASE("a complete line but no blank line") {
    parser.feed("data: last\n", keep);
    parser.finish(keep);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "last");
  }
  SUBCASE("a stream that ended cleanly") {
    parser.feed("data: x\n\n", keep);
    parser.finish(keep);
    CHECK(events.size() == 1);
  }
  SUBCASE("only comments") {
    parser.feed(": ping\n\n: ping\n", keep);
    parser.finish(keep);
    CHECK(events.empty());
  }
}

TEST_CASE("only one leading space of a value is stripped") {
  const auto events = parse_in_pieces("data:  two spaces\n\n", {});
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == " two spaces");
}

TEST_CASE("the parser can be reused for a new stream after finish") {
  SseParser parser;
  std::vector<SseEvent> events;
  auto keep = [&](const SseEvent& e) { events.push_back(e); };
  parser.feed("id: 1\ndata: a", keep);
  parser.finish(keep);
  parser.feed("data: b\n\n", keep);
  REQUIRE(events.size() == 2);
  CHECK(events[1].data == "b");
  CHECK(events[1].id.empty());
}
