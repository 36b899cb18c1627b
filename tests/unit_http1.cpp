// Tests for event_loop/http1.hpp: every rule of the response parser as one case of a table (bytes in, the outcome
// expected: status, decoded body, state, error message, keep-alive), each case fed whole, one byte at a time and in
// random pieces (fixed seed) with the same outcome; then the limits, the zero-copy body, pipelined responses with
// reset(), and callbacks that stop. Real servers' replies (http.server, Flask, aiohttp) are compared with Python's
// http.client by tests/http1_check.py.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <servebench/event_loop/http1.hpp>

#include "support/http1_replies.hpp"

using servebench::detail::Http1Response;
using State = Http1Response::State;

namespace {

using servebench::testing::Http1Reply;

void doctest_check(bool condition, const char* what) { CHECK_MESSAGE(condition, what); }

// Every response of `bytes`, fed as a transport would, cut at `cuts`; then on_eof() when `eof` (the peer closed).
std::vector<Http1Reply> parse_all(std::string_view bytes, const std::vector<std::size_t>& cuts, bool eof,
                                  std::size_t max_head = 65536) {
  return servebench::testing::read_http1_replies(bytes, cuts, eof, max_head, doctest_check);
}

// The one response of `bytes`.
Http1Reply parse(std::string_view bytes, const std::vector<std::size_t>& cuts, bool eof, std::size_t max_head = 65536) {
  const auto replies = parse_all(bytes, cuts, eof, max_head);
  REQUIRE(replies.size() == 1);
  return replies.front();
}

std::vector<std::size_t> every_byte(std::size_t n) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < n; ++i) cuts.push_back(i);
  return cuts;
}

std::vector<std::size_t> random_cuts(std::size_t n, std::mt19937& rng) {
  std::vector<std::size_t> cuts;
  for (std::size_t at = 0; n > 0;) {
    at += 1 + rng() % 9;
    if (at >= n) break;
    cuts.push_back(at);
  }
  return cuts;
}

// The same outcome whole, byte by byte and in 20 random splits.
void check_split_invariance(std::string_view bytes, bool eof, std::size_t max_head = 65536) {
  const auto whole = parse_all(bytes, {}, eof, max_head);
  CHECK(parse_all(bytes, every_byte(bytes.size()), eof, max_head) == whole);
  std::mt19937 rng(20261202);
  for (int run = 0; run < 20; ++run) CHECK(parse_all(bytes, random_cuts(bytes.size(), rng), eof, max_head) == whole);
}

struct Case {
  std::string name;
  std::string bytes;
  bool eof;  // the peer closes after the bytes
  int status;
  std::string body;
  State state;
  std::string error;
  bool keep_alive;
};

const std::string ok = "HTTP/1.1 200 OK\r\n";
const std::string te = ok + "Transfer-Encoding: chunked\r\n\r\n";
const std::string alphabet = "abcdefghijklmnopqrstuvwxyz";

