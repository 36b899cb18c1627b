// servebench 0.1.0 -- single-header edition of the event-loop transport (opt-in).
//
// GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench/event_loop.hpp and the headers it
// includes; edit those and run `python3 tools/amalgamate.py`. In place of the headers of other parts it
// includes "servebench.hpp": keep the files in one directory.
// Dependencies stay external:
//   g++ -std=c++17 -I single_include app.cpp $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread
//
// Contents, in order:
//   servebench/event_loop.hpp
//   servebench/event_loop/http1.hpp
//   servebench/event_loop/levels.hpp
//   servebench/event_loop/loop.hpp
//   servebench/event_loop/stream.hpp
#pragma once

// ---- begin servebench/event_loop.hpp ----
// servebench — the event-loop transport, a part of its own (included on purpose, like <servebench/sim.hpp>): a few
// epoll threads carry every stream of a level, where the default transport gives each stream a thread and a
// cpp-httplib client. Same DriverOptions, dialects, records and results; for thousands of streams or tens of
// thousands of requests a second from one client host (docs/performance.md, "Scale"). Linux, plain http.
//
//   auto target = servebench::make_event_loop_target<servebench::api::openai_completions>(
//       servebench::DriverOptions().label("vllm").base_url("http://127.0.0.1:8000").model("m"));
//   auto result = servebench::run_closed_loop(servebench::ClosedLoop().concurrency(10000), workload, target);
//
// run_closed_loop and run_open_loop (and the sweeps over them) hand this target's levels to the event loop
// (Target::runs_levels); a single request through its make_sender goes over the default transport.

#include <memory>
#include <stdexcept>
#include <utility>

#include "servebench.hpp"  // servebench.hpp and the rest of the core
// ---- begin servebench/event_loop/http1.hpp ----
// servebench — an incremental HTTP/1.1 response parser for a transport that reads many connections from one thread:
// it is fed whatever bytes a read gave and yields the same events however the reply was split (a read may end inside
// the status line, between the CR and LF of a line break, inside a chunk-size line or a chunk's data).
// Follows RFC 9112 for responses: interim 1xx responses are skipped; the body is framed by Transfer-Encoding: chunked
// (which wins over Content-Length), else Content-Length, else the connection's close; 1xx, 204 and 304 have none.
// The head (and a chunk-size or trailer line) may be buffered, bounded by max_head_bytes; the body never is: each
// piece handed on points into the bytes fed. No sockets here: the transport reads, this only reads bytes.
// Deliberate choices: a line may end in a bare LF (RFC 9112 2.2 allows it), in the head and in chunked framing;
// transfer codings other than chunked are an error (servebench never asks for one); 101 Switching Protocols ends
// the response (what follows is no longer HTTP) and the connection with it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace servebench::detail {

// Case-insensitive ASCII comparison, for header names and the tokens of their values.
inline bool http1_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Optional whitespace (SP, HTAB) stripped from both ends.
inline std::string_view http1_trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each element of a comma-separated list (trimmed, empty ones skipped); stops early and
// returns false when f does.
template <class F>
bool http1_each_element(std::string_view list, F&& f) {
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view element = http1_trim(list.substr(0, comma));
    if (!element.empty() && !f(element)) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

// A piece of the peer's bytes for an error message: in quotes, at most 40 bytes, anything but printable ASCII as
// \xNN (the message may end up in a JSON artifact, which must be valid UTF-8).
inline std::string http1_quoted(std::string_view bytes) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < bytes.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  if (bytes.size() > 40) out += "...";
  out.push_back('\'');
  return out;
}

