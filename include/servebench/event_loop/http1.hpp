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
#pragma once

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