const std::vector<Case> cases = {
    // The status line, the head's line ends and header names.
    {"Content-Length body", ok + "Content-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", false, 200, "hello",
     State::done, "", true},
    {"empty reason after the SP", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", false, 404, "", State::done, "", true},
    {"no SP after the code", "HTTP/1.1 503\r\ncontent-length: 2\r\n\r\nno", false, 503, "no", State::done, "", true},
    {"bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", false, 200, "abc", State::done, "", true},
    {"mixed line ends", "HTTP/1.1 200 OK\r\nContent-Length: 3\n\r\nabc", false, 200, "abc", State::done, "", true},
    {"header names and tokens are case-insensitive", ok + "cOnTeNt-LeNgTh: 3\r\nCONNECTION: CLOSE\r\n\r\nabc", false,
     200, "abc", State::done, "", false},
    {"an empty line before the status line", "\r\n" + ok + "Content-Length: 1\r\n\r\nx", false, 200, "x", State::done,
     "", true},
    {"optional whitespace around a value", ok + "Content-Length:\t 2 \t\r\n\r\nab", false, 200, "ab", State::done, "",
     true},
    {"not HTTP/1.x", "HTTP/2 200 OK\r\n\r\n", false, 0, "", State::error,
     "status line is not HTTP/1.x: 'HTTP/2 200 OK'", false},
    {"not HTTP at all", "ICY 200 OK\r\n\r\n", false, 0, "", State::error, "status line is not HTTP/1.x: 'ICY 200 OK'",
     false},
    {"a two-digit status code", "HTTP/1.1 20 OK\r\n\r\n", false, 0, "", State::error,
     "invalid status code in the status line 'HTTP/1.1 20 OK'", false},
    {"a four-digit status code", "HTTP/1.1 2000 OK\r\n\r\n", false, 0, "", State::error,
     "invalid status code in the status line 'HTTP/1.1 2000 OK'", false},
    {"obsolete line folding", ok + "X-A: 1\r\n  continued\r\nContent-Length: 1\r\n\r\nx", false, 0, "", State::error,
     "obsolete line folding in the headers (a line starts with whitespace): '  continued'", false},
    {"a header line without a colon", ok + "Content-Length 5\r\n\r\n", false, 0, "", State::error,
     "header line without a colon: 'Content-Length 5'", false},
    {"whitespace before the colon", ok + "Content-Length : 5\r\n\r\n", false, 0, "", State::error,
     "invalid header name 'Content-Length '", false},
    {"an empty header name", ok + ": x\r\n\r\n", false, 0, "", State::error, "header line with an empty name: ': x'",
     false},
    {"a bare CR in the head", ok + "X-A: a\rb\r\n\r\n", false, 0, "", State::error,
     "bare CR in the head: 'X-A: a\\x0db'", false},
    {"a NUL in the head", ok + std::string("X-A: a\0b\r\n\r\n", 11), false, 0, "", State::error,
     "NUL in the head: 'X-A: a\\x00b'", false},

    // Content-Length.
    {"agreeing duplicate Content-Length headers", ok + "Content-Length: 4\r\nContent-Length: 4\r\n\r\nfour", false, 200,
     "four", State::done, "", true},
    {"an agreeing Content-Length list", ok + "Content-Length: 4, 4\r\n\r\nfour", false, 200, "four", State::done, "",
     true},
    {"disagreeing Content-Length headers", ok + "Content-Length: 4\r\nContent-Length: 5\r\n\r\nfour", false, 0, "",
     State::error, "Content-Length values disagree: 4 and 5", false},
    {"a disagreeing Content-Length list", ok + "Content-Length: 4,5\r\n\r\nfour", false, 0, "", State::error,
     "Content-Length values disagree: 4 and 5", false},
    {"a non-numeric Content-Length", ok + "Content-Length: abc\r\n\r\n", false, 0, "", State::error,
     "invalid Content-Length 'abc'", false},
    {"a negative Content-Length", ok + "Content-Length: -1\r\n\r\n", false, 0, "", State::error,
     "invalid Content-Length '-1'", false},
    {"an empty Content-Length", ok + "Content-Length: 4\r\nContent-Length:\r\n\r\n", false, 0, "", State::error,
     "invalid Content-Length ''", false},
    {"a Content-Length past 64 bits", ok + "Content-Length: 18446744073709551616\r\n\r\n", false, 0, "", State::error,
     "invalid Content-Length '18446744073709551616'", false},
    {"the largest Content-Length", ok + "Content-Length: 18446744073709551615\r\n\r\nabc", false, 200, "abc",
     State::body, "", true},

    // Chunked.
    {"chunked with an extension", te + "5\r\nhello\r\n1A;name=value\r\n" + alphabet + "\r\n0\r\n\r\n", false, 200,
     "hello" + alphabet, State::done, "", true},
    {"chunked with trailers", te + "3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n", false, 200, "abc", State::done, "",
     true},
    {"chunked with bare LF framing", te + "5\nhello\n0\n\n", false, 200, "hello", State::done, "", true},
    {"chunked: case, hex digits, leading zeros, whitespace before ';'",
     ok + "Transfer-Encoding: Chunked\r\n\r\n000a\r\n0123456789\r\nB ;x\r\nabcdefghijk\r\n0\r\n\r\n", false, 200,
     "0123456789abcdefghijk", State::done, "", true},
    {"chunked and Content-Length: chunked wins, no keep-alive",
     ok + "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, 200, "ok",
     State::done, "", false},
    {"a chunk size past 64 bits", te + "10000000000000000\r\n", false, 200, "", State::error,
     "chunk size overflows 64 bits: '10000000000000000'", false},
    {"the largest chunk size", te + "ffffffffffffffff\r\nabc", false, 200, "abc", State::body, "", true},
    {"a chunk size that is not hex", te + "zz\r\n", false, 200, "", State::error, "invalid chunk size line 'zz'",
     false},
    {"an empty chunk size line", te + "\r\n", false, 200, "", State::error, "invalid chunk size line ''", false},
    {"a chunk size with junk after it", te + "5x\r\nhello\r\n", false, 200, "", State::error,
     "invalid chunk size line '5x'", false},
    {"chunk data not followed by CRLF", te + "5\r\nhelloX\r\n0\r\n\r\n", false, 200, "hello", State::error,
     "chunk data not followed by CRLF ('X' after 5 bytes of the body)", false},
    {"chunk data followed by CR CR", te + "5\r\nhello\r\r\n", false, 200, "hello", State::error,
     "chunk data not followed by CRLF ('\\x0d' after 5 bytes of the body)", false},
    {"a transfer coding other than chunked", ok + "Transfer-Encoding: gzip, chunked\r\n\r\n", false, 0, "",
     State::error, "unsupported Transfer-Encoding 'gzip' (only chunked is read)", false},
    {"chunked twice", ok + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", false, 0, "",
     State::error, "Transfer-Encoding applies chunked twice", false},

    // Status codes without a body, interim responses.
    {"100 Continue is skipped", "HTTP/1.1 100 Continue\r\n\r\n" + ok + "Content-Length: 2\r\n\r\nok", false, 200, "ok",
     State::done, "", true},
    {"103 Early Hints with headers is skipped",
     "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
     "HTTP/1.1 100 Continue\r\n\r\n" +
         ok + "Content-Length: 2\r\n\r\nok",
     false, 200, "ok", State::done, "", true},
    {"101 Switching Protocols ends the response and the connection",
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", false, 101, "",
     State::done, "", false},
    {"204 has no body, even with a Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false, 204,
     "", State::done, "", true},
    {"304 has no body", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, 304, "", State::done,
     "", true},

    // Close-delimited bodies and keep-alive.
    {"HTTP/1.1 close-delimited", ok + "Content-Type: text/plain\r\n\r\nuntil the close", true, 200, "until the close",
     State::done, "", false},
    {"HTTP/1.0 close-delimited, keep-alive asked", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbody", true, 200,
     "body", State::done, "", false},
    {"HTTP/1.0 with a length is not kept alive", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200, "x",
     State::done, "", false},
    {"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", false, 200, "x",
     State::done, "", true},
    {"HTTP/1.1 close in a token list", ok + "Connection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nx", false, 200,
     "x", State::done, "", false},
    {"HTTP/1.1 tokens other than close", ok + "Connection: upgrade, closed\r\nContent-Length: 1\r\n\r\nx", false, 200,
     "x", State::done, "", true},

    // The peer closes early; bytes still missing.
    {"closed before any byte", "", true, 0, "", State::error, "closed before the response began", false},
    {"closed inside the head", ok + "Content-", true, 0, "", State::error, "closed before the headers ended", false},
    {"closed inside a Content-Length body", ok + "Content-Length: 10\r\n\r\nhello", true, 200, "hello", State::error,
     "closed after 5 bytes of the body of 10 (Content-Length)", false},
    {"closed inside a chunked body", te + "5\r\nhello\r\n", true, 200, "hello", State::error,
     "closed after 5 bytes of the body (chunked, before its last chunk)", false},
    {"closed inside the trailers", te + "0\r\nX: 1\r\n", true, 200, "", State::error,
     "closed after 0 bytes of the body (chunked, inside the trailers)", false},
    {"a body still arriving", ok + "Content-Length: 10\r\n\r\nhello", false, 200, "hello", State::body, "", true},
};

}  // namespace