// A token character of RFC 9110 5.6.2 (what a header name is made of).
inline bool http1_is_tchar(char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

class Http1Response {
 public:
  enum class State { head, body, done, error };

  explicit Http1Response(std::size_t max_head_bytes = 64 * 1024) : max_head_bytes_(max_head_bytes) {}

  // Ready for the next response on the same keep-alive connection; the line buffer keeps its capacity.
  void reset() {
    line_.clear();
    line_taken_ = false;
    state_ = State::head;
    framing_ = Framing::none;
    chunk_ = Chunk::size_line;
    error_.clear();
    status_ = 0;
    keep_alive_ = false;
    content_length_.reset();
    chunked_ = false;
    body_bytes_ = 0;
    remaining_ = 0;
    line_bytes_ = 0;
    started_ = false;
    start_head();
  }

  // Consumes bytes of the reply. Calls on_head() once the status line and headers of the final (non-1xx) response
  // are complete, then on_body(const char*, std::size_t) for every piece of decoded body (never empty; chunked
  // framing removed; each piece points into `data`). Returns the number of bytes consumed: less than data.size()
  // only when the response ended inside `data` (state() == done; the rest belongs to the next response) or on an
  // error (state() == error; the count then ends at the byte found wrong). Either callback may return false (or
  // return nothing, which continues): feed then returns at once, with what it consumed so far and state() as it
  // was — the caller abandons the connection. In state done or error it consumes nothing.
  template <class OnHead, class OnBody>
  std::size_t feed(std::string_view data, OnHead&& on_head, OnBody&& on_body) {
    std::size_t i = 0;
    if (!data.empty()) started_ = true;
    while (i < data.size()) {
      if (state_ == State::head) {
        std::string_view line;
        if (!take_line(data, i, line, "headers")) return i;
        head_line(line);
        if (state_ == State::error) return i;
        if (state_ != State::head && !proceed(on_head)) return i;
      } else if (state_ == State::body) {
        if (framing_ == Framing::chunked && chunk_ != Chunk::data) {
          if (!chunk_framing(data, i)) return i;
          continue;
        }
        std::size_t n = data.size() - i;
        if (framing_ != Framing::close && remaining_ < n) n = static_cast<std::size_t>(remaining_);
        const char* piece = data.data() + i;
        i += n;
        body_bytes_ += n;
        if (framing_ != Framing::close) {
          remaining_ -= n;
          if (remaining_ == 0) {
            if (framing_ == Framing::length)
              state_ = State::done;
            else
              chunk_ = Chunk::data_end;
          }
        }
        if (!proceed(on_body, piece, n)) return i;
      } else {
        return i;
      }
    }
    return i;
  }

  // The peer closed the connection: a close-delimited body ends here (state becomes done); in any other state before
  // done it is an error. Nothing changes once done or in error.
  void on_eof() {
    if (state_ == State::done || state_ == State::error) return;
    if (state_ == State::body && framing_ == Framing::close) {
      state_ = State::done;
      return;
    }
    if (state_ == State::head) {
      fail(started_ ? "closed before the headers ended" : "closed before the response began");
      return;
    }
    std::string what = "closed after " + std::to_string(body_bytes_) + " bytes of the body";
    if (framing_ == Framing::length)
      what += " of " + std::to_string(*content_length_) + " (Content-Length)";
    else
      what += chunk_ == Chunk::trailers ? " (chunked, inside the trailers)" : " (chunked, before its last chunk)";
    fail(what);
  }

  State state() const noexcept { return state_; }
  int status() const noexcept { return status_; }  // 0 until the final head is parsed
  // Whether the connection may carry another request once this response is done (false until the head is parsed,
  // and after an error).
  bool keep_alive() const noexcept { return keep_alive_ && state_ != State::error; }
  std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
  bool chunked() const noexcept { return chunked_; }
  // Names what was wrong, e.g. "invalid chunk size line '12x'"; empty unless state() == error.
  const std::string& error() const noexcept { return error_; }
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }  // decoded body bytes so far
  // Whether any byte of this response arrived: a keep-alive connection the server closed before answering (not
  // started, "closed before the response began") is one a request may be retried on.
  bool started() const noexcept { return started_; }

 private:
  enum class Framing { none, length, chunked, close };
  enum class Chunk { size_line, data, data_end, data_end_lf, trailers };

  // A callback's verdict: false stops; a callback returning nothing continues.
  template <class F, class... Args>
  static bool proceed(F& f, Args... args) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, Args...>>) {
      f(args...);
      return true;
    } else {
      return static_cast<bool>(f(args...));
    }
  }

  void fail(std::string what) {
    state_ = State::error;
    error_ = std::move(what);
  }

  // The per-head state, cleared before each head (an interim 1xx response's head is followed by another).
  void start_head() {
    head_status_ = 0;
    minor_version_ = 1;
    seen_status_line_ = false;
    close_token_ = keep_alive_token_ = false;
    te_chunked_ = false;
    line_bytes_ = 0;
    content_length_.reset();
  }

  // Takes the bytes of one line from data[i...] (i moves past them). True with `line` set (its LF and one CR before
  // it removed) when the line is complete: a view into `data` when it lay there whole, else into the line buffer,
  // valid until the next call. False when `data` ended inside the line (kept in the buffer) or when the bytes of
  // this section (line_bytes_, `what`) passed max_head_bytes (error; i just past the byte that passed it).
  bool take_line(std::string_view data, std::size_t& i, std::string_view& line, const char* what) {
    if (line_taken_) {  // the buffer held the previous line, now used
      line_.clear();
      line_taken_ = false;
    }
    const std::size_t lf = data.find('\n', i);
    const std::size_t end = lf == std::string_view::npos ? data.size() : lf + 1;
    if (end - i > max_head_bytes_ - line_bytes_) {
      i += max_head_bytes_ - line_bytes_ + 1;
      fail(std::string(what) + " longer than " + std::to_string(max_head_bytes_) + " bytes");
      return false;
    }
    line_bytes_ += end - i;
    if (lf == std::string_view::npos) {
      line_.append(data.data() + i, end - i);
      i = end;
      return false;
    }
    if (line_.empty()) {
      line = data.substr(i, lf - i);
    } else {
      line_.append(data.data() + i, lf - i);
      line = line_;
      line_taken_ = true;
    }
    i = end;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return true;
  }

  void head_line(std::string_view line) {
    if (line.find('\r') != std::string_view::npos) return fail("bare CR in the head: " + http1_quoted(line));
    if (line.find('\0') != std::string_view::npos) return fail("NUL in the head: " + http1_quoted(line));
    if (!seen_status_line_) {
      if (line.empty()) return;  // empty lines before the status line are tolerated (RFC 9112 2.2)
      status_line(line);
      return;
    }
    if (line.empty()) return end_of_head();
    if (line.front() == ' ' || line.front() == '\t')
      return fail("obsolete line folding in the headers (a line starts with whitespace): " + http1_quoted(line));
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail("header line without a colon: " + http1_quoted(line));
    const std::string_view name = line.substr(0, colon);
    if (name.empty()) return fail("header line with an empty name: " + http1_quoted(line));
    for (char c : name)
      if (!http1_is_tchar(c)) return fail("invalid header name " + http1_quoted(name));
    header(name, http1_trim(line.substr(colon + 1)));
  }

  void status_line(std::string_view line) {
    // HTTP-version SP status-code SP [ reason-phrase ]; a missing SP after the code is tolerated.
    if (line.size() < 8 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9')
      return fail("status line is not HTTP/1.x: " + http1_quoted(line));
    minor_version_ = line[7] - '0';
    const std::string_view rest = line.substr(8);
    const bool code_ok = rest.size() >= 4 && rest[0] == ' ' && rest[1] >= '1' && rest[1] <= '9' && rest[2] >= '0' &&
                         rest[2] <= '9' && rest[3] >= '0' && rest[3] <= '9' && (rest.size() == 4 || rest[4] == ' ');
    if (!code_ok) return fail("invalid status code in the status line " + http1_quoted(line));
    head_status_ = (rest[1] - '0') * 100 + (rest[2] - '0') * 10 + (rest[3] - '0');
    seen_status_line_ = true;
  }

  void header(std::string_view name, std::string_view value) {
    if (http1_iequals(name, "content-length")) {
      bool any = false;
      http1_each_element(value, [&](std::string_view element) {
        std::uint64_t n = 0;
        for (char c : element) {
          if (c < '0' || c > '9' || n > (UINT64_MAX - static_cast<std::uint64_t>(c - '0')) / 10) {
            fail("invalid Content-Length " + http1_quoted(value));
            return false;
          }
          n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (content_length_ && *content_length_ != n) {
          fail("Content-Length values disagree: " + std::to_string(*content_length_) + " and " + std::to_string(n));
          return false;
        }
        content_length_ = n;
        any = true;
        return true;
      });
      if (!any && state_ != State::error) fail("invalid Content-Length " + http1_quoted(value));
    } else if (http1_iequals(name, "transfer-encoding")) {
      http1_each_element(value, [&](std::string_view coding) {
        if (!http1_iequals(coding, "chunked")) {
          fail("unsupported Transfer-Encoding " + http1_quoted(coding) + " (only chunked is read)");
          return false;
        }
        if (te_chunked_) {
          fail("Transfer-Encoding applies chunked twice");
          return false;
        }
        te_chunked_ = true;
        return true;
      });
    } else if (http1_iequals(name, "connection")) {
      http1_each_element(value, [&](std::string_view token) {
        close_token_ = close_token_ || http1_iequals(token, "close");
        keep_alive_token_ = keep_alive_token_ || http1_iequals(token, "keep-alive");
        return true;
      });
    }
  }

  void end_of_head() {
    if (head_status_ < 200 && head_status_ != 101) {  // interim: the final response's head follows
      start_head();
      return;
    }
    status_ = head_status_;
    chunked_ = te_chunked_;
    keep_alive_ = minor_version_ >= 1 ? !close_token_ : keep_alive_token_ && !close_token_;
    if (status_ == 101 || status_ == 204 || status_ == 304) {
      framing_ = Framing::none;
      if (status_ == 101) keep_alive_ = false;  // the connection now speaks another protocol
      state_ = State::done;
    } else if (chunked_) {
      framing_ = Framing::chunked;
      chunk_ = Chunk::size_line;
      line_bytes_ = 0;
      if (content_length_) keep_alive_ = false;  // both framings: chunked wins, but the peer is suspect
      state_ = State::body;
    } else if (content_length_) {
      framing_ = Framing::length;
      remaining_ = *content_length_;
      state_ = remaining_ == 0 ? State::done : State::body;
    } else {
      framing_ = Framing::close;
      keep_alive_ = false;  // only the close ends the body
      state_ = State::body;
    }
  }

  // The chunked framing around the data: a chunk-size line, the CRLF after a chunk's data, the trailers. Consumes
  // from data[i...]; false when `data` ended or on an error.
  bool chunk_framing(std::string_view data, std::size_t& i) {
    if (chunk_ == Chunk::data_end || chunk_ == Chunk::data_end_lf) {
      const char c = data[i++];
      if (c == '\r' && chunk_ == Chunk::data_end) {
        chunk_ = Chunk::data_end_lf;
        return true;
      }
      if (c != '\n') {
        fail("chunk data not followed by CRLF (" + http1_quoted(std::string_view(&c, 1)) + " after " +
             std::to_string(body_bytes_) + " bytes of the body)");
        return false;
      }
      chunk_ = Chunk::size_line;
      line_bytes_ = 0;
      return true;
    }
    std::string_view line;
    if (chunk_ == Chunk::trailers) {
      if (!take_line(data, i, line, "trailers")) return false;
      if (line.empty()) state_ = State::done;  // trailer fields are read past, not kept
      return true;
    }
    if (!take_line(data, i, line, "chunk size line")) return false;
    std::uint64_t size = 0;
    std::size_t digits = 0;
    for (; digits < line.size(); ++digits) {
      const char c = line[digits];
      int v = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (v < 0) break;
      if (size > (UINT64_MAX >> 4)) {
        fail("chunk size overflows 64 bits: " + http1_quoted(line));
        return false;
      }
      size = size << 4 | static_cast<std::uint64_t>(v);
    }
    // chunk-size [ BWS ";" chunk-ext ]: what follows the extensions' ';' is not interpreted.
    const std::string_view rest = http1_trim(line.substr(digits));
    if (digits == 0 || (!rest.empty() && rest.front() != ';') || line.find('\r') != std::string_view::npos) {
      fail("invalid chunk size line " + http1_quoted(line));
      return false;
    }
    if (size == 0) {
      chunk_ = Chunk::trailers;
      line_bytes_ = 0;
    } else {
      chunk_ = Chunk::data;
      remaining_ = size;
    }
    return true;
  }

  std::size_t max_head_bytes_;
  std::string line_;  // a line that did not arrive whole in one feed
  bool line_taken_ = false;
  State state_ = State::head;
  Framing framing_ = Framing::none;
  Chunk chunk_ = Chunk::size_line;
  std::string error_;
  int status_ = 0;
  bool keep_alive_ = false;
  std::optional<std::uint64_t> content_length_;
  bool chunked_ = false;
  std::uint64_t body_bytes_ = 0;
  std::uint64_t remaining_ = 0;  // of the Content-Length body, or of the current chunk
  std::size_t line_bytes_ = 0;   // of the head, the current chunk-size line or the trailers so far
  bool started_ = false;
  // The head being read (start_head()).
  int head_status_ = 0;
  int minor_version_ = 1;
  bool seen_status_line_ = false;
  bool close_token_ = false;
  bool keep_alive_token_ = false;
  bool te_chunked_ = false;
};

}  // namespace servebench::detail
// ---- end servebench/event_loop/http1.hpp ----
// ---- begin servebench/event_loop/levels.hpp ----
// servebench — the closed and the open loop on the event-loop transport: the same levels as scheduler/closed_loop.hpp
// and scheduler/open_loop.hpp (the same options, Level accounting, warm-up, preconnect turns, supervisor, progress and
// result), with the streams carried by a few loop threads instead of a thread each.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// ---- begin servebench/event_loop/loop.hpp ----
// servebench — the event-loop transport's engine: a few threads, each an epoll loop carrying many connections, so a
// stream costs a connection and a few hundred bytes of state instead of a thread and its stack (docs/performance.md,
// "Scale"). Linux only (epoll); plain http only (https: the default transport).
//
// One Stream (stream.hpp) is one connection and at most one request on it, owned by one loop thread for its whole life.
// A loop reads each socket as it becomes readable; the bytes' arrival time is the kernel's receive time of the last
// of them (SO_TIMESTAMPNS, EventLoopOptions::kernel_timestamps), else the time recv() returned, in the thread that
// read them; the reply's bytes go to the same ReplyReader the Driver uses (reply.hpp), so the record, its times
// and its classification are the same as the default transport's. What a stream does next is the StreamHandler's
// (the level runners of levels.hpp): it is called on the stream's loop thread when a connect or a request ends.
//
// Timeouts and deadlines: each loop looks at its streams every 5 ms (at once after cancel_all): a connect longer than
// connect_timeout, a write stalled longer than write_timeout, a reply silent longer than read_timeout, a request past
// its deadline or cancelled, each ends its request as the Driver's would.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

