// Reads a connection's captured reply stream (a file of raw bytes, then the peer's close) with Http1Response, as
// tests/http1_check.py asks: prints one JSON array, one object per response (status, state, error, keep_alive,
// chunked, content_length, body as hex), for the check to compare with what Python's http.client decoded from the
// same bytes. The bytes are read whole, one byte at a time and in 10 random splits; any difference between them, or
// a broken promise of the parser (tests/support/http1_replies.hpp), is exit 1.
// Usage: http1_decode FILE
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http1_replies.hpp"

namespace {

using servebench::testing::Http1Reply;

void check(bool condition, const char* what) {
  if (!condition) throw std::runtime_error(std::string("broken promise: ") + what);
}

std::vector<Http1Reply> read_all(const std::string& wire, const std::vector<std::size_t>& cuts) {
  return servebench::testing::read_http1_replies(wire, cuts, true, 64 * 1024, check);
}

std::string hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

const char* state_name(servebench::detail::Http1Response::State s) {
  using State = servebench::detail::Http1Response::State;
  return s == State::head ? "head" : s == State::body ? "body" : s == State::done ? "done" : "error";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: http1_decode FILE (a captured reply stream)\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "http1_decode: cannot read " << argv[1] << "\n";
    return 2;
  }
  const std::string wire((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    const auto whole = read_all(wire, {});
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
    check(read_all(wire, cuts) == whole, "single bytes give what the whole gives");
    std::mt19937 rng(1202);
    for (int run = 0; run < 10; ++run) {
      cuts.clear();
      for (std::size_t at = 1 + rng() % 1500; at < wire.size(); at += 1 + rng() % 1500) cuts.push_back(at);
      check(read_all(wire, cuts) == whole, "random pieces give what the whole gives");
    }
    nlohmann::json out = nlohmann::json::array();
    for (const Http1Reply& r : whole) {
      out.push_back({{"status", r.status},
                     {"state", state_name(r.state)},
                     {"error", r.error},
                     {"keep_alive", r.keep_alive},
                     {"chunked", r.chunked},
                     {"content_length", r.content_length ? nlohmann::json(*r.content_length) : nlohmann::json()},
                     {"heads", r.heads},
                     {"body_hex", hex(r.body)}});
    }
    std::cout << out.dump() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "http1_decode: " << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