TEST_CASE("every rule: status, body, state, error and keep-alive of each case") {
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Http1Reply got = parse(c.bytes, {}, c.eof);
    CHECK(got.status == c.status);
    CHECK(got.body == c.body);
    CHECK(got.body_bytes == c.body.size());
    CHECK(got.state == c.state);
    CHECK(got.error == c.error);
    CHECK(got.keep_alive == c.keep_alive);
    // on_head once when the final head was read (also for a reply that fails later, in its body), never for one
    // that failed in its head.
    CHECK(got.heads == (c.status != 0 ? 1 : 0));
    CHECK(got.status_at_head == c.status);
    // A reply that ends consumes all of its bytes (the table has no bytes of a next response).
    if (c.state != State::error) CHECK(got.consumed == c.bytes.size());
  }
}

TEST_CASE("every case gives the same outcome fed whole, byte by byte and in random pieces") {
  for (const Case& c : cases) {
    CAPTURE(c.name);
    check_split_invariance(c.bytes, c.eof);
  }
}

TEST_CASE("what the head says: Content-Length, chunked, and nothing before the head") {
  Http1Response parser;
  auto ignore = [](const char*, std::size_t) {};
  CHECK(parser.status() == 0);
  CHECK_FALSE(parser.content_length());
  CHECK_FALSE(parser.keep_alive());
  CHECK_FALSE(parser.started());
  parser.feed(
      ok + "Content-Length: 7\r\n", [] {}, ignore);
  CHECK(parser.started());
  CHECK(parser.status() == 0);  // the head has not ended
  CHECK(parser.state() == State::head);
  parser.feed(
      "\r\n", [] {}, ignore);
  CHECK(parser.status() == 200);
  CHECK(parser.content_length() == 7u);
  CHECK_FALSE(parser.chunked());
  parser.reset();
  parser.feed(
      te, [] {}, ignore);
  CHECK(parser.chunked());
  CHECK_FALSE(parser.content_length());
  CHECK(parser.state() == State::body);
}