// ---- begin servebench/event_loop/stream.hpp ----
// servebench — the event-loop transport's connections: EventLoopOptions, the Stream (one connection and the request
// on it), the StreamHandler that says what a stream does next (the level runners of levels.hpp), what every loop of
// a level shares, and the helpers a level resolves once (the server's address, the fixed request headers, the cores
// the process may use). The loop that carries the streams is loop.hpp.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>


namespace servebench {

// How the event-loop transport runs.
struct EventLoopOptions {
  // Loop threads; 0: one per core this process may run on (its CPU affinity: taskset, a container's cpuset), else
  // std::thread::hardware_concurrency(). Never more than a level has streams.
  std::size_t threads = 0;
  // When the bytes of a reply arrived: true, the kernel's receive time of each read's last bytes (SO_TIMESTAMPNS),
  // which no wait for the loop's thread moves (a burst of thousands of streams' last events, a busy turn); false,
  // or where the socket gives none, the time recv() returned, in the thread that read them.
  bool kernel_timestamps = true;
};

namespace detail {

// The cores this process may run on (sched_getaffinity), as `nproc` counts them; the machine's when unknown.
inline std::size_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<std::size_t>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// The server's address, resolved once for a level (ok false: the host did not resolve).
struct ResolvedAddress {
  sockaddr_storage address{};
  socklen_t length = 0;
  bool ok = false;
};

inline ResolvedAddress resolve_address(const BaseUrl& url) {
  ResolvedAddress resolved;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found) != 0 || !found) return resolved;
  std::memcpy(&resolved.address, found->ai_addr, found->ai_addrlen);
  resolved.length = static_cast<socklen_t>(found->ai_addrlen);
  resolved.ok = true;
  ::freeaddrinfo(found);
  return resolved;
}

// The start of every request's bytes up to its own Content-Length: request line aside, the same for every request of
// a level.
inline std::string fixed_request_headers(const DriverOptions& options, const BaseUrl& url, bool streaming) {
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string text = "Host: " + (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port) + "\r\n";
  text += std::string("User-Agent: servebench/") + version_string() + "\r\n";
  for (const auto& [name, value] : request_headers(options, streaming)) text += name + ": " + value + "\r\n";
  if (!options.api_key().empty()) text += "Authorization: Bearer " + options.api_key() + "\r\n";
  return text;
}

template <class Api>
class EventLoop;

// One connection to the server and the request on it. Lives on one loop thread; other threads touch only the
// RequestStop flags (cancel).
template <class Api>
struct Stream : RequestStop {
  enum class Phase { closed, connecting, idle, sending, reading };

  std::size_t id = 0;  // the runner's index
  EventLoop<Api>* loop = nullptr;
  int fd = -1;
  std::uint32_t watched = 0;  // the epoll events fd is registered for
  Phase phase = Phase::closed;
  Nanos phase_since = 0;  // connect start, or the last write progress

  // The request in flight (active), or the connect of connect() alone (not active).
  bool active = false;
  Prompt prompt;
  std::uint64_t index = 0;
  Nanos t_sched = 0;
  bool warmup = false;
  RequestRecord record;
  std::optional<ReplyReader<Api>> reader;
  std::string spare_body;  // the last reader's body room, for the next request's
  Http1Response response;
  std::string out;
  std::size_t out_sent = 0;
  Nanos deadline_at = 0;  // 0: none
  bool carried = false;   // this connection carried a reply and was kept alive after it
  bool reused = false;    // the request went out on a connection an earlier one had used
  bool retried = false;   // and was sent again on a new one (see EventLoop::read_some)

  std::uint64_t user = 0;  // the runner's own use (session turn, state)
};

// What a stream does next: the runner's. Called on the stream's loop thread.
template <class Api>
struct StreamHandler {
  // A request ended; its record is complete but for what the scheduler stamps (Level::complete).
  virtual void completed(Stream<Api>& stream, RequestRecord&& record) = 0;
  // A connect() ended: "" or why no connection could be opened; took: how long it took.
  virtual void connected(Stream<Api>& stream, std::string why, Nanos took) = 0;
  // The loop finished a turn (the events of one epoll wait, its due timers): where the runner hands on what it
  // gathered during the turn in one piece (records, one lock for many).
  virtual void turn_ended(EventLoop<Api>& loop) = 0;

 protected:
  ~StreamHandler() = default;
};

// What every loop of a level shares (read-only while the loops run).
template <class Api>
struct EventLoopShared {
  const Api* api = nullptr;
  const DriverOptions* options = nullptr;
  BaseUrl url;
  ResolvedAddress address;
  std::string label;
  std::string fixed_headers[2];   // non-streaming, streaming
  bool kernel_timestamps = true;  // EventLoopOptions::kernel_timestamps
  StreamHandler<Api>* handler = nullptr;
};

}  // namespace detail
}  // namespace servebench
// ---- end servebench/event_loop/stream.hpp ----

namespace servebench {
namespace detail {

inline constexpr Nanos event_loop_scan_ns = 5'000'000;  // timeouts, deadlines and cancels are looked at this often
inline constexpr std::size_t event_loop_read_bytes = 64 * 1024;  // one receive buffer per loop thread
// A turn's first reads (EventLoop::run): up to this many streams, this many bytes each, before any is parsed.
inline constexpr int event_loop_turn_slots = 64;
inline constexpr std::size_t event_loop_slot_bytes = 4 * 1024;

// The kernel's receive time of a read's last bytes (SO_TIMESTAMPNS: the realtime clock), on the steady clock: as
// long before `returned` (when recv() returned) as the realtime clock says it was. `returned` when the read
// carried none, or when the clock was set between the two (the time would fall before `floor`: the request's
// t_send or its last bytes' arrival).
inline Nanos kernel_arrival(msghdr& message, Nanos returned, Nanos floor) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp{};
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    timespec real{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    const Nanos age = (static_cast<Nanos>(real.tv_sec) - static_cast<Nanos>(stamp.tv_sec)) * 1'000'000'000 +
                      (static_cast<Nanos>(real.tv_nsec) - static_cast<Nanos>(stamp.tv_nsec));
    const Nanos arrived = returned - std::max<Nanos>(0, age);
    return arrived >= floor ? arrived : returned;
  }
  return returned;
}

template <class Api>
class EventLoop {
 public:
  using StreamT = Stream<Api>;