TEST_CASE("the head, a chunk-size line and the trailers are bounded by max_head_bytes") {
  const std::string head = ok + "X-Pad: " + std::string(30, 'p') + "\r\nContent-Length: 1\r\n\r\n";
  const std::string reply = head + "x";
  // A head of exactly the limit is read; one byte less fails at the byte that passed it.
  CHECK(parse(reply, {}, false, head.size()).state == State::done);
  const Http1Reply over = parse(reply, {}, false, head.size() - 1);
  CHECK(over.state == State::error);
  CHECK(over.error == "headers longer than " + std::to_string(head.size() - 1) + " bytes");
  CHECK(over.consumed == head.size());
  check_split_invariance(reply, false, head.size() - 1);
  // The default limit names 65536.
  const Http1Reply big = parse(ok + "X-Big: " + std::string(70000, 'b') + "\r\n\r\n", {}, false);
  CHECK(big.error == "headers longer than 65536 bytes");
  CHECK(big.consumed == 65537u);
  // Interim responses do not count against the final head.
  const std::string interim = "HTTP/1.1 100 Continue\r\n" + std::string(head.size() - 30, 'x') + ": y\r\n\r\n";
  CHECK(parse(interim + reply, {}, false, head.size()).state == State::done);

  // Each chunk-size line and the trailers are bounded on their own (the head here is te.size() = 47 bytes).
  const std::string chunk_line = te + "5;" + std::string(60, 'e') + "\r\nhello\r\n0\r\n\r\n";
  CHECK(parse(chunk_line, {}, false, 64).body == "hello");
  const Http1Reply long_line = parse(chunk_line, {}, false, 63);
  CHECK(long_line.error == "chunk size line longer than 63 bytes");
  check_split_invariance(chunk_line, false, 63);
  const std::string trailers = te + "0\r\nX-T: " + std::string(60, 't') + "\r\n\r\n";
  CHECK(parse(trailers, {}, false, 69).state == State::done);
  CHECK(parse(trailers, {}, false, 68).error == "trailers longer than 68 bytes");
}