  EventLoop(const EventLoopShared<Api>& shared, std::size_t index) : shared_(shared), index_(index) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || wake_fd_ < 0) throw std::runtime_error(std::string("servebench: epoll: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake-up
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }
  ~EventLoop() {
    stop();
    join();
    for (auto& s : streams_)
      if (s->fd >= 0) ::close(s->fd);
    ::close(wake_fd_);
    ::close(epoll_);
  }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void start() {
    publish_streams();
    thread_ = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), "servebench-loop");  // as top -H and perf show it
      run();
    });
  }
  // Any thread: the loop ends after its current turn; requests in flight are left as they are (end them first).
  void stop() {
    stopping_.store(true);
    wake();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  // A new stream of this loop: before start(), or on this loop's thread.
  StreamT& add_stream(std::size_t id) {
    streams_.push_back(std::make_unique<StreamT>());
    StreamT& s = *streams_.back();
    s.id = id;
    s.loop = this;
    return s;
  }
  std::size_t streams() const noexcept { return streams_.size(); }
  std::size_t index() const noexcept { return index_; }  // among the level's loops

  // Any thread: runs `task` on this loop's thread, soon.
  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(posted_mutex_);
      posted_.push_back(std::move(task));
    }
    wake();
  }
  // This loop's thread: runs `task` at `when` (steady nanoseconds), or at once if it has passed.
  void at(Nanos when, std::function<void()> task) { timers_.push(Timer{when, sequence_++, std::move(task)}); }

  // Any thread: every request of this loop in flight ends with `reason`, every later one at once (sticky).
  void cancel_all(ErrorKind reason) {
    for (auto& s : streams_snapshot()) s->cancel_reason = static_cast<int>(reason);
    look_now_.store(true);
    wake();
  }

  // This loop's thread: opens the stream's connection; the handler's connected() follows.
  void connect(StreamT& s) {
    s.active = false;
    if (s.phase != StreamT::Phase::closed) {
      defer_connected(s, {}, 0);
      return;
    }
    open(s);
  }

  // This loop's thread: sends one request on the stream (opening its connection first when it has none); the
  // handler's completed() follows, never from within this call.
  void send(StreamT& s, Prompt prompt, std::uint64_t index, Nanos t_sched, bool warmup) {
    s.active = true;
    s.prompt = std::move(prompt);
    s.index = index;
    s.t_sched = t_sched;
    s.warmup = warmup;
    s.record = RequestRecord{};
    s.record.target = shared_.label;
    s.record.index = index;
    s.record.t_sched = t_sched;
    s.deadline_hit = false;
    RequestRecord& record = s.record;
    if (const auto reason = s.cancelled(); reason != ErrorKind::none) {
      fail(record, reason, "cancelled before sending");
      defer_completed(s);
      return;
    }
    try {
      const PreparedRequest prepared = prepare_request(*shared_.api, *shared_.options, shared_.url, s.prompt);
      s.reader.emplace(*shared_.api, *shared_.options, shared_.url, s, record);
      s.reader->expect(prepared, s.prompt, std::move(s.spare_body));
      s.out.clear();
      s.out.reserve(prepared.path.size() + prepared.body.size() + 256);
      s.out.append("POST ").append(prepared.path).append(" HTTP/1.1\r\n");
      s.out.append(shared_.fixed_headers[prepared.streaming ? 1 : 0]);
      s.out.append("Content-Length: ").append(std::to_string(prepared.body.size())).append("\r\n\r\n");
      s.out.append(prepared.body);
      s.out_sent = 0;
      s.response.reset();
    } catch (const std::exception& e) {
      s.reader.reset();
      fail(record, ErrorKind::other, std::string("unexpected: ") + e.what());
      defer_completed(s);
      return;
    }
    const Nanos sent = now_ns();
    s.reader->sent(sent);
    const Nanos deadline = s.reader->deadline_ns();
    s.deadline_at = deadline > 0 ? sent + deadline : 0;
    // Only a connection that carried a reply: one opened beforehand (preconnect) and closed by the server as this
    // request went out is not retried, as the default transport does not, so no request reaches a server twice.
    s.reused = s.phase == StreamT::Phase::idle && s.carried;
    s.retried = false;
    if (s.phase == StreamT::Phase::idle) {
      begin_write(s);
    } else {
      open(s);  // the record's t_connect says this request waited for its connection
    }
  }

 private:
  struct Timer {
    Nanos when;
    std::uint64_t sequence;  // equal times run in the order they were set
    std::function<void()> task;
    bool operator>(const Timer& other) const {
      return when != other.when ? when > other.when : sequence > other.sequence;
    }
  };

  void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
  }

  std::vector<StreamT*> streams_snapshot() {
    // Streams are added only before start() or on this thread; cancel_all from another thread reads the list
    // under the posted mutex, which add_stream on this thread does not take, so it reads a copy made here.
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    return snapshot_;
  }
  void publish_streams() {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    if (snapshot_.size() == streams_.size()) return;
    snapshot_.clear();
    for (auto& s : streams_) snapshot_.push_back(s.get());
  }

  void watch(StreamT& s, std::uint32_t events, int op) {
    if (op == EPOLL_CTL_MOD && s.watched == events) return;  // one epoll_ctl less per request
    s.watched = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &s;
    ::epoll_ctl(epoll_, op, s.fd, &ev);
  }

  void close_stream(StreamT& s) {
    if (s.fd >= 0) ::close(s.fd);  // also leaves the epoll set
    s.fd = -1;
    s.phase = StreamT::Phase::closed;
    s.carried = false;
  }

  void open(StreamT& s) {
    const Nanos start = now_ns();
    s.phase_since = start;
    if (!shared_.address.ok) {
      connect_failed(s, TransportFailure::connect, start);
      return;
    }
    const int fd = ::socket(shared_.address.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int error = errno;
      connect_failed(s, TransportFailure::other, start,
                     std::string("cannot open a socket (") + std::strerror(error) + ")" +
                         (error == EMFILE || error == ENFILE
                              ? ": every stream holds one; raise the open-file limit (ulimit -n) above the streams"
                              : ""));
      return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (shared_.kernel_timestamps) ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    s.fd = fd;
    s.phase = StreamT::Phase::connecting;
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&shared_.address.address), shared_.address.length);
    if (rc != 0 && errno != EINPROGRESS) {
      const int error = errno;
      close_stream(s);
      connect_failed(s, error == ETIMEDOUT ? TransportFailure::connect_timeout : TransportFailure::connect, start);
      return;
    }
    watch(s, EPOLLOUT | EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
  }

  void connect_failed(StreamT& s, TransportFailure failure, Nanos start, std::string detail = {}) {
    if (s.active) {
      finish_later(s, failure, std::move(detail));
    } else {
      defer_connected(s, connect_failure(*shared_.options, shared_.url, failure, detail), now_ns() - start);
    }
  }

  void on_connected(StreamT& s) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    const Nanos now = now_ns();
    if (error != 0) {
      close_stream(s);
      connect_failed(s, error == ETIMEDOUT ? TransportFailure::connect_timeout : TransportFailure::connect,
                     s.phase_since);
      return;
    }
    s.phase = StreamT::Phase::idle;
    watch(s, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
    if (s.active) {
      s.record.t_connect = now;
      begin_write(s);
    } else {
      shared_.handler->connected(s, {}, now - s.phase_since);
    }
  }

  void begin_write(StreamT& s) {
    s.phase = StreamT::Phase::sending;
    s.phase_since = now_ns();
    write_more(s);
  }

  void write_more(StreamT& s) {
    while (s.out_sent < s.out.size()) {
      const ssize_t n = ::send(s.fd, s.out.data() + s.out_sent, s.out.size() - s.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        s.out_sent += static_cast<std::size_t>(n);
        s.phase_since = now_ns();
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        watch(s, EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      abort(s, TransportFailure::write);
      return;
    }
    s.phase = StreamT::Phase::reading;
    watch(s, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
  }

  void on_ready(StreamT& s, std::uint32_t events) {
    switch (s.phase) {
      case StreamT::Phase::connecting:
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(s);
        return;
      case StreamT::Phase::sending:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
          read_some(s);  // the server answered (or closed) before taking the whole request
          return;
        }
        if (events & EPOLLOUT) write_more(s);
        return;
      case StreamT::Phase::reading: read_some(s); return;
      case StreamT::Phase::idle: close_stream(s); return;  // the server closed a kept-alive connection (or spoke)
      case StreamT::Phase::closed: return;
    }
  }

  // What one recv() brought: n (-1 on an error, then `error`), and when, taken right after it returned.
  struct Received {
    int fd = -1;
    ssize_t n = 0;
    int error = 0;
    Nanos arrived = 0;
    const char* data = nullptr;
    std::size_t capacity = 0;
  };

  static Received receive(const StreamT& s, char* into, std::size_t capacity) {
    Received r;
    r.fd = s.fd;
    r.data = into;
    r.capacity = capacity;
    iovec piece{into, capacity};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr message{};
    do {
      message.msg_iov = &piece;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      r.n = ::recvmsg(s.fd, &message, 0);
    } while (r.n < 0 && errno == EINTR);
    r.error = r.n < 0 ? errno : 0;
    r.arrived = now_ns();  // first: in the thread that read the bytes, before parsing them
    if (r.n > 0) r.arrived = kernel_arrival(message, r.arrived, s.reader ? s.reader->last_activity() : s.phase_since);
    return r;
  }

  void read_some(StreamT& s) { consume(s, receive(s, buffer_.get(), event_loop_read_bytes)); }

  // The bytes of one recv(), read: HTTP, then the reply.
  void consume(StreamT& s, const Received& got) {
    const ssize_t n = got.n;
    const Nanos arrived = got.arrived;
    if (n < 0 && (got.error == EAGAIN || got.error == EWOULDBLOCK)) return;
    if (n <= 0 && s.reused && !s.retried && !s.response.started()) {
      // A kept-alive connection the server closed as this request went out (its idle timeout, its
      // requests-per-connection limit): nothing of a reply came, so the server never answered it. Sent once more
      // on a new connection, as HTTP clients do; t_send stays, so the wait counts, and t_connect says so.
      s.retried = true;
      close_stream(s);
      s.out_sent = 0;
      s.response.reset();
      open(s);
      return;
    }
    if (n < 0) {
      abort(s, TransportFailure::read, arrived);
      return;
    }
    auto& reader = *s.reader;
    if (n == 0) {
      s.response.on_eof();
      if (s.response.state() == Http1Response::State::done) {
        close_stream(s);
        finish(s, TransportFailure::none, arrived);
      } else {
        abort(s, TransportFailure::read, arrived);
      }
      return;
    }
    bool go_on = true;
    const std::string_view data(got.data, static_cast<std::size_t>(n));
    const std::size_t used = s.response.feed(
        data,
        [&] {
          reader.on_status(s.response.status(), arrived);
          return true;
        },
        [&](const char* bytes, std::size_t length) { return go_on = reader.on_bytes(arrived, bytes, length); });
    if (!go_on) {
      abort(s, TransportFailure::other, arrived,
            "stopped reading");  // the record says why (too large, bad event, stop)
      return;
    }
    switch (s.response.state()) {
      case Http1Response::State::error:
        abort(s, TransportFailure::other, arrived, "the reply is not valid HTTP/1.1 (" + s.response.error() + ")");
        return;
      case Http1Response::State::done:
        // Bytes past the reply (nothing was asked for them) or a server that will close: a fresh connection next.
        if (!s.response.keep_alive() || used < data.size())
          close_stream(s);
        else
          s.phase = StreamT::Phase::idle, s.carried = true;
        finish(s, TransportFailure::none, arrived);
        return;
      default: return;
    }
  }

  // Ends the request in flight now: its connection cannot carry another.
  void abort(StreamT& s, TransportFailure failure, Nanos at = 0, std::string detail = {}) {
    close_stream(s);
    if (s.active) finish(s, failure, at ? at : now_ns(), std::move(detail));
  }

  void finish(StreamT& s, TransportFailure failure, Nanos at, std::string detail = {}) {
    if (!s.active) return;
    if (s.reader) {
      s.reader->finish(failure, at, detail);
      s.spare_body = s.reader->release_buffer();
    }
    s.reader.reset();
    hand_over(s);
  }
  // The request's record to the handler; the stream is free for the next one.
  void hand_over(StreamT& s) {
    s.active = false;
    RequestRecord record = std::move(s.record);
    s.record = RequestRecord{};
    shared_.handler->completed(s, std::move(record));
  }

  // Ends the request on the loop's next turn (a failure before anything was sent), so that completed() is never
  // called from within send().
  void finish_later(StreamT& s, TransportFailure failure, std::string detail) {
    post_local([this, &s, failure, detail = std::move(detail)] { finish(s, failure, now_ns(), detail); });
  }
  void defer_completed(StreamT& s) {
    post_local([this, &s] { hand_over(s); });
  }
  void defer_connected(StreamT& s, std::string why, Nanos took) {
    post_local(
        [this, &s, why = std::move(why), took]() mutable { shared_.handler->connected(s, std::move(why), took); });
  }
  void post_local(std::function<void()> task) { local_.push_back(std::move(task)); }

  // Each request in flight: cancelled, past its deadline, or past a timeout.
  void look(Nanos now) {
    const DriverOptions& o = *shared_.options;
    const Nanos connect_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(o.connect_timeout()).count();
    const Nanos write_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(o.write_timeout()).count();
    const Nanos read_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(o.read_timeout()).count();
    for (auto& owned : streams_) {
      StreamT& s = *owned;
      if (s.phase == StreamT::Phase::connecting && now - s.phase_since >= connect_ns) {
        close_stream(s);
        connect_failed(s, TransportFailure::connect_timeout, s.phase_since);
        continue;
      }
      if (!s.active || !s.reader) continue;
      if (s.cancelled() == ErrorKind::none && s.deadline_at != 0 && now >= s.deadline_at) s.deadline_hit = true;
      if (s.stopped()) {
        abort(s, TransportFailure::other, now, "stopped");
      } else if (s.phase == StreamT::Phase::sending && now - s.phase_since >= write_ns) {
        abort(s, TransportFailure::write, now);
      } else if (s.phase == StreamT::Phase::reading && now - s.reader->last_activity() >= read_ns) {
        abort(s, TransportFailure::read, now);
      }
    }
  }

  void run_posted() {
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(posted_mutex_);
      tasks.swap(posted_);
    }
    for (auto& t : tasks) t();
  }

  void run_local() {
    while (!local_.empty()) {
      std::vector<std::function<void()>> tasks;
      tasks.swap(local_);
      for (auto& t : tasks) t();
    }
  }

  void wait(Nanos until, epoll_event* events, int capacity, int& ready) {
    const Nanos left = std::max<Nanos>(0, until - now_ns());
#ifdef SYS_epoll_pwait2
    if (use_pwait2_) {
      timespec timeout{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
      ready = static_cast<int>(::syscall(SYS_epoll_pwait2, epoll_, events, capacity, &timeout, nullptr, 0));
      if (ready >= 0 || errno != ENOSYS) return;
      use_pwait2_ = false;  // a kernel older than 5.11: whole milliseconds, rounded up
    }
#endif
    ready = ::epoll_wait(epoll_, events, capacity, static_cast<int>((left + 999'999) / 1'000'000));
  }

  void run() {
    constexpr int capacity = 256;
    epoll_event events[capacity];
    Nanos next_look = now_ns() + event_loop_scan_ns;
    while (!stopping_.load()) {
      publish_streams();
      run_local();
      Nanos until = next_look;
      if (!timers_.empty()) until = std::min(until, timers_.top().when);
      if (!local_.empty()) until = 0;
      int ready = 0;
      wait(until, events, capacity, ready);
      // Two passes: first every stream that has bytes of a reply is read and timestamped, then the bytes are
      // parsed and the requests that ended are completed. A burst of replies (every stream's last token in one
      // engine step) then puts only the recv() calls before the last stream's arrival time, not the parsing and
      // the record of every reply ahead of it in the turn.
      const int early = std::min(ready, event_loop_turn_slots);
      for (int i = 0; i < early; ++i) {
        received_[i].fd = -1;
        auto* s = static_cast<StreamT*>(events[i].data.ptr);
        if (s != nullptr && s->phase == StreamT::Phase::reading)
          received_[i] = receive(*s, turn_buffer_.get() + i * event_loop_slot_bytes, event_loop_slot_bytes);
      }
      for (int i = 0; i < ready; ++i) {
        if (events[i].data.ptr == nullptr) {
          std::uint64_t count = 0;
          [[maybe_unused]] const auto got = ::read(wake_fd_, &count, sizeof count);
          run_posted();
          continue;
        }
        auto& s = *static_cast<StreamT*>(events[i].data.ptr);
        if (i < early && received_[i].fd >= 0) {
          // Still the connection it was read from (another stream's completion may have cancelled them all).
          if (s.fd != received_[i].fd || s.phase != StreamT::Phase::reading) continue;
          const bool full = received_[i].n == static_cast<ssize_t>(received_[i].capacity);
          consume(s, received_[i]);
          if (full && s.fd == received_[i].fd && s.phase == StreamT::Phase::reading) read_some(s);  // more waits
          continue;
        }
        on_ready(s, events[i].events);
      }
      Nanos now = now_ns();
      while (!timers_.empty() && timers_.top().when <= now) {
        auto task = std::move(const_cast<Timer&>(timers_.top()).task);
        timers_.pop();
        task();
        now = now_ns();
      }
      if (now >= next_look || look_now_.exchange(false)) {
        look(now);
        next_look = now + event_loop_scan_ns;
      }
      run_local();
      shared_.handler->turn_ended(*this);
    }
  }

  const EventLoopShared<Api>& shared_;
  const std::size_t index_;
  int epoll_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> look_now_{false};
  bool use_pwait2_ = true;
  std::vector<std::unique_ptr<StreamT>> streams_;
  std::mutex snapshot_mutex_;
  std::vector<StreamT*> snapshot_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> local_;  // this thread's own deferred work
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::uint64_t sequence_ = 0;
  std::unique_ptr<char[]> buffer_ = std::make_unique<char[]>(event_loop_read_bytes);
  // Not zeroed: a slot's pages are touched (resident) only once a turn has that many readable streams.
  std::unique_ptr<char[]> turn_buffer_{
      new char[static_cast<std::size_t>(event_loop_turn_slots) * event_loop_slot_bytes]};
  Received received_[event_loop_turn_slots];
};

}  // namespace detail
}  // namespace servebench
// ---- end servebench/event_loop/loop.hpp ----

namespace servebench::detail {

// The loops of one level and what they share; stopped and joined on destruction.
template <class Api>
class EventLoops {
 public:
  EventLoops(const Api& api, const DriverOptions& options, const std::string& label, std::size_t streams,
             const EventLoopOptions& loop, StreamHandler<Api>& handler) {
    shared_.api = &api;
    shared_.options = &options;
    shared_.url = parse_base_url(options.base_url());
    if (shared_.url.scheme != "http")
      throw std::invalid_argument("servebench: the event-loop transport speaks plain http only, not " +
                                  shared_.url.scheme + " (" + options.base_url() +
                                  "); use the default transport for https");
    shared_.address = resolve_address(shared_.url);
    shared_.label = label;
    shared_.fixed_headers[0] = fixed_request_headers(options, shared_.url, false);
    shared_.fixed_headers[1] = fixed_request_headers(options, shared_.url, true);
    shared_.kernel_timestamps = loop.kernel_timestamps;
    shared_.handler = &handler;
    std::size_t threads = loop.threads;
    if (threads == 0) threads = usable_cores();
    threads = std::max<std::size_t>(1, std::min(threads, std::max<std::size_t>(1, streams)));
    for (std::size_t i = 0; i < threads; ++i) loops_.push_back(std::make_unique<EventLoop<Api>>(shared_, i));
  }
  ~EventLoops() {
    for (auto& l : loops_) l->stop();
    for (auto& l : loops_) l->join();
  }
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;

  std::size_t size() const noexcept { return loops_.size(); }
  EventLoop<Api>& operator[](std::size_t i) { return *loops_[i]; }
  void start() {
    for (auto& l : loops_) l->start();
  }
  void cancel_all(ErrorKind reason) {
    for (auto& l : loops_) l->cancel_all(reason);
  }

 private:
  EventLoopShared<Api> shared_;
  std::vector<std::unique_ptr<EventLoop<Api>>> loops_;
};

// The supervising thread's part of a level, the same for both loops: interrupt, timeout and progress until
// `finished()`. `step()` does the supervisor's own work each look and returns when it wants to look again (0: no
// sooner than usual).
template <class Options, class Finished, class Step>
void supervise_until(Level<Options>& level, Nanos level_start, Finished finished, Step step) {
  while (!finished()) {
    level.supervise(level_start);
    const Nanos wake = step();
    level.wait_for_change(level.next_look(level_start, wake ? wake : now_ns() + 200'000'000));
  }
}

// Hands the Level's preconnect turns (a few at a time, spaced) to streams `next`..`count`-1: start(i) posts stream
// i's connect to its loop; once a failure ends the opening (or the level stops), skip(i) sends each one left on
// without. Returns when the next turn comes (0: none left).
template <class Options, class Start, class Skip>
Nanos hand_out_connects(Level<Options>& level, std::size_t& next, std::size_t count, Start start, Skip skip) {
  while (next < count) {
    Nanos until = 0;
    if (level.try_begin_connect(now_ns(), until)) {
      start(next++);
      continue;
    }
    if (until != 0) return until;
    for (; next < count; ++next) skip(next);
  }
  return 0;
}

template <class Api>
class EventClosedLoop final : StreamHandler<Api> {
 public:
  EventClosedLoop(const ClosedLoop& options, const Workload& workload, const TargetInfo& info, const Api& api,
                  const DriverOptions& driver_options, const EventLoopOptions& loop_options)
      : options_(options), info_(info), level_(options, workload),
        request_limit_(planned_requests(options, workload, "run_closed_loop")), streams_(options.concurrency()),
        slots_(options.concurrency()),
        loops_(api, driver_options, info.label, options.concurrency(), loop_options, *this) {
    turns_.resize(loops_.size());
  }

  LevelResult run() {
    InterruptScope interrupt_scope(options_.handle_signals());
    const auto watching = start_watching(options_, &info_);
    const Nanos level_start = now_ns();
    const Nanos duration = options_.duration().count();
    for (std::size_t i = 0; i < streams_; ++i) {
      auto& s = loops_[i % loops_.size()].add_stream(i);
      slots_[i].stream = &s;
      slots_[i].phase = options_.preconnect() ? Phase::preconnect : Phase::warmup;
    }
    level_.register_canceller([this](ErrorKind reason) { loops_.cancel_all(reason); });
    loops_.start();
    if (!options_.preconnect()) begin_all(Phase::warmup);

    ProgressLine progress(progress_enabled(options_.quiet()), level_label(info_.label, level_config(options_)));
    std::size_t next_connect = options_.preconnect() ? 0 : streams_;
    supervise_until(
        level_, level_start, [&] { return finished_.load() == streams_; },
        [&] {
          const Nanos wake = hand_out_connects(
              level_, next_connect, streams_,
              [&](std::size_t i) {
                Slot& slot = slots_[i];
                slot.stream->loop->post([&slot] { slot.stream->loop->connect(*slot.stream); });
              },
              [&](std::size_t i) { post_next(slots_[i], Phase::warmup); });
          const Nanos measured_start = measured_start_.load();
          if (measured_start)
            progress.update(level_.done(), request_limit_, level_.failed(), measured_start,
                            duration > 0 ? measured_start + duration : 0);
          return wake;
        });
    if (measured_start_.load())
      progress.update(level_.done(), request_limit_, level_.failed(), measured_start_.load(), 0, true);
    LevelResult result = level_.finish(&info_, 0);
    if (watching) watching(result);
    return result;
  }

 private:
  enum class Phase { preconnect, warmup, barrier, measured, done };
  // What one loop gathered during its turn; touched only by that loop's thread.
  struct Turn {
    std::vector<RequestRecord> records;
    bool warmup = false;    // a warm-up request ended
    std::size_t ended = 0;  // streams that finished
  };
  struct Slot {
    Stream<Api>* stream = nullptr;
    Phase phase = Phase::warmup;
    std::uint64_t first = 0;  // the session's first request
    std::uint64_t turn = 0;   // its next turn
  };

  void completed(Stream<Api>& s, RequestRecord&& record) override {
    Level<ClosedLoop>::expected(s.prompt, record);
    Turn& turn = turns_[s.loop->index()];
    if (level_.count(record, s.index, s.t_sched, s.warmup)) turn.records.push_back(std::move(record));
    turn.warmup = turn.warmup || s.warmup;
    next(slots_[s.id]);
  }
  void turn_ended(EventLoop<Api>& loop) override {
    Turn& turn = turns_[loop.index()];
    level_.keep_batch(turn.records);
    if (turn.warmup) level_.notify(), turn.warmup = false;
    if (turn.ended == 0) return;  // streams count as finished only once their records are kept
    const std::size_t ended = turn.ended;
    turn.ended = 0;
    if (finished_.fetch_add(ended) + ended == streams_) level_.notify();
  }
  void connected(Stream<Api>& s, std::string why, Nanos took) override {
    level_.end_connect(std::move(why), took);
    level_.notify();  // the supervisor hands out the next turn
    slots_[s.id].phase = Phase::warmup;
    next(slots_[s.id]);
  }

  void post_next(Slot& slot, Phase phase) {
    slot.stream->loop->post([this, &slot, phase] {
      slot.phase = phase;
      next(slot);
    });
  }
  void begin_all(Phase phase) {
    for (auto& slot : slots_) post_next(slot, phase);
  }

  void send(Slot& slot, std::uint64_t index, bool warmup) {
    Stream<Api>& s = *slot.stream;
    Prompt prompt;
    try {
      prompt = level_.begin(index, warmup);
    } catch (const std::exception& e) {
      // The workload could not give this prompt: a failed record, on the loop's next turn (no recursion).
      s.loop->post([this, &slot, index, warmup, why = std::string(e.what())] {
        level_.complete(Level<ClosedLoop>::failed_record("sender threw: " + why), index, now_ns(), warmup);
        next(slot);
      });
      return;
    }
    s.loop->send(s, std::move(prompt), index, now_ns(), warmup);
  }

  // This stream's next step, on its loop thread.
  void next(Slot& slot) {
    switch (slot.phase) {
      case Phase::preconnect: return;
      case Phase::warmup: {
        if (!level_.stopping()) {
          const std::uint64_t i = next_warmup_.fetch_add(1);
          if (i < options_.warmup()) {
            send(slot, i, true);
            return;
          }
        }
        slot.phase = Phase::barrier;
        if (arrived_.fetch_add(1) + 1 == streams_) {  // the last to arrive starts the measured clock
          measured_start_.store(now_ns());
          begin_all(Phase::measured);
        }
        return;
      }
      case Phase::barrier: return;
      case Phase::measured: measured_next(slot); return;
      case Phase::done: return;
    }
  }

  void measured_next(Slot& slot) {
    const std::uint64_t turns = std::max<std::size_t>(1, options_.session_turns());
    const Nanos duration = options_.duration().count();
    if (level_.stopping()) return end(slot);
    if (slot.turn == 0 || slot.turn >= turns) {  // a new session (or a single request)
      if (duration > 0 && now_ns() >= measured_start_.load() + duration) return end(slot);
      slot.first = next_request_.fetch_add(1) * turns;
      slot.turn = 0;
    }
    const std::uint64_t i = slot.first + slot.turn;
    if (request_limit_ > 0 && i >= request_limit_) return end(slot);
    const bool think = slot.turn > 0 && options_.think_time().count() > 0;
    ++slot.turn;
    if (think) {
      slot.stream->loop->at(now_ns() + options_.think_time().count(), [this, &slot, i] {
        if (level_.stopping()) return end(slot);
        send(slot, i, false);
      });
      return;
    }
    send(slot, i, false);
  }

  void end(Slot& slot) {
    if (slot.phase == Phase::done) return;
    slot.phase = Phase::done;
    ++turns_[slot.stream->loop->index()].ended;
  }

  const ClosedLoop& options_;
  const TargetInfo& info_;
  Level<ClosedLoop> level_;
  const std::uint64_t request_limit_;
  const std::size_t streams_;
  std::vector<Slot> slots_;
  std::vector<Turn> turns_;  // one per loop
  EventLoops<Api> loops_;    // last: its threads stop before anything they touch goes
  std::atomic<std::uint64_t> next_warmup_{0}, next_request_{0};
  std::atomic<std::size_t> arrived_{0}, finished_{0};
  std::atomic<Nanos> measured_start_{0};
};

// The open loop: arrival i is sent by loop i % loops, from that loop's own timer at its arrival time, on a stream of
// that loop that is free (or a new one, which connects first: its record's t_connect says so). A cap on requests in
// flight (max_in_flight) is shared out among the loops: an arrival that finds its loop at its share waits there
// for a stream of the same loop to finish. The first streams (as many as the thread version starts workers) open
// their connections before warm-up and the clock, in the preconnect turns.
template <class Api>
class EventOpenLoop final : StreamHandler<Api> {
 public:
  EventOpenLoop(const OpenLoop& options, const Workload& workload, const TargetInfo& info, const Api& api,
                const DriverOptions& driver_options, const EventLoopOptions& loop_options)
      : options_(options), info_(info), level_(options, workload), offsets_(arrival_offsets(options, workload.size())),
        loops_(api, driver_options, info.label, streams_wanted(options, offsets_.size()), loop_options, *this) {
    states_.resize(loops_.size());
    // The cap shared out exactly: loop l may have cap / loops requests in flight, one more for the first cap % loops
    // (never fewer loops than the cap lets carry one: streams_wanted).
    const std::size_t cap = options.max_in_flight();
    for (std::size_t l = 0; l < states_.size(); ++l)
      states_[l].share = cap ? cap / states_.size() + (l < cap % states_.size() ? 1 : 0) : 0;
  }

  LevelResult run() {
    InterruptScope interrupt_scope(options_.handle_signals());
    const auto watching = start_watching(options_, &info_);
    const Nanos level_start = now_ns();
    const std::size_t loops = loops_.size();
    // As many connections opened beforehand as the thread version starts workers.
    const std::size_t initial = open_loop_initial_senders(offsets_, options_.max_in_flight());
    std::vector<Stream<Api>*> opening;
    for (std::size_t i = 0; i < initial; ++i) opening.push_back(&loops_[i % loops].add_stream(i));
    for (std::size_t l = 0; l < loops; ++l) states_[l].loop = &loops_[l];
    level_.register_canceller([this](ErrorKind reason) { loops_.cancel_all(reason); });
    loops_.start();
    if (!options_.preconnect()) {
      for (auto* s : opening) free_later(*s);
      opened_.store(opening.size());
    }

    // Preconnect turns, then warm-up (all at once, within the cap), then the arrival clock.
    std::size_t next_connect = options_.preconnect() ? 0 : opening.size();
    const auto connect_turns = [&] {
      return hand_out_connects(
          level_, next_connect, opening.size(),
          [&](std::size_t i) {
            Stream<Api>* s = opening[i];
            s->loop->post([s] { s->loop->connect(*s); });
          },
          [&](std::size_t i) { free_later(*opening[i]), opened_++; });
    };
    supervise_until(
        level_, level_start, [&] { return opened_.load() == opening.size() || level_.stopping(); }, connect_turns);
    const auto label = level_label(info_.label, level_config(options_));
    ProgressLine progress(progress_enabled(options_.quiet()), label);
    for (std::uint64_t i = 0; i < options_.warmup(); ++i)
      loops_[i % loops].post([this, l = i % loops, i] { arrive(states_[l], Job{i, 0, true}); });
    supervise_until(
        level_, level_start, [&] { return level_.warmup_done() >= options_.warmup() || level_.stopping(); },
        [] { return Nanos{0}; });

    const Nanos t0 = now_ns();
    const Nanos planned_end = offsets_.empty() ? t0 : t0 + offsets_.back();
    for (std::size_t l = 0; l < loops; ++l) loops_[l].post([this, l, t0] { schedule(states_[l], l, t0); });
    supervise_until(
        level_, level_start, [&] { return finished_loops_.load() == loops && level_.in_flight() == 0; },
        [&] {
          if (level_.stopping()) stop_scheduling();
          progress.update(level_.done(), offsets_.size(), level_.failed(), t0, planned_end);
          return Nanos{0};
        });
    progress.update(level_.done(), offsets_.size(), level_.failed(), t0, 0, true);
    const std::size_t never_sent = offsets_.size() - static_cast<std::size_t>(level_.done());
    LevelResult result = level_.finish(&info_, never_sent);
    if (watching) watching(result);
    return result;
  }

 private:
  struct Job {
    std::uint64_t index;
    Nanos t_sched;  // 0: warm-up, now
    bool warmup;
  };
  // One loop's share of the level; touched only on that loop's thread.
  struct LoopState {
    EventLoop<Api>* loop = nullptr;
    std::size_t share = 0;           // requests in flight this loop may have; 0: no cap
    std::vector<Stream<Api>*> free;  // streams without a request
    std::deque<Job> waiting;         // arrivals that found the loop at its share of the cap
    std::size_t in_flight = 0;
    std::size_t streams = 0;
    std::size_t next = 0;                // this loop's arrivals scheduled so far
    std::vector<RequestRecord> records;  // ended this turn (turn_ended keeps them)
    bool warmup_ended = false;
    bool finished = false;  // no more arrivals for this loop
    bool counted = false;   // in finished_loops_
  };

  // The most streams the level may use: what bounds the loops' count (a cap of 3 takes at most 3 loops).
  static std::size_t streams_wanted(const OpenLoop& options, std::size_t arrivals) {
    const std::size_t all = std::max<std::size_t>(1, arrivals + options.warmup());
    return options.max_in_flight() ? std::min(all, options.max_in_flight()) : all;
  }

  void completed(Stream<Api>& s, RequestRecord&& record) override {
    Level<OpenLoop>::expected(s.prompt, record);
    LoopState& state = state_of(s);
    if (level_.count(record, s.index, s.t_sched, s.warmup)) state.records.push_back(std::move(record));
    state.warmup_ended = state.warmup_ended || s.warmup;
    --state.in_flight;
    state.free.push_back(&s);
    if (!state.waiting.empty() && !level_.stopping()) {
      const Job job = state.waiting.front();
      state.waiting.pop_front();
      arrive(state, job);
    }
  }
  void turn_ended(EventLoop<Api>& loop) override {
    LoopState& state = states_[loop.index()];
    level_.keep_batch(state.records);
    if (state.warmup_ended) level_.notify(), state.warmup_ended = false;
    check_finished(state);  // only once its records are kept
  }
  void connected(Stream<Api>& s, std::string why, Nanos took) override {
    level_.end_connect(std::move(why), took);
    state_of(s).free.push_back(&s);
    ++state_of(s).streams;
    opened_.fetch_add(1);
    level_.notify();
  }

  LoopState& state_of(Stream<Api>& s) { return states_[s.loop->index()]; }
  void free_later(Stream<Api>& s) {
    s.loop->post([this, &s] {
      state_of(s).free.push_back(&s);
      ++state_of(s).streams;
    });
  }

  // This loop's arrivals, each at its time: the next one is set as a timer when the one before is sent.
  void schedule(LoopState& state, std::size_t l, Nanos t0) {
    const std::size_t i = next_arrival_of(state, l);
    if (i >= offsets_.size() || level_.stopping()) {
      state.finished = true;
      state.waiting.clear();
      return;
    }
    const Nanos at = t0 + offsets_[i];
    state.loop->at(at, [this, &state, l, t0, i, at] {
      ++state.next;
      if (!level_.stopping()) arrive(state, Job{i, at, false});
      schedule(state, l, t0);
    });
  }
  std::size_t next_arrival_of(LoopState& state, std::size_t l) const { return l + state.next * loops_.size(); }

  // A request that is due: on a free stream of this loop, a new one, or waiting for one (the cap).
  void arrive(LoopState& state, const Job& job) {
    if (state.share && state.in_flight >= state.share) {
      state.waiting.push_back(job);
      return;
    }
    Stream<Api>* s = nullptr;
    if (!state.free.empty()) {
      s = state.free.back();
      state.free.pop_back();
    } else {
      s = &state.loop->add_stream(state.streams++);
    }
    ++state.in_flight;
    Prompt prompt;
    try {
      prompt = level_.begin(job.index, job.warmup);
    } catch (const std::exception& e) {
      state.loop->post([this, s, job, why = std::string(e.what())] {
        level_.complete(Level<OpenLoop>::failed_record("sender threw: " + why), job.index,
                        job.t_sched ? job.t_sched : now_ns(), job.warmup);
        LoopState& st = state_of(*s);
        --st.in_flight;
        st.free.push_back(s);
      });
      return;
    }
    s->loop->send(*s, std::move(prompt), job.index, job.t_sched ? job.t_sched : now_ns(), job.warmup);
  }

  void check_finished(LoopState& state) {
    if (state.finished && !state.counted && state.in_flight == 0) {
      state.counted = true;
      finished_loops_.fetch_add(1);
      level_.notify();
    }
  }

  void stop_scheduling() {
    for (std::size_t l = 0; l < loops_.size(); ++l)
      loops_[l].post([this, l] {
        LoopState& state = states_[l];
        state.waiting.clear();
        state.finished = true;
      });
  }

  const OpenLoop& options_;
  const TargetInfo& info_;
  Level<OpenLoop> level_;
  const std::vector<Nanos> offsets_;
  std::atomic<std::size_t> opened_{0}, finished_loops_{0};
  std::vector<LoopState> states_;  // one per loop
  EventLoops<Api> loops_;          // last: its threads stop before anything they touch goes
};

}  // namespace servebench::detail
// ---- end servebench/event_loop/levels.hpp ----

namespace servebench {

// A target speaking dialect `Api` whose levels run on the event loop. Throws std::invalid_argument when the base URL
// cannot be parsed or is not http://.
template <class Api>
Target make_event_loop_target(DriverOptions options, EventLoopOptions loop = {}, Api api = {}) {
  if (detail::parse_base_url(options.base_url()).scheme != "http")
    throw std::invalid_argument("servebench: the event-loop transport speaks plain http only (" + options.base_url() +
                                "); use the default transport (make_target) for https");
  Target target = make_target<Api>(options, api);
  options.label(target.info.label);
  struct Settings {
    DriverOptions options;
    EventLoopOptions loop;
    Api api;
  };
  auto settings = std::make_shared<const Settings>(Settings{std::move(options), loop, std::move(api)});
  target.runs_levels.closed_loop = [settings](const ClosedLoop& o, const Workload& w, const TargetInfo& info) {
    if (o.concurrency() == 0) throw std::invalid_argument("servebench::run_closed_loop: concurrency must be > 0");
    detail::EventClosedLoop<Api> level(o, w, info, settings->api, settings->options, settings->loop);
    return level.run();
  };
  target.runs_levels.open_loop = [settings](const OpenLoop& o, const Workload& w, const TargetInfo& info) {
    detail::EventOpenLoop<Api> level(o, w, info, settings->api, settings->options, settings->loop);
    return level.run();
  };
  return target;
}

}  // namespace servebench
// ---- end servebench/event_loop.hpp ----