TEST_CASE("body pieces point into the bytes fed: no copy, in every framing") {
  for (const std::string& reply : {ok + "Content-Length: 10\r\n\r\n0123456789",
                                   te + "4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n", ok + "\r\n0123456789"}) {
    CAPTURE(reply);
    Http1Response parser;
    std::string body;
    std::size_t pieces = 0;
    const std::size_t took = parser.feed(
        reply, [] {},
        [&](const char* p, std::size_t n) {
          CHECK(p >= reply.data());
          CHECK(p + n <= reply.data() + reply.size());
          body.append(p, n);
          ++pieces;
        });
    CHECK(took == reply.size());
    CHECK(body == "0123456789");
    CHECK(pieces == (parser.chunked() ? 2u : 1u));
  }
}

TEST_CASE("pipelined responses on one keep-alive connection: done leaves the next reply's bytes, reset() reads it") {
  const std::string first = te + "3\r\none\r\n0\r\n\r\n";
  const std::string second = "HTTP/1.1 204 No Content\r\n\r\n";
  const std::string third = ok + "Content-Length: 5\r\nConnection: close\r\n\r\nthree";
  const std::string wire = first + second + third;
  // Cut the wire whole, byte by byte and at random: every response the same.
  std::mt19937 rng(7);
  const std::vector<std::vector<std::size_t>> splits = {{}, every_byte(wire.size()), random_cuts(wire.size(), rng)};
  for (const auto& cuts : splits) {
    const std::vector<Http1Reply> got = parse_all(wire, cuts, true);
    REQUIRE(got.size() == 3);
    CHECK(got[0].consumed == first.size());
    CHECK(got[0].body == "one");
    CHECK(got[0].keep_alive);
    CHECK(got[1].consumed == second.size());
    CHECK(got[1].status == 204);
    CHECK(got[1].keep_alive);
    CHECK(got[2].consumed == third.size());
    CHECK(got[2].body == "three");
    CHECK(got[2].state == State::done);
    CHECK_FALSE(got[2].keep_alive);
  }
  // Once done, a feed consumes nothing until reset().
  Http1Response parser;
  CHECK(parser.feed(
            wire, [] {}, [](const char*, std::size_t) {}) == first.size());
  CHECK(parser.feed(
            second, [] {}, [](const char*, std::size_t) {}) == 0u);
  CHECK(parser.state() == State::done);
}

TEST_CASE("a callback that returns false stops feed at once, the state as it was") {
  const std::string reply = ok + "Content-Length: 10\r\n\r\n0123456789";
  const std::size_t head = reply.size() - 10;
  Http1Response parser;
  int bodies = 0;
  CHECK(parser.feed(
            reply, [] { return false; },
            [&](const char*, std::size_t) {
              ++bodies;
              return true;
            }) == head);
  CHECK(bodies == 0);
  CHECK(parser.state() == State::body);
  CHECK(parser.error().empty());

  parser.reset();
  std::size_t pieces = 0;
  const std::size_t fed = parser.feed(
      te + "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n", [] { return true; },
      [&](const char*, std::size_t n) {
        ++pieces;
        CHECK(n == 2u);
        return false;
      });
  CHECK(pieces == 1u);
  CHECK(fed == te.size() + 3 + 2);  // the size line and the piece itself
  CHECK(parser.state() == State::body);
  CHECK(parser.body_bytes() == 2u);

  // Stopping on the last piece: the response is done all the same.
  parser.reset();
  CHECK(parser.feed(
            reply, [] {}, [](const char*, std::size_t) { return false; }) == reply.size());
  CHECK(parser.state() == State::done);
}

TEST_CASE("an error is final: further bytes and on_eof change nothing, reset() recovers") {
  Http1Response parser;
  auto ignore = [](const char*, std::size_t) {};
  CHECK(parser.feed(
            "HTTP/3 200\r\n", [] {}, ignore) == 12u);
  CHECK(parser.state() == State::error);
  CHECK(parser.feed(
            ok, [] {}, ignore) == 0u);
  parser.on_eof();
  CHECK(parser.error() == "status line is not HTTP/1.x: 'HTTP/3 200'");
  CHECK_FALSE(parser.keep_alive());
  parser.reset();
  CHECK(parser.error().empty());
  CHECK(parser.feed(
            ok + "Content-Length: 0\r\n\r\n", [] {}, ignore) == ok.size() + 21);
  CHECK(parser.state() == State::done);
  CHECK(parser.keep_alive());
}
