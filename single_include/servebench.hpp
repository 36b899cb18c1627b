// servebench 0.1.0 -- single-header edition.
//
// GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench.hpp and the headers it
// includes; edit those and run `python3 tools/amalgamate.py`. Dependencies stay external: compile with
// -std=c++17 and the flags of nlohmann_json and cpp-httplib, e.g.
//   g++ -std=c++17 -I single_include app.cpp $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread
// The parts included on purpose are files of their own beside this one: servebench_metrics.hpp, servebench_workloads.hpp, servebench_html_report.hpp, servebench_sim.hpp, servebench_event_loop.hpp.
//
// Contents, in order:
//   servebench.hpp
//   servebench/api.hpp
//   servebench/pruned_json.hpp
//   servebench/json_scanner.hpp
//   servebench/record.hpp
//   servebench/serialize.hpp
//   servebench/deferred.hpp
//   servebench/stats.hpp
//   servebench/workload.hpp
//   servebench/artifact.hpp
//   servebench/files.hpp
//   servebench/repetitions.hpp
//   servebench/result.hpp
//   servebench/metrics/series.hpp
//   servebench/version.hpp
//   servebench/chart.hpp
//   servebench/chart/primitives.hpp
//   servebench/chart/timeline.hpp
//   servebench/driver.hpp
//   servebench/connection.hpp
//   servebench/url.hpp
//   servebench/driver_options.hpp
//   servebench/reply.hpp
//   servebench/sse.hpp
//   servebench/watchdog.hpp
//   servebench/modelled_time.hpp
//   servebench/ready.hpp
//   servebench/scheduler/interrupt.hpp
//   servebench/record_stream.hpp
//   servebench/report.hpp
//   servebench/scheduler.hpp
//   servebench/scheduler/arrivals.hpp
//   servebench/scheduler/options.hpp
//   servebench/scheduler/closed_loop.hpp
//   servebench/target.hpp
//   servebench/scheduler/level.hpp
//   servebench/scheduler/progress.hpp
//   servebench/scheduler/open_loop.hpp
//   servebench/scheduler/sweep.hpp
#pragma once

// ---- begin servebench.hpp ----
// servebench — the measurement core in one include: statistics, records, dialects, the driver, workloads of fixed,
// templated and JSONL prompts, the scheduler, artifacts, reports (text, markdown), charts, and the series of a
// server's own metrics that a level keeps.
//
// Parts of their own, each included on purpose, so that a program that does not use one never compiles it:
//   <servebench/sim.hpp>          the simulated servers (CMake target servebench::sim)
//   <servebench/metrics.hpp>      the Prometheus text format and the scraper that reads a server's /metrics
//   <servebench/workloads.hpp>    exact-length prompts from the server's tokenizer, length distributions, data sets
//                                 (ShareGPT, JSONL), trace replay and multi-turn sessions
//   <servebench/html_report.hpp>  the self-contained HTML report
// Each has a single header of its own in single_include/, beside the core's.

// ---- begin servebench/api.hpp ----
// servebench — request/response dialects: how a prompt becomes an HTTP request body, and how a reply (a whole JSON
// body, or one Server-Sent-Event at a time) becomes text and token counts.
//
// A dialect is a small struct a user can write themselves (examples/custom_dialect.cpp shows one):
//
//   struct my_server {
//     static constexpr const char* name = "my_server";                     // what artifacts call the dialect
//     api::HttpCall request(const Prompt&, const GenerationOptions&) const;  // path + JSON body
//     api::Reply reply(const nlohmann::json& body) const;                   // a whole non-streaming reply
//     api::Event event(const nlohmann::json& data) const;                   // optional: one stream event's data
//     std::optional<ServerTiming> server_timing(const nlohmann::json&) const;  // optional: the server's own times
//     static bool reads_key(std::string_view key);                         // optional: the keys it reads,
//     using reads_keys_of = my_server;                                      //   with its own type named
//   };
//
// A dialect without `event` does not stream: the driver then sends a plain request even when streaming was asked
// for, and the record says `streamed = false`. Dialects read JSON with `.at(...)` and `.get<T>()`; the exceptions
// those throw become ErrorKind::missing_field, and text that is not JSON at all becomes ErrorKind::invalid_json,
// in api::read_reply / api::read_event — a dialect never parses or classifies errors itself. Those two functions
// also handle what every dialect shares: the `[DONE]` stream terminator, and the optional server_timing hook (a
// dialect for a server that reports when it wrote its tokens, such as servebench::sim's, reads them there).
// A dialect with `reads_key` and `reads_keys_of` naming itself is handed a JSON value holding only the object members
// under keys it accepts (at any depth; pruned_json.hpp): the text is still validated whole, but a reply's ids,
// logprobs and the like are never built. Without them the dialect gets the whole document -- so does one derived from
// a built-in dialect (it inherits `reads_keys_of` naming the base) until it names its own keys: a hook it adds may
// read any field.

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

// ---- begin servebench/pruned_json.hpp ----
// servebench — a JSON reader that builds only the object keys a dialect reads. A vLLM reply or stream event carries
// ids, model names, logprobs, finish reasons and more that no dialect looks at. parse_pruned validates the whole text
// (JsonScanner, json_scanner.hpp: the texts and values nlohmann::json::parse accepts and gives) and builds a
// nlohmann::json of the rest: a value under a key `keep` refuses is skipped with everything inside it; arrays keep
// every element, so a list's length reads the same; duplicate keys: the last wins, as in nlohmann::json::parse.
// docs/performance.md has the cost of a read each way (bench_reply_parse).

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// ---- begin servebench/json_scanner.hpp ----
// servebench — a JSON scanner for replies and stream events: the text's values handed one by one to a builder
// (detail::PrunedDom), accepting exactly the texts nlohmann::json::parse accepts (RFC 8259: a UTF-8 byte order mark
// allowed first, well-formed UTF-8 in strings, anything after a NUL byte that follows the value ignored, \u escapes
// with paired surrogates, integers as int64 / uint64 when they fit and as doubles otherwise, a finite double for every
// number), and giving the same values. It exists for speed: nlohmann's lexer copies every character of a token, about
// 10 ns a byte (bench_reply_parse); this one reads a string without an escape as a view of the text, and a value its
// builder skips is only validated. The unit tests and fuzz_json check it against nlohmann's parser on every input.

#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace servebench::detail {

// Sax: PrunedDom's interface (null, boolean, number_integer, number_unsigned, number_float, string, key, start_ and
// end_object, start_ and end_array) and building(): false while the value now arriving is skipped.
template <class Sax>
class JsonScanner {
 public:
  JsonScanner(std::string_view text, Sax& sax) : p_(text.data()), end_(text.data() + text.size()), sax_(sax) {}

  // True when the whole text is one JSON value.
  bool run() {
    if (p_ != end_ && byte(*p_) == 0xEF) {  // a UTF-8 byte order mark, as nlohmann skips it
      if (end_ - p_ < 3 || byte(p_[1]) != 0xBB || byte(p_[2]) != 0xBF) return false;
      p_ += 3;
    }
    std::string open;  // the containers the scanner is in: '{' or '[', innermost last
    whitespace();
    for (;;) {
      if (p_ == end_) return false;
      switch (*p_) {
        case '{':
        case '[': {
          const char kind = *p_++;
          if (kind == '{')
            sax_.start_object();
          else
            sax_.start_array();
          whitespace();
          if (p_ != end_ && *p_ == closing(kind)) {
            ++p_;
            close(kind);
            break;
          }
          open.push_back(kind);
          if (kind == '{' && !member_key()) return false;
          continue;  // its first value
        }
        case '"':
          if (!string_value()) return false;
          break;
        case 't':
          if (!literal("true")) return false;
          sax_.boolean(true);
          break;
        case 'f':
          if (!literal("false")) return false;
          sax_.boolean(false);
          break;
        case 'n':
          if (!literal("null")) return false;
          sax_.null();
          break;
        default:
          if (!number()) return false;
      }
      // After a value: the end of the text, of containers, or a separator before the next value.
      for (;;) {
        whitespace();
        if (open.empty()) return p_ == end_ || *p_ == '\0';  // nlohmann's lexer reads a NUL byte as the end
        if (p_ == end_) return false;
        const char in = open.back();
        if (*p_ == ',') {
          ++p_;
          whitespace();
          if (in == '{' && !member_key()) return false;
          break;
        }
        if (*p_ != closing(in)) return false;
        ++p_;
        open.pop_back();
        close(in);
      }
    }
  }

 private:
  static unsigned byte(char c) noexcept { return static_cast<unsigned char>(c); }
  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

  static char closing(char kind) noexcept { return kind == '{' ? '}' : ']'; }
  void close(char kind) {
    if (kind == '{')
      sax_.end_object();
    else
      sax_.end_array();
  }

  void whitespace() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  // An object member's key, its colon and the whitespace after.
  bool member_key() {
    if (p_ == end_ || *p_ != '"') return false;
    ++p_;
    std::string_view plain;
    const bool decode = sax_.building();  // inside a skipped object no key is looked at
    if (!string_body(decode, plain)) return false;
    if (decode)
      sax_.key(escaped_ ? std::string_view(decoded_) : plain);
    else
      sax_.key(std::string_view());
    whitespace();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    whitespace();
    return true;
  }

  bool string_value() {
    ++p_;
    std::string_view plain;
    const bool decode = sax_.building();
    if (!string_body(decode, plain)) return false;
    std::string value;
    if (decode) value = escaped_ ? std::move(decoded_) : std::string(plain);
    sax_.string(value);  // called when skipped too: the builder counts the values it skips
    return true;
  }

  // A string's body after its opening quote, through its closing quote. Decoding, the string is `plain` (a view of
  // the text) when it has no escape, else decoded_ (escaped_ says which).
  bool string_body(bool decode, std::string_view& plain) {
    const char* start = p_;
    escaped_ = false;
    while (p_ != end_) {
      const unsigned c = byte(*p_);
      if (c == '"') {
        if (decode && !escaped_) plain = std::string_view(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (decode && !escaped_) decoded_.assign(start, p_);
        escaped_ = true;
        if (!escape(decode)) return false;
        continue;
      }
      if (c < 0x20) return false;  // control characters are escaped in JSON
      const std::size_t n = c < 0x80 ? 1 : utf8_length();
      if (n == 0) return false;
      if (decode && escaped_) decoded_.append(p_, n);
      p_ += n;
    }
    return false;  // no closing quote
  }

  // The length of the well-formed UTF-8 sequence at p_ (its first byte >= 0x80; RFC 3629), or 0.
  std::size_t utf8_length() const noexcept {
    const std::ptrdiff_t left = end_ - p_;
    const auto next = [&](std::ptrdiff_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
      return i < left && byte(p_[i]) >= lo && byte(p_[i]) <= hi;
    };
    const unsigned b = byte(*p_);
    if (b >= 0xC2 && b <= 0xDF) return next(1) ? 2 : 0;
    if (b == 0xE0) return next(1, 0xA0) && next(2) ? 3 : 0;
    if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return next(1) && next(2) ? 3 : 0;
    if (b == 0xED) return next(1, 0x80, 0x9F) && next(2) ? 3 : 0;  // no UTF-16 surrogates
    if (b == 0xF0) return next(1, 0x90) && next(2) && next(3) ? 4 : 0;
    if (b >= 0xF1 && b <= 0xF3) return next(1) && next(2) && next(3) ? 4 : 0;
    if (b == 0xF4) return next(1, 0x80, 0x8F) && next(2) && next(3) ? 4 : 0;  // up to U+10FFFF
    return 0;
  }

  // Four hex digits at p_, or -1.
  long hex4() const noexcept {
    if (end_ - p_ < 4) return -1;
    long value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = p_[i];
      const int d = digit(c) ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return -1;
      value = value * 16 + d;
    }
    return value;
  }

  // The escape at p_ (its backslash), appended to decoded_ when decoding.
  bool escape(bool decode) {
    ++p_;
    if (p_ == end_) return false;
    const char c = *p_++;
    char simple = 0;
    switch (c) {
      case '"': simple = '"'; break;
      case '\\': simple = '\\'; break;
      case '/': simple = '/'; break;
      case 'b': simple = '\b'; break;
      case 'f': simple = '\f'; break;
      case 'n': simple = '\n'; break;
      case 'r': simple = '\r'; break;
      case 't': simple = '\t'; break;
      case 'u': break;
      default: return false;
    }
    if (c != 'u') {
      if (decode) decoded_.push_back(simple);
      return true;
    }
    long code = hex4();
    if (code < 0) return false;
    p_ += 4;
    if (code >= 0xD800 && code <= 0xDBFF) {  // a high surrogate: its low one must follow
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      const long low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) return false;
      p_ += 4;
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    } else if (code >= 0xDC00 && code <= 0xDFFF) {
      return false;  // a low surrogate alone
    }
    if (decode) append_utf8(code);
    return true;
  }

  void append_utf8(long code) {
    const auto put = [&](long b) { decoded_.push_back(static_cast<char>(b)); };
    if (code < 0x80) {
      put(code);
    } else if (code < 0x800) {
      put(0xC0 | (code >> 6));
      put(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      put(0xE0 | (code >> 12));
      put(0x80 | ((code >> 6) & 0x3F));
      put(0x80 | (code & 0x3F));
    } else {
      put(0xF0 | (code >> 18));
      put(0x80 | ((code >> 12) & 0x3F));
      put(0x80 | ((code >> 6) & 0x3F));
      put(0x80 | (code & 0x3F));
    }
  }

  // A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, converted as nlohmann converts it (strtoull / strtoll
  // for an integer that fits, else strtod; a number that is not a finite double is an error).
  bool number() {
    const char* start = p_;
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !digit(*p_)) return false;
    if (*p_++ != '0')
      while (p_ != end_ && digit(*p_)) ++p_;
    bool integer = true;
    if (p_ != end_ && *p_ == '.') {
      integer = false;
      if (++p_ == end_ || !digit(*p_)) return false;
      while (p_ != end_ && digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      if (++p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ != end_ && digit(*p_)) ++p_;
    }
    const std::string_view token(start, static_cast<std::size_t>(p_ - start));
    if (integer && token.size() - negative <= 18) {  // fits: exact without strtoull
      std::int64_t value = 0;
      for (const char c : token.substr(negative)) value = value * 10 + (c - '0');
      if (negative)
        sax_.number_integer(-value);
      else
        sax_.number_unsigned(static_cast<std::uint64_t>(value));
      return true;
    }
    std::string text(token);
    char* parsed_end = nullptr;
    if (integer) {
      errno = 0;
      if (negative) {
        const long long value = std::strtoll(text.c_str(), &parsed_end, 10);
        if (errno == 0) {
          sax_.number_integer(static_cast<std::int64_t>(value));
          return true;
        }
      } else {
        const unsigned long long value = std::strtoull(text.c_str(), &parsed_end, 10);
        if (errno == 0) {
          sax_.number_unsigned(static_cast<std::uint64_t>(value));
          return true;
        }
      }
    }
    const char point = *std::localeconv()->decimal_point;  // strtod reads the C locale's, as nlohmann's lexer does
    if (point != '.')
      for (auto& c : text)
        if (c == '.') c = point;
    const double value = std::strtod(text.c_str(), &parsed_end);
    if (!std::isfinite(value)) return false;
    sax_.number_float(value);
    return true;
  }

  const char* p_;
  const char* end_;
  Sax& sax_;
  bool escaped_ = false;  // the string just read had an escape: it is in decoded_
  std::string decoded_;
};

}  // namespace servebench::detail
// ---- end servebench/json_scanner.hpp ----

namespace servebench::detail {

// The builder JsonScanner drives: a DOM into `root`, as nlohmann's json_sax_dom_parser builds one, except under
// refused keys.
template <class Keep>
class PrunedDom {
 public:
  using json = nlohmann::json;

  PrunedDom(json& root, Keep keep) : root_(&root), keep_(std::move(keep)) {}

  void null() { put(nullptr); }
  void boolean(bool value) { put(value); }
  void number_integer(json::number_integer_t value) { put(value); }
  void number_unsigned(json::number_unsigned_t value) { put(value); }
  void number_float(json::number_float_t value) { put(value); }
  void string(json::string_t& value) { put(std::move(value)); }

  void start_object() { open(json::value_t::object); }
  void start_array() { open(json::value_t::array); }
  void end_object() { close(); }
  void end_array() { close(); }

  // The key is made a string only when it is kept.
  void key(std::string_view name) {
    if (skip_depth_ > 0) return;
    if (!keep_(name)) {
      skip_value_ = true;
      return;
    }
    slot_ = &(*open_.back())[json::string_t(name)];
  }

  // False while the value now arriving will be skipped (JsonScanner then only validates it).
  bool building() const noexcept { return skip_depth_ == 0 && !skip_value_; }

 private:
  // True when the value now arriving is not built (inside a skipped value, or under a refused key).
  bool skipped() {
    if (skip_depth_ > 0) return true;
    if (!skip_value_) return false;
    skip_value_ = false;
    return true;
  }

  // Where the value now arriving goes: the root, the next element of an array, or the slot its key made.
  json* place(json value) {
    if (open_.empty()) {
      *root_ = std::move(value);
      return root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    *slot_ = std::move(value);
    return slot_;
  }

  template <class T>
  void put(T&& value) {
    if (!skipped()) place(json(std::forward<T>(value)));
  }

  void open(json::value_t type) {
    if (skipped())
      ++skip_depth_;
    else
      open_.push_back(place(json(type)));
  }

  void close() {
    if (skip_depth_ > 0)
      --skip_depth_;
    else
      open_.pop_back();
  }

  json* root_;
  Keep keep_;
  std::vector<json*> open_;  // the containers being built, innermost last
  json* slot_ = nullptr;     // the object member the last kept key made
  std::size_t skip_depth_ = 0;
  bool skip_value_ = false;
};

// Parses `text` into `out`, building only the object members whose key `keep(std::string_view)` accepts. False when
// the text is not valid JSON (out is then unspecified).
template <class Keep>
bool parse_pruned(std::string_view text, nlohmann::json& out, Keep keep) {
  PrunedDom<Keep> sax(out, std::move(keep));
  return JsonScanner<PrunedDom<Keep>>(text, sax).run();
}

}  // namespace servebench::detail
// ---- end servebench/pruned_json.hpp ----
// ---- begin servebench/record.hpp ----
// servebench — one request's record, and the summary of a level (one concurrency level or rate, one target).
// Metric definitions follow docs/metrics.md exactly; they are the same in code, docs and artifacts.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// ---- begin servebench/serialize.hpp ----
// servebench — how plain data becomes JSON and back, with each fact said once:
//
//   * an enum's spellings live in one table, EnumNames<E>, which feeds to_string, enum_from_string and JSON;
//   * a struct's fields live in one list, json_fields(const S*), which feeds to_json and from_json.
//
// Reading is strict where nlohmann's get<>() is not: a float where an integer belongs (1e30 into a count), a
// negative value for an unsigned field or a value out of the field's range is an error naming the field, never a
// silent conversion (that conversion is undefined behaviour; found by fuzzing). A field missing from the JSON keeps
// the struct's default unless the list marks it required, which is how files written by older versions still read.
//
// Deferred: field lists and the JSON functions of enums are templates (`template <class Deferred = void>`, building its
// list with field_list<Deferred>), so the list types and nlohmann's conversions they need are built only in a
// translation unit that reads or writes that type; one that includes <servebench.hpp> and never touches JSON does not
// pay for them. The same holds for the library's larger optional bodies (summaries, readiness, reports, charts, old
// artifacts): they take their main argument as a template parameter that defaults to the one type they are for
// (`template <class Levels = std::vector<LevelResult>>`), so the compiler reads their bodies only where they are
// called. Callers never name the parameter. Inside a template, a type that does not depend on its parameters (a member
// `std::optional<JsonlRecordWriter>`, a local `std::vector<const Summary*>`) is still built where the template is
// defined; `deferred<T, Param>` names it through the parameter so that it is built only where the template is used.
// A class template such as std::optional<X> costs a translation unit about 0.8 MB of the compiler's memory and 20 ms
// per distinct X; bench/compile_time.py measures the effect.
//
//   struct Point { int x = 0; std::optional<double> weight; };  // in namespace servebench: ADL finds its to_json
//   template <class Deferred = void>
//   auto json_fields(const Point*) {
//     using servebench::field, servebench::required;
//     return servebench::field_list<Deferred>(required("x", &Point::x), field("weight", &Point::weight));
//   }
//   // nlohmann::json j = Point{1, {}};  -> {"x": 1, "weight": null};  j.get<Point>() reads it back.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// ---- begin servebench/deferred.hpp ----
// servebench — deferred<T, Param>: the type T, named through a template parameter, so that a template built on it
// is built only where it is used (see "Deferred" in serialize.hpp).

namespace servebench {

template <class T, class>
struct deferred_type {
  using type = T;
};
template <class T, class Param>
using deferred = typename deferred_type<T, Param>::type;

}  // namespace servebench
// ---- end servebench/deferred.hpp ----

namespace servebench {

// ---------------------------------------------------------------------------------------------------------------
// Enums: specialise EnumNames<E> with `static constexpr EnumName<E> entries[]` (the first entry of a value is its
// spelling; later entries of the same value are accepted when reading, for names older files used) and
// `static constexpr const char* what` (the enum's name for a person, used in errors).
template <class E>
struct EnumNames;

// One entry of a table: a plain struct, not a std::pair, whose constructors' constraints every table would build.
template <class E>
struct EnumName {
  E value;
  const char* name;
};

namespace detail {
template <class E, class = void>
struct has_enum_names : std::false_type {};
template <class E>
struct has_enum_names<E, std::void_t<decltype(EnumNames<E>::entries)>> : std::true_type {};
}  // namespace detail

template <class E, std::enable_if_t<detail::has_enum_names<E>::value, int> = 0>
const char* to_string(E value) noexcept {
  for (const auto& entry : EnumNames<E>::entries)
    if (entry.value == value) return entry.name;
  return EnumNames<E>::entries[0].name;
}

// The canonical spellings, "a, b, c", for error messages and --help.
template <class E>
std::string enum_spellings(const char* separator = ", ") {
  std::string out;
  for (std::size_t i = 0; i < std::size(EnumNames<E>::entries); ++i) {
    const auto& entry = EnumNames<E>::entries[i];
    if (to_string(entry.value) != std::string(entry.name)) continue;  // an alias
    out += (out.empty() ? "" : separator) + std::string(entry.name);
  }
  return out;
}

// Throws std::invalid_argument naming the valid spellings.
template <class E>
E enum_from_string(const std::string& name) {
  for (const auto& entry : EnumNames<E>::entries)
    if (name == entry.name) return entry.value;
  throw std::invalid_argument("unknown " + std::string(EnumNames<E>::what) + " '" + name +
                              "' (valid: " + enum_spellings<E>() + ")");
}

// JSON for an enum with a table, as its spelling. More specialised than nlohmann's own enum conversion (which would
// write the number), so these are the ones ADL picks; templates on the JSON type, as NLOHMANN_JSON_SERIALIZE_ENUM's.
#define SERVEBENCH_ENUM_JSON(E)                                               \
  template <class Json>                                                       \
  void to_json(Json& j, E value) {                                            \
    j = ::servebench::to_string(value);                                       \
  }                                                                           \
  template <class Json>                                                       \
  void from_json(const Json& j, E& value) {                                   \
    if (!j.is_string()) throw std::invalid_argument("must be a string");      \
    value = ::servebench::enum_from_string<E>(j.template get<std::string>()); \
  }

// ---------------------------------------------------------------------------------------------------------------
// Structs: json_fields(const S*) returns field_list(field(...), required(...), ...), found by ADL.
template <class S, class T>
struct Field {
  const char* name;
  T S::*member;
  bool required;
};
template <class S, class T>
constexpr Field<S, T> field(const char* name, T S::*member) {
  return {name, member, false};
}
template <class S, class T>
constexpr Field<S, T> required(const char* name, T S::*member) {
  return {name, member, true};
}
// The list: a callable that hands each entry to a visitor, list([](const auto& field) {...}). Not a std::tuple:
// a tuple of 30 field types costs a translation unit about 0.1 s to build (its constructors' constraints), this
// costs nearly nothing (bench/compile_time.py). `Deferred`: a json_fields' own parameter, passed on so that the list is
// built only where the struct is read or written (field_list<Deferred>(...), see "Deferred" above); it is otherwise
// unused.
template <class Deferred = void, class... Fs>
constexpr auto field_list(Fs... entries) {
  return [entries...](auto&& visit) { (visit(entries), ...); };
}

// A field that cannot be read: `path` is where ("levels/0/records/3/t_send"), the message says why.
struct FieldError : std::invalid_argument {
  FieldError(std::string path_, const std::string& why)
      : std::invalid_argument(path_ + ": " + why), path(std::move(path_)), reason(why) {}
  std::string path, reason;
};

namespace detail {

template <class S, class = void>
struct has_json_fields : std::false_type {};
template <class S>
struct has_json_fields<S, std::void_t<decltype(json_fields(static_cast<const S*>(nullptr)))>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T, class C, class A>
struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};

// The JSON type is a template parameter (always nlohmann::json), so that the calls on it are checked only where a
// type is read or written (see "Deferred" above).
template <class Json, class T>
void read_value(const Json& j, T& out);
template <class Json, class S, class T>
void read_field(const Json& object, const Field<S, T>& f, S& out);

// Prefixes the path of an error raised while reading `key` (an object key or an array index).
template <class F>
void at_key(const std::string& key, F&& read) {
  try {
    read();
  } catch (const FieldError& e) {
    throw FieldError(key + "/" + e.path, e.reason);
  } catch (const std::exception& e) {
    throw FieldError(key, e.what());
  }
}

template <class Json, class T>
void read_integer(const Json& j, T& out) {
  if (!j.is_number_integer()) throw std::invalid_argument("must be an integer");
  if (j.is_number_unsigned()) {
    const auto v = j.template get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) throw std::invalid_argument("is out of range");
    out = static_cast<T>(v);
    return;
  }
  const auto v = j.template get<std::int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (v < 0) throw std::invalid_argument("must not be negative");
    if (static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      throw std::invalid_argument("is out of range");
  } else {
    if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        v > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
      throw std::invalid_argument("is out of range");
  }
  out = static_cast<T>(v);
}

template <class Json, class T>
void read_value(const Json& j, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) throw std::invalid_argument("must be true or false");
    out = j.template get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    read_integer(j, out);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) throw std::invalid_argument("must be a number");
    out = j.template get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) throw std::invalid_argument("must be a string");
    out = j.template get<std::string>();
  } else if constexpr (std::is_same_v<T, Json>) {
    out = j;
  } else if constexpr (is_optional<T>::value) {
    if (j.is_null()) {
      out.reset();
    } else {
      typename T::value_type value{};
      read_value(j, value);
      out = std::move(value);
    }
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array()) throw std::invalid_argument("must be a list");
    out.clear();
    out.resize(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) at_key(std::to_string(i), [&] { read_value(j[i], out[i]); });
  } else if constexpr (is_string_map<T>::value) {
    if (!j.is_object()) throw std::invalid_argument("must be an object");
    out.clear();
    for (auto it = j.begin(); it != j.end(); ++it) at_key(it.key(), [&] { read_value(it.value(), out[it.key()]); });
  } else if constexpr (has_json_fields<T>::value) {
    if (!j.is_object()) throw std::invalid_argument("must be an object");
    json_fields(static_cast<const T*>(nullptr))([&](const auto& f) { read_field(j, f, out); });
  } else {
    j.get_to(out);  // a type with its own from_json (enums with a table, LogHistogram)
  }
}

template <class Json, class S, class T>
void read_field(const Json& object, const Field<S, T>& f, S& out) {
  const auto it = object.find(f.name);
  if (it == object.end()) {
    if (f.required) throw FieldError(f.name, "is missing");
    return;
  }
  at_key(f.name, [&] { read_value(*it, out.*(f.member)); });
}

template <class Json, class T>
void write_value(Json& j, const T& value) {
  if constexpr (is_optional<T>::value) {
    if (value)
      write_value(j, *value);
    else
      j = nullptr;
  } else if constexpr (is_vector<T>::value) {
    j = Json::array();
    for (const auto& v : value) write_value(j.emplace_back(), v);
  } else if constexpr (is_string_map<T>::value) {
    j = Json::object();
    for (const auto& [k, v] : value) write_value(j[k], v);
  } else if constexpr (has_json_fields<T>::value) {
    j = Json::object();
    json_fields(static_cast<const T*>(nullptr))([&](const auto& f) { write_value(j[f.name], value.*(f.member)); });
  } else {
    j = value;
  }
}

}  // namespace detail

// to_json / from_json for every struct with a field list (ADL finds these for servebench's types).
template <class S, std::enable_if_t<detail::has_json_fields<S>::value, int> = 0>
void to_json(nlohmann::json& j, const S& value) {
  detail::write_value(j, value);
}
template <class S, std::enable_if_t<detail::has_json_fields<S>::value, int> = 0>
void from_json(const nlohmann::json& j, S& value) {
  detail::read_value(j, value);
}

}  // namespace servebench
// ---- end servebench/serialize.hpp ----
// ---- begin servebench/stats.hpp ----
// servebench — statistics: percentiles by three named methods, sample summaries, Student's t and the confidence
// interval of a mean (across repetitions), and a mergeable log-bucketed histogram for runs too long to keep every
// sample.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>


namespace servebench {

// How a percentile is read off a sorted sample.
//  linear       : interpolate between the closest ranks (numpy's default; what vLLM's benchmark reports).
//  nearest_rank : the smallest sample with at least p% of the samples at or below it.
//  floor_rank   : sorted[floor(n * p / 100)], clamped to the last sample: what a script computing
//                 `sorted(x)[int(len(x) * 0.95)]` reports, so such numbers can be reproduced exactly.
enum class PercentileMethod { linear, nearest_rank, floor_rank };

template <>
struct EnumNames<PercentileMethod> {
  static constexpr const char* what = "percentile method";
  static constexpr EnumName<PercentileMethod> entries[] = {
      {PercentileMethod::linear, "linear"},
      {PercentileMethod::nearest_rank, "nearest_rank"},
      {PercentileMethod::floor_rank, "floor_rank"},
      {PercentileMethod::floor_rank, "lab"},  // the name artifacts of schema 1 used
  };
};
SERVEBENCH_ENUM_JSON(PercentileMethod)

namespace detail {
inline void check_percentile_rank(double p) {
  if (!(p >= 0.0 && p <= 100.0))
    throw std::invalid_argument("percentile must be within [0, 100], got " + std::to_string(p));
}
inline void check_samples(const std::vector<double>& values) {
  if (values.empty()) throw std::invalid_argument("cannot summarize an empty sample set");
  for (double v : values)
    if (std::isnan(v)) throw std::invalid_argument("sample set contains NaN");
}
}  // namespace detail

// p in [0, 100]; `sorted` must be sorted ascending and non-empty.
inline double percentile_of_sorted(const std::vector<double>& sorted, double p,
                                   PercentileMethod method = PercentileMethod::linear) {
  detail::check_percentile_rank(p);
  if (sorted.empty()) throw std::invalid_argument("cannot take a percentile of an empty sample set");
  const std::size_t n = sorted.size();
  switch (method) {
    case PercentileMethod::linear: {
      const double h = static_cast<double>(n - 1) * p / 100.0;
      const auto lower = static_cast<std::size_t>(std::floor(h));
      if (lower + 1 >= n) return sorted[n - 1];
      return sorted[lower] + (h - static_cast<double>(lower)) * (sorted[lower + 1] - sorted[lower]);
    }
    case PercentileMethod::nearest_rank: {
      auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
      rank = std::max<std::size_t>(rank, 1);
      return sorted[std::min(rank, n) - 1];
    }
    case PercentileMethod::floor_rank: {
      // int(len * 0.95): multiply by the fraction (not by p then divide) so the rounding is the
      // same as Python's for every n; int() truncates, which for non-negative values is floor.
      auto index = static_cast<std::size_t>(std::floor(static_cast<double>(n) * (p / 100.0)));
      return sorted[std::min(index, n - 1)];
    }
  }
  return sorted[0];
}

template <class Values = std::vector<double>>
double percentile(Values values, double p, PercentileMethod method = PercentileMethod::linear) {
  detail::check_samples(values);
  std::sort(values.begin(), values.end());
  return percentile_of_sorted(values, p, method);
}

struct Quantile {
  double p = 0;  // in [0, 100]
  double value = 0;
};

// A summary of one sample set. `stddev` is the sample standard deviation (n - 1 in the denominator; 0 for one
// sample). `extra` holds any further percentiles asked for.
struct Summary {
  std::size_t count = 0;
  double mean = 0, stddev = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;
  std::vector<Quantile> extra;
  PercentileMethod method = PercentileMethod::linear;
};

template <class Values = std::vector<double>>
Summary summarize_samples(Values values, PercentileMethod method = PercentileMethod::linear,
                          const std::vector<double>& extra_percentiles = {}) {
  detail::check_samples(values);
  std::sort(values.begin(), values.end());
  Summary s;
  s.method = method;
  s.count = values.size();
  s.min = values.front();
  s.max = values.back();
  // Welford's update keeps the variance exact for large sets of nearly equal values.
  double mean = 0, m2 = 0;
  std::size_t k = 0;
  for (double v : values) {
    ++k;
    const double delta = v - mean;
    mean += delta / static_cast<double>(k);
    m2 += delta * (v - mean);
  }
  s.mean = mean;
  s.stddev = s.count > 1 ? std::sqrt(m2 / static_cast<double>(s.count - 1)) : 0.0;
  s.p50 = percentile_of_sorted(values, 50, method);
  s.p90 = percentile_of_sorted(values, 90, method);
  s.p95 = percentile_of_sorted(values, 95, method);
  s.p99 = percentile_of_sorted(values, 99, method);
  for (double p : extra_percentiles) s.extra.push_back({p, percentile_of_sorted(values, p, method)});
  return s;
}

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const Quantile*) {
  return field_list<Deferred>(required("p", &Quantile::p), required("value", &Quantile::value));
}
template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const Summary*) {
  return field_list<Deferred>(required("count", &Summary::count), required("mean", &Summary::mean),
                              required("stddev", &Summary::stddev), required("min", &Summary::min),
                              required("max", &Summary::max), required("p50", &Summary::p50),
                              required("p90", &Summary::p90), required("p95", &Summary::p95),
                              required("p99", &Summary::p99), field("extra", &Summary::extra),
                              field("method", &Summary::method));
}

// ---------------------------------------------------------------------------------------------------------------
// Student's t distribution, for confidence intervals across repetitions, without a statistics library.
//
// The CDF is the regularized incomplete beta function: for t >= 0, P(T <= t) = 1 - I_x(df/2, 1/2) / 2 with
// x = df / (df + t^2), evaluated by its continued fraction (modified Lentz, relative tolerance 1e-15) with the
// symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly. The quantile solves CDF(t) = p by
// bisection to the last bit of a double (df 1 and 2 have closed forms and use them). Checked against a 40-digit
// mpmath inverse for df 0.5..1000 and p in (0.5, 0.9995]: relative error below 1e-9 (scipy 1.10's t.ppf is itself
// off by up to 5e-9, so tests/unit_stats.cpp and tests/repeat_check.py compare with it at 1e-8). df need not be a
// whole number (Welch's degrees of freedom are not).

namespace detail {
inline double incomplete_beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300, epsilon = 1e-15;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double step = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + step * d;
    c = 1 + step / c;
    if (std::abs(d) < tiny) d = tiny;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    step = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + step * d;
    c = 1 + step / c;
    if (std::abs(d) < tiny) d = tiny;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < epsilon) break;
  }
  return h;
}

// I_x(a, b), the regularized incomplete beta function, for x in [0, 1] and a, b > 0; y = 1 - x, given separately
// so that an x close to 1 keeps its precision.
inline double regularized_incomplete_beta(double a, double b, double x, double y) {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                                b * std::log(y));
  if (x < (a + 1) / (a + b + 2)) return front * incomplete_beta_fraction(a, b, x) / a;
  return 1 - front * incomplete_beta_fraction(b, a, y) / b;
}
}  // namespace detail

// P(T <= t) for Student's t with `df` > 0 degrees of freedom.
inline double student_t_cdf(double t, double df) {
  if (!(df > 0)) throw std::invalid_argument("student_t_cdf: degrees of freedom must be positive");
  if (std::isnan(t)) throw std::invalid_argument("student_t_cdf: t is NaN");
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  const double tail = 0.5 * detail::regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t), t * t / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

// The t with P(T <= t) = p, for p in (0, 1) and df > 0: scipy.stats.t.ppf(p, df).
inline double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1)) throw std::invalid_argument("student_t_quantile: p must be within (0, 1)");
  if (!(df > 0)) throw std::invalid_argument("student_t_quantile: degrees of freedom must be positive");
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  if (p == 0.5) return 0;
  constexpr double pi = 3.14159265358979323846;
  if (df == 1) return std::tan(pi * (p - 0.5));
  if (df == 2) return (2 * p - 1) * std::sqrt(2 / (4 * p * (1 - p)));
  double low = 0, high = 1;
  while (student_t_cdf(high, df) < p && high < 1e300) high *= 2;
  for (int i = 0; i < 2000 && low < high; ++i) {
    const double mid = low + (high - low) / 2;
    if (mid <= low || mid >= high) break;  // adjacent doubles: as close as a double gets
    (student_t_cdf(mid, df) < p ? low : high) = mid;
  }
  return low + (high - low) / 2;
}

// The mean of a few values (one per repetition) and its two-sided confidence interval by Student's t with n - 1
// degrees of freedom: mean ± t_{(1 + confidence)/2, n-1} · stddev / sqrt(n). With one value there is no interval:
// low = high = mean and half_width = 0 (n says so).
struct MeanInterval {
  std::size_t n = 0;
  double mean = 0, stddev = 0;  // stddev: sample standard deviation (n - 1)
  double low = 0, high = 0, half_width = 0;
  double confidence = 0.95;

  bool has_interval() const noexcept { return n >= 2; }
};

template <class Values = std::vector<double>>
MeanInterval mean_interval(const Values& values, double confidence = 0.95) {
  if (!(confidence > 0 && confidence < 1))
    throw std::invalid_argument("mean_interval: confidence must be within (0, 1)");
  MeanInterval m;
  m.confidence = confidence;
  if (values.empty()) return m;
  const Summary s = summarize_samples(std::vector<double>(values.begin(), values.end()));
  m.n = s.count;
  m.mean = s.mean;
  m.stddev = s.stddev;
  if (m.n >= 2)
    m.half_width = student_t_quantile((1 + confidence) / 2, static_cast<double>(m.n - 1)) * m.stddev /
                   std::sqrt(static_cast<double>(m.n));
  m.low = m.mean - m.half_width;
  m.high = m.mean + m.half_width;
  return m;
}

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const MeanInterval*) {
  using M = MeanInterval;
  return field_list<Deferred>(required("n", &M::n), required("mean", &M::mean), field("stddev", &M::stddev),
                              required("low", &M::low), required("high", &M::high), field("half_width", &M::half_width),
                              field("confidence", &M::confidence));
}

// A log-bucketed histogram of positive values (DDSketch's bucketing): bucket i holds values in
// (gamma^(i-1), gamma^i] with gamma = (1 + a) / (1 - a), so every percentile it reports is within a relative
// error `a` (1% by default) of the sample at rank floor(q * (n - 1)). Memory is fixed by [min_value, max_value]:
// about 1,700 counters for the default 1 ns .. 10^6 s range in seconds. Values at or below zero (or below
// min_value) count in a zero bucket; values above max_value in an overflow bucket that reports the exact maximum.
// Two histograms with the same parameters merge by adding counts, which equals the histogram of both sample sets.
class LogHistogram {
 public:
  explicit LogHistogram(double relative_accuracy = 0.01, double min_value = 1e-9, double max_value = 1e6)
      : relative_accuracy_(relative_accuracy), min_value_(min_value), max_value_(max_value) {
    if (!(relative_accuracy > 0 && relative_accuracy < 1))
      throw std::invalid_argument("LogHistogram: relative accuracy must be within (0, 1)");
    if (!(min_value > 0 && max_value > min_value))
      throw std::invalid_argument("LogHistogram: need 0 < min_value < max_value");
    gamma_ = (1 + relative_accuracy) / (1 - relative_accuracy);
    log_gamma_ = std::log(gamma_);
    offset_ = key_of(min_value);
    counts_.assign(static_cast<std::size_t>(key_of(max_value) - offset_ + 1), 0);
  }

  void add(double value, std::uint64_t times = 1) {
    if (std::isnan(value)) throw std::invalid_argument("LogHistogram: cannot add NaN");
    if (times == 0) return;
    if (count_ == 0) {
      min_ = max_ = value;
    } else {
      min_ = std::min(min_, value);
      max_ = std::max(max_, value);
    }
    count_ += times;
    sum_ += value * static_cast<double>(times);
    if (value < min_value_)
      zero_count_ += times;
    else if (value > max_value_)
      overflow_count_ += times;
    else
      counts_[static_cast<std::size_t>(key_of(value) - offset_)] += times;
  }

  // The value at percentile p in [0, 100]. Throws on an empty histogram.
  double percentile(double p) const {
    detail::check_percentile_rank(p);
    if (count_ == 0) throw std::invalid_argument("LogHistogram: cannot take a percentile of an empty histogram");
    const auto rank = static_cast<std::uint64_t>(std::floor(p / 100.0 * static_cast<double>(count_ - 1)));
    std::uint64_t seen = zero_count_;
    if (rank < seen) return std::max(min_, std::min(0.0, max_));
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (rank < seen) {
        const double estimate = 2 * std::pow(gamma_, static_cast<double>(static_cast<long>(i) + offset_)) /
                                (gamma_ + 1);
        return std::min(std::max(estimate, min_), max_);
      }
    }
    return max_;
  }

  void merge(const LogHistogram& other) {
    if (other.relative_accuracy_ != relative_accuracy_ || other.min_value_ != min_value_ ||
        other.max_value_ != max_value_)
      throw std::invalid_argument("LogHistogram: cannot merge histograms with different parameters");
    if (other.count_ == 0) return;
    if (count_ == 0) {
      min_ = other.min_;
      max_ = other.max_;
    } else {
      min_ = std::min(min_, other.min_);
      max_ = std::max(max_, other.max_);
    }
    count_ += other.count_;
    sum_ += other.sum_;
    zero_count_ += other.zero_count_;
    overflow_count_ += other.overflow_count_;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  }

  std::uint64_t count() const noexcept { return count_; }
  double sum() const noexcept { return sum_; }
  double mean() const noexcept { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  double min() const noexcept { return min_; }
  double max() const noexcept { return max_; }
  double relative_accuracy() const noexcept { return relative_accuracy_; }
  std::size_t bucket_count() const noexcept { return counts_.size(); }

  template <class = void>  // deferred: see serialize.hpp
  friend bool operator==(const LogHistogram& a, const LogHistogram& b) {
    return a.relative_accuracy_ == b.relative_accuracy_ && a.min_value_ == b.min_value_ &&
           a.max_value_ == b.max_value_ && a.count_ == b.count_ && a.zero_count_ == b.zero_count_ &&
           a.overflow_count_ == b.overflow_count_ && a.counts_ == b.counts_ && a.min_ == b.min_ && a.max_ == b.max_ &&
           std::abs(a.sum_ - b.sum_) <= 1e-9 * std::max(1.0, std::abs(a.sum_));
  }
  template <class = void>
  friend bool operator!=(const LogHistogram& a, const LogHistogram& b) {
    return !(a == b);
  }

  // Templates on the JSON type: see "deferred" in serialize.hpp.
  template <class Json>
  friend void to_json(Json& j, const LogHistogram& h) {
    // Sparse: only non-empty buckets, as [index, count] pairs.
    Json buckets = Json::array();
    for (std::size_t i = 0; i < h.counts_.size(); ++i)
      if (h.counts_[i]) buckets.push_back({i, h.counts_[i]});
    j = Json{{"relative_accuracy", h.relative_accuracy_},
             {"min_value", h.min_value_},
             {"max_value", h.max_value_},
             {"count", h.count_},
             {"sum", h.sum_},
             {"min", h.min_},
             {"max", h.max_},
             {"zero_count", h.zero_count_},
             {"overflow_count", h.overflow_count_},
             {"buckets", buckets}};
  }
  template <class Json>
  friend void from_json(const Json& j, LogHistogram& h) {
    h = LogHistogram(j.at("relative_accuracy").template get<double>(), j.at("min_value").template get<double>(),
                     j.at("max_value").template get<double>());
    j.at("count").get_to(h.count_);
    j.at("sum").get_to(h.sum_);
    j.at("min").get_to(h.min_);
    j.at("max").get_to(h.max_);
    j.at("zero_count").get_to(h.zero_count_);
    j.at("overflow_count").get_to(h.overflow_count_);
    std::uint64_t total = h.zero_count_ + h.overflow_count_;
    for (const auto& pair : j.at("buckets")) {
      const auto index = pair.at(0).template get<std::size_t>();
      if (index >= h.counts_.size()) throw std::invalid_argument("LogHistogram: bucket index out of range in JSON");
      h.counts_[index] = pair.at(1).template get<std::uint64_t>();
      total += h.counts_[index];
    }
    if (total != h.count_) throw std::invalid_argument("LogHistogram: bucket counts do not add up to count in JSON");
  }

 private:
  long key_of(double value) const { return static_cast<long>(std::ceil(std::log(value) / log_gamma_)); }

  double relative_accuracy_, min_value_, max_value_;
  double gamma_ = 0, log_gamma_ = 0;
  long offset_ = 0;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0, zero_count_ = 0, overflow_count_ = 0;
  double sum_ = 0, min_ = 0, max_ = 0;
};

template <class = void>  // deferred: see serialize.hpp
LogHistogram merge(LogHistogram a, const LogHistogram& b) {
  a.merge(b);
  return a;
}

// The Summary of the samples a histogram holds: count, mean, min and max exact, percentiles within the histogram's
// relative accuracy of the sample at rank floor(p / 100 * (count - 1)) (an interpolating method's value lies between
// that sample and the next). A histogram keeps no spread, so `stddev` comes from whoever kept it (RunningMoments).
// `method` is recorded as given; the histogram reads off the rank as described whatever it is.
template <class = void>  // deferred: see serialize.hpp
Summary summarize_histogram(const LogHistogram& h, double stddev, PercentileMethod method = PercentileMethod::linear) {
  if (h.count() == 0) throw std::invalid_argument("cannot summarize an empty histogram");
  Summary s;
  s.method = method;
  s.count = static_cast<std::size_t>(h.count());
  s.mean = h.mean();
  s.stddev = stddev;
  s.min = h.min();
  s.max = h.max();
  s.p50 = h.percentile(50);
  s.p90 = h.percentile(90);
  s.p95 = h.percentile(95);
  s.p99 = h.percentile(99);
  return s;
}

}  // namespace servebench
// ---- end servebench/stats.hpp ----

namespace servebench {

// steady_clock nanoseconds. Every timestamp in a record is on this clock.
using Nanos = std::int64_t;

inline Nanos now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline double ns_to_s(Nanos ns) noexcept { return static_cast<double>(ns) * 1e-9; }

// How a request ended. `none` is success; `interrupted` is neither success nor failure (the run was stopped).
enum class ErrorKind {
  none,
  connect_refused,    // nothing listens at the address
  name_resolution,    // the host name does not resolve
  connect_timeout,    // no TCP connection within the connect timeout
  read_timeout,       // the server went silent longer than the read timeout
  write_failed,       // the request could not be written
  deadline_exceeded,  // the whole-request deadline (or the level timeout) passed
  http_status,        // HTTP status >= 400; status and start of body kept
  invalid_json,       // a reply body or stream event was not valid JSON
  missing_field,      // valid JSON without the field the dialect needs
  incomplete_stream,  // the stream ended cleanly but without its terminator ([DONE] or final event)
  closed_mid_stream,  // the connection dropped after some of the reply arrived
  empty_reply,        // the server closed the connection without a reply
  tls,                // the TLS handshake failed: an untrusted certificate, unreadable certificate files
  reply_too_large,    // the reply grew past the size limit (a server that sends without end)
  interrupted,        // the run was stopped (Ctrl-C, SIGTERM) while this request was in flight
  other,
};

template <>
struct EnumNames<ErrorKind> {
  static constexpr const char* what = "error kind";
  static constexpr EnumName<ErrorKind> entries[] = {
      {ErrorKind::none, "none"},
      {ErrorKind::connect_refused, "connect_refused"},
      {ErrorKind::name_resolution, "name_resolution"},
      {ErrorKind::connect_timeout, "connect_timeout"},
      {ErrorKind::read_timeout, "read_timeout"},
      {ErrorKind::write_failed, "write_failed"},
      {ErrorKind::deadline_exceeded, "deadline_exceeded"},
      {ErrorKind::http_status, "http_status"},
      {ErrorKind::invalid_json, "invalid_json"},
      {ErrorKind::missing_field, "missing_field"},
      {ErrorKind::incomplete_stream, "incomplete_stream"},
      {ErrorKind::closed_mid_stream, "closed_mid_stream"},
      {ErrorKind::empty_reply, "empty_reply"},
      {ErrorKind::tls, "tls"},
      {ErrorKind::reply_too_large, "reply_too_large"},
      {ErrorKind::interrupted, "interrupted"},
      {ErrorKind::other, "other"},
  };
};
SERVEBENCH_ENUM_JSON(ErrorKind)

// Where n_out came from. Never a silent guess from words.
enum class TokenSource {
  none,    // unknown: the server reported no count and there were no stream events
  usage,   // the server's usage.completion_tokens (or the dialect's equivalent)
  events,  // the number of text-carrying stream events (the server sent no usage)
};

template <>
struct EnumNames<TokenSource> {
  static constexpr const char* what = "token source";
  static constexpr EnumName<TokenSource> entries[] = {
      {TokenSource::none, "none"}, {TokenSource::usage, "usage"}, {TokenSource::events, "events"}};
};
SERVEBENCH_ENUM_JSON(TokenSource)

// When the server says it wrote the first and the last token, on the client's steady clock (so only meaningful when
// both share a clock: a simulated server in the same process). Filled by a dialect's server_timing() hook.
struct ServerTiming {
  Nanos first_token = 0;
  Nanos last_token = 0;
  std::optional<Nanos> first_answer_token;  // when reasoning came first: the first answer token
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const ServerTiming*) {
  return field_list<Deferred>(required("first_token", &ServerTiming::first_token),
                              required("last_token", &ServerTiming::last_token),
                              field("first_answer_token", &ServerTiming::first_answer_token));
}

struct RequestRecord {
  std::string target;       // label of the server it went to ("hf", "vllm", ...)
  std::uint64_t index = 0;  // position in the workload
  bool warmup = false;      // sent to warm the server; never enters statistics
  bool streamed = false;    // the reply was a stream of events (TTFT, TPOT and ITL are defined only then)

  Nanos t_sched = 0;                          // when it was meant to go
  Nanos t_send = 0;                           // just before the first request byte was written (0: never sent)
  std::optional<Nanos> t_connect;             // when this request had to open a connection: when it was established
  Nanos t_first_token = 0;                    // first event with a generated token of any kind (streaming), or t_end
  std::optional<Nanos> t_first_answer_token;  // first event with answer text (not reasoning); absent when none
  Nanos t_end = 0;                            // last text-carrying event, or the last byte of a non-streaming reply
  std::vector<Nanos> event_times;             // arrival of every text-carrying event (streaming only)
  // The server's cumulative completion_tokens at each of event_times, when every such event carried one (vLLM's
  // continuous usage stats); empty otherwise. Per-token ITL is defined from it.
  std::vector<std::int64_t> event_tokens;

  std::int64_t n_in = -1;             // prompt tokens when the server reported them, else -1
  std::int64_t n_in_expected = -1;    // the workload's count of the prompt's tokens (Prompt::input_tokens), else -1
  std::int64_t n_out_requested = -1;  // the max_tokens asked for, when a scheduler sent it, else -1
  std::int64_t n_in_cached = -1;      // of n_in, tokens the server found in its prefix cache, when it says, else -1
  std::int64_t n_reasoning = -1;      // of n_out, reasoning tokens (usage.completion_tokens_details), else -1
  std::int64_t n_out = 0;
  TokenSource token_source = TokenSource::none;

  int http_status = 0;
  ErrorKind error_kind = ErrorKind::none;
  std::string error_message;  // what went wrong, for a person
  std::string body_start;     // first 512 bytes of the reply body when it failed

  std::string text;  // the generated text (may be left empty to save memory)

  // The server's own account of when it wrote the first and last token, when its dialect reads one.
  std::optional<ServerTiming> server_timing;

  bool ok() const noexcept { return error_kind == ErrorKind::none; }
  bool interrupted() const noexcept { return error_kind == ErrorKind::interrupted; }

  double latency_s() const noexcept { return ns_to_s(t_end - t_send); }
  double latency_from_sched_s() const noexcept { return ns_to_s(t_end - t_sched); }
  double client_queue_s() const noexcept { return ns_to_s(t_send - t_sched); }
  // How long this request waited for a new connection (t_connect - t_send); empty when it used an open one.
  std::optional<double> connect_s() const noexcept {
    if (!t_connect) return std::nullopt;
    return ns_to_s(*t_connect - t_send);
  }
  double ttft_s() const noexcept { return ns_to_s(t_first_token - t_send); }
  // Time to first answer token: after a reasoning model's reasoning; empty when no answer text came.
  std::optional<double> ttfa_s() const noexcept {
    if (!t_first_answer_token) return std::nullopt;
    return ns_to_s(*t_first_answer_token - t_send);
  }
  // (latency - ttft) / (n_out - 1); only meaningful when n_out > 1.
  std::optional<double> tpot_s() const noexcept {
    if (n_out <= 1) return std::nullopt;
    return ns_to_s(t_end - t_first_token) / static_cast<double>(n_out - 1);
  }
};

// Per-token inter-token latency (docs/metrics.md): an event that brings k >= 1 new tokens a gap g after the previous
// one contributes k samples of g / k; an event that brings none passes its gap on to the next that does. The first
// event's tokens belong to TTFT and give no sample. Appends nothing when the record has no per-event token counts
// (event_tokens) or they do not match event_times, or go down.
template <class Out>
void append_per_token_itl(const RequestRecord& r, Out& out) {
  if (r.event_tokens.size() != r.event_times.size() || r.event_tokens.size() < 2) return;
  for (std::size_t i = 1; i < r.event_tokens.size(); ++i)
    if (r.event_tokens[i] < r.event_tokens[i - 1]) return;
  Nanos gap = 0;
  for (std::size_t i = 1; i < r.event_tokens.size(); ++i) {
    gap += r.event_times[i] - r.event_times[i - 1];
    const std::int64_t k = r.event_tokens[i] - r.event_tokens[i - 1];
    if (k == 0) continue;
    for (std::int64_t j = 0; j < k; ++j) out.push_back(ns_to_s(gap) / static_cast<double>(k));
    gap = 0;
  }
}

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const RequestRecord*) {
  using R = RequestRecord;
  return field_list<Deferred>(
      required("target", &R::target), required("index", &R::index), field("warmup", &R::warmup),
      field("streamed", &R::streamed), required("t_sched", &R::t_sched), required("t_send", &R::t_send),
      field("t_connect", &R::t_connect), required("t_first_token", &R::t_first_token),
      field("t_first_answer_token", &R::t_first_answer_token), required("t_end", &R::t_end),
      field("event_times", &R::event_times), field("event_tokens", &R::event_tokens), field("n_in", &R::n_in),
      field("n_in_expected", &R::n_in_expected), field("n_out_requested", &R::n_out_requested),
      field("n_in_cached", &R::n_in_cached), field("n_reasoning", &R::n_reasoning), required("n_out", &R::n_out),
      field("token_source", &R::token_source), field("http_status", &R::http_status),
      required("error_kind", &R::error_kind), field("error_message", &R::error_message),
      field("body_start", &R::body_start), field("text", &R::text), field("server_timing", &R::server_timing));
}

// Service-level objectives for goodput: a request counts as good when it succeeded and meets every one given.
struct Slo {
  std::optional<double> ttft_s;
  std::optional<double> tpot_s;
  std::optional<double> latency_s;

  bool any() const noexcept { return ttft_s || tpot_s || latency_s; }
  bool met_by(const RequestRecord& r) const noexcept {
    if (!r.ok()) return false;
    if (ttft_s && r.ttft_s() > *ttft_s) return false;
    if (tpot_s) {
      const auto tpot = r.tpot_s();
      if (tpot && *tpot > *tpot_s) return false;
    }
    if (latency_s && r.latency_s() > *latency_s) return false;
    return true;
  }
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const Slo*) {
  return field_list<Deferred>(field("ttft_s", &Slo::ttft_s), field("tpot_s", &Slo::tpot_s),
                              field("latency_s", &Slo::latency_s));
}

struct SummarizeOptions {
  PercentileMethod method = PercentileMethod::linear;
  Slo slo;
};

// Mergeable histograms of a level's samples (seconds), beside the exact summaries: shards of one run made by
// several processes merge into the histograms one process would have built (see LogHistogram's stated error).
struct LevelHistograms {
  std::optional<LogHistogram> latency, ttft, tpot, itl;
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LevelHistograms*) {
  using H = LevelHistograms;
  return field_list<Deferred>(field("latency", &H::latency), field("ttft", &H::ttft), field("tpot", &H::tpot),
                              field("itl", &H::itl));
}

// One level of one target. Durations in the summaries are seconds. A summary is absent (null in JSON) when it has
// no samples: for example TTFT when nothing was streamed, or latency when every request failed.
struct LevelSummary {
  std::string target;
  double level = 0;      // concurrency, or the request rate for open loop; set by whoever ran the level
  std::size_t sent = 0;  // successful + failed + interrupted
  std::size_t successful = 0;
  std::size_t failed = 0;
  std::size_t interrupted = 0;
  std::map<std::string, std::size_t> failed_by_kind;
  std::size_t connects = 0;            // requests that had to open a connection (RequestRecord::t_connect)
  double wall_s = 0;                   // first t_send to last t_end
  Nanos first_send = 0, last_end = 0;  // that window on the steady clock of the process that ran the level
  // The load the server saw, whatever was asked: requests in flight (t_send to t_end, failures included), at most
  // and on average over the wall time (the sum of their durations / wall, Little's law).
  std::size_t peak_in_flight = 0;
  double mean_in_flight = 0;
  double throughput_req_per_sec = 0;
  double output_tokens_per_sec = 0;
  std::int64_t total_output_tokens = 0;
  // Prompt tokens as the server reported them (usage.prompt_tokens), over the successful requests that carry a count.
  std::int64_t total_input_tokens = 0;
  std::size_t input_tokens_reported = 0;  // successful requests whose reply carried usage.prompt_tokens
  double input_tokens_per_sec = 0;
  double total_tokens_per_sec = 0;  // input + output
  // Prompts built to a length (Prompt::input_tokens) whose server count differs from it: never silently accepted.
  std::size_t input_length_checked = 0;
  std::size_t input_length_mismatches = 0;
  // Prefix cache, when the server reports it (usage.prompt_tokens_details.cached_tokens): the cached share of the
  // input tokens of the requests that say.
  std::int64_t cached_input_tokens = 0;
  std::optional<double> prefix_hit_rate;
  // Output lengths asked for (max_tokens) against those achieved, over the successful requests.
  std::int64_t requested_output_tokens = 0;
  std::size_t short_outputs = 0;  // successful requests that got fewer tokens than max_tokens (an early EOS)
  std::optional<double> goodput_req_per_sec;  // only when SLOs were given
  std::optional<Summary> latency, latency_from_sched, client_queue, ttft, tpot, itl;
  std::optional<Summary> ttfa;  // streamed requests whose reply had answer text
  // Per-token ITL (append_per_token_itl): only from requests whose server counted the tokens of every chunk.
  std::optional<Summary> itl_per_token;
  LevelHistograms histograms;  // latency, TTFT, TPOT and ITL of the successful requests
};

template <class Records = std::vector<RequestRecord>>
LevelSummary summarize(const Records& records, const SummarizeOptions& options = {}) {
  LevelSummary s;
  std::vector<double> latency, latency_from_sched, client_queue, ttft, tpot, itl, ttfa, itl_per_token;
  Nanos first_send = 0, last_end = 0;
  bool any_sent = false;
  std::size_t good = 0;
  std::int64_t cached_of = 0;  // input tokens of the requests that reported a cached count
  for (const auto& r : records) {
    if (r.warmup) continue;
    if (s.target.empty()) s.target = r.target;
    ++s.sent;
    if (r.t_connect) ++s.connects;
    if (r.t_send > 0) {
      first_send = any_sent ? std::min(first_send, r.t_send) : r.t_send;
      last_end = any_sent ? std::max(last_end, std::max(r.t_end, r.t_send)) : std::max(r.t_end, r.t_send);
      any_sent = true;
    }
    if (r.interrupted()) {
      ++s.interrupted;
      continue;
    }
    if (!r.ok()) {
      ++s.failed;
      ++s.failed_by_kind[to_string(r.error_kind)];
      continue;
    }
    ++s.successful;
    s.total_output_tokens += r.n_out;
    if (r.n_in >= 0) {
      s.total_input_tokens += r.n_in;
      ++s.input_tokens_reported;
      if (r.n_in_expected >= 0) {
        ++s.input_length_checked;
        if (r.n_in != r.n_in_expected) ++s.input_length_mismatches;
      }
    }
    if (r.n_in_cached >= 0 && r.n_in > 0) {
      cached_of += r.n_in;
      s.cached_input_tokens += r.n_in_cached;
    }
    if (r.n_out_requested > 0) {
      s.requested_output_tokens += r.n_out_requested;
      if (r.n_out < r.n_out_requested) ++s.short_outputs;
    }
    latency.push_back(r.latency_s());
    latency_from_sched.push_back(r.latency_from_sched_s());
    client_queue.push_back(r.client_queue_s());
    if (r.streamed) {
      ttft.push_back(r.ttft_s());
      if (auto t = r.ttfa_s()) ttfa.push_back(*t);
      if (auto t = r.tpot_s()) tpot.push_back(*t);
      for (std::size_t i = 1; i < r.event_times.size(); ++i)
        itl.push_back(ns_to_s(r.event_times[i] - r.event_times[i - 1]));
      append_per_token_itl(r, itl_per_token);
    }
    if (options.slo.met_by(r)) ++good;
  }
  s.wall_s = any_sent ? ns_to_s(last_end - first_send) : 0.0;
  s.first_send = first_send;
  s.last_end = last_end;
  // In flight: +1 at each t_send, -1 at each t_end; ends sort before sends at the same instant.
  std::vector<std::pair<Nanos, int>> edges;
  Nanos busy = 0;
  for (const auto& r : records) {
    if (r.warmup || r.t_send == 0) continue;
    const Nanos end = std::max(r.t_end, r.t_send);
    edges.emplace_back(r.t_send, 1);
    edges.emplace_back(end, -1);
    busy += end - r.t_send;
  }
  std::sort(edges.begin(), edges.end());
  std::size_t now_in_flight = 0;
  for (const auto& [t, step] : edges) {
    now_in_flight = step > 0 ? now_in_flight + 1 : now_in_flight - 1;
    s.peak_in_flight = std::max(s.peak_in_flight, now_in_flight);
  }
  if (s.wall_s > 0) s.mean_in_flight = ns_to_s(busy) / s.wall_s;
  if (s.wall_s > 0) {
    s.throughput_req_per_sec = static_cast<double>(s.successful) / s.wall_s;
    s.output_tokens_per_sec = static_cast<double>(s.total_output_tokens) / s.wall_s;
    s.input_tokens_per_sec = static_cast<double>(s.total_input_tokens) / s.wall_s;
    s.total_tokens_per_sec = s.input_tokens_per_sec + s.output_tokens_per_sec;
    if (options.slo.any()) s.goodput_req_per_sec = static_cast<double>(good) / s.wall_s;
  } else if (options.slo.any()) {
    s.goodput_req_per_sec = 0.0;
  }
  auto histogram = [](const std::vector<double>& v) -> std::optional<LogHistogram> {
    if (v.empty()) return std::nullopt;
    LogHistogram h;
    for (double x : v) h.add(x);
    return h;
  };
  s.histograms = {histogram(latency), histogram(ttft), histogram(tpot), histogram(itl)};
  if (cached_of > 0) s.prefix_hit_rate = static_cast<double>(s.cached_input_tokens) / static_cast<double>(cached_of);
  auto maybe = [&](std::vector<double>& v) -> std::optional<Summary> {
    if (v.empty()) return std::nullopt;
    return summarize_samples(std::move(v), options.method);
  };
  s.latency = maybe(latency);
  s.latency_from_sched = maybe(latency_from_sched);
  s.client_queue = maybe(client_queue);
  s.ttft = maybe(ttft);
  s.ttfa = maybe(ttfa);
  s.tpot = maybe(tpot);
  s.itl = maybe(itl);
  s.itl_per_token = maybe(itl_per_token);
  return s;
}

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LevelSummary*) {
  using L = LevelSummary;
  return field_list<Deferred>(
      required("target", &L::target), required("level", &L::level), required("sent", &L::sent),
      required("successful", &L::successful), required("failed", &L::failed), field("interrupted", &L::interrupted),
      field("failed_by_kind", &L::failed_by_kind), field("connects", &L::connects), required("wall_s", &L::wall_s),
      field("first_send", &L::first_send), field("last_end", &L::last_end), field("peak_in_flight", &L::peak_in_flight),
      field("mean_in_flight", &L::mean_in_flight), required("throughput_req_per_sec", &L::throughput_req_per_sec),
      required("output_tokens_per_sec", &L::output_tokens_per_sec),
      field("total_output_tokens", &L::total_output_tokens), field("total_input_tokens", &L::total_input_tokens),
      field("input_tokens_reported", &L::input_tokens_reported),
      field("input_tokens_per_sec", &L::input_tokens_per_sec), field("total_tokens_per_sec", &L::total_tokens_per_sec),
      field("input_length_checked", &L::input_length_checked),
      field("input_length_mismatches", &L::input_length_mismatches),
      field("cached_input_tokens", &L::cached_input_tokens), field("prefix_hit_rate", &L::prefix_hit_rate),
      field("requested_output_tokens", &L::requested_output_tokens), field("short_outputs", &L::short_outputs),
      field("goodput_req_per_sec", &L::goodput_req_per_sec), field("latency", &L::latency),
      field("latency_from_sched", &L::latency_from_sched), field("client_queue", &L::client_queue),
      field("ttft", &L::ttft), field("tpot", &L::tpot), field("itl", &L::itl), field("ttfa", &L::ttfa),
      field("itl_per_token", &L::itl_per_token), field("histograms", &L::histograms));
}

}  // namespace servebench
// ---- end servebench/record.hpp ----
// ---- begin servebench/workload.hpp ----
// servebench — workloads: where prompts come from.
//
// A Workload is a random-access source of prompts: `at(index)` gives the prompt for request `index`. Schedulers pull
// from it by index from several threads at once, so every workload is immutable once built and `at` is const. A
// workload is either finite (`size()` has a value) or infinite (`size()` is empty: templates and synthetic prompts).
// A finite workload either cycles (`at` wraps around, so a three-prompt list can feed a hundred requests: lists and
// templates) or is a data set that refuses to (files, built prompts): a run that asks for more requests than it
// holds fails before sending anything, unless the data set was sampled with replacement to the run's size
// (workload/datasets.hpp). Everything is deterministic: the same workload (and seed) gives the same prompt at the
// same index on every run and every platform.
//
//   auto list   = servebench::fixed_prompts({"Explain attention.", "What is a KV cache?"}, 100);
//   auto conc   = servebench::template_prompts("Question {i}: Explain concept {i} briefly.", 50);
//   auto file   = servebench::jsonl_prompts("prompts.jsonl");           // {"prompt": "...", "max_tokens": 64}
//   auto synth  = servebench::synthetic_prompts(200, 128, /*seed=*/1);  // 200-word prompts

#include <array>
#include <cstdint>
#include <fstream>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>


namespace servebench {

// One message of a chat history.
struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// One request to make: the prompt and its generation length.
struct Prompt {
  std::string text;  // with `messages`: their contents, one per line, for dialects that take a single text
  int max_tokens = 100;
  // The prompt's length in tokens as the server counts it, when the workload built it to that length from the
  // server's tokenizer (workload/tokenizer.hpp); -1 otherwise. Records carry it as n_in_expected.
  std::int64_t input_tokens = -1;
  // A chat history (multi-turn conversations, JSONL {"messages"}): the chat dialect sends it as it is; empty: one
  // user message of `text`.
  std::vector<ChatMessage> messages = {};
};

// Thrown when a workload cannot be built: a file that cannot be read, a bad JSONL line (the message names the file
// and the 1-based line number), an empty list.
struct WorkloadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Workload {
 public:
  using Generator = std::function<Prompt(std::uint64_t index)>;

  // `generator` must be safe to call from several threads at once (schedulers do) and must depend only on the index.
  // `size` empty: infinite. A finite workload calls the generator with index % size when it `cycles`; one that
  // does not throws WorkloadError for an index past its end (the schedulers check before a run that it is not).
  template <class Deferred = void>  // deferred: see serialize.hpp
  Workload(Generator generator, std::optional<std::uint64_t> size = std::nullopt, std::string name = {},
           bool cycles = true)
      : generator_(std::make_shared<const deferred<Generator, Deferred>>(std::move(generator))), size_(size),
        name_(std::move(name)), cycles_(cycles) {
    if (!*generator_) throw std::invalid_argument("servebench::Workload: empty generator");
    if (size_ && *size_ == 0) throw WorkloadError("servebench::Workload '" + name_ + "' has no prompts");
  }

  Prompt at(std::uint64_t index) const {
    if (size_ && !cycles_ && index >= *size_) throw WorkloadError(too_few(index + 1));
    return (*generator_)(size_ ? index % *size_ : index);
  }
  std::optional<std::uint64_t> size() const noexcept { return size_; }
  bool infinite() const noexcept { return !size_; }
  bool cycles() const noexcept { return cycles_; }
  const std::string& name() const noexcept { return name_; }

  // Throws WorkloadError when `requests` requests would run past the end of a data set that does not cycle.
  void check_enough(std::uint64_t requests) const {
    if (size_ && !cycles_ && requests > *size_) throw WorkloadError(too_few(requests));
  }

  // The first `count` prompts (wrapping for a finite workload), e.g. to print or save what a run will send.
  template <class = void>  // deferred: see serialize.hpp
  std::vector<Prompt> take(std::uint64_t count) const {
    std::vector<Prompt> out;
    out.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) out.push_back(at(i));
    return out;
  }

 private:
  std::string too_few(std::uint64_t requests) const {
    return "servebench: the data set '" + name_ + "' holds " + std::to_string(*size_) + " prompts but the run needs " +
           std::to_string(requests) +
           "; ask for fewer requests, or sample it with replacement (--sample-with-replacement)";
  }

  std::shared_ptr<const Generator> generator_;  // shared: copies of a workload are cheap and see the same prompts
  std::optional<std::uint64_t> size_;
  std::string name_;
  bool cycles_ = true;
};

namespace detail {

// splitmix64: a tiny, fully specified mixer, so seeded prompts are the same on every standard library (the
// distributions of <random> are not).
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline void replace_all(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

inline void check_max_tokens(int max_tokens, const char* who) {
  if (max_tokens <= 0) throw std::invalid_argument(std::string("servebench::") + who + ": max_tokens must be > 0");
}

// Ordinary English words, so synthetic prompts tokenize roughly like prose (about 1.3 tokens per word on
// Llama-family tokenizers) rather than like random characters, which would inflate the token count.
inline constexpr std::array<const char*, 64> synthetic_vocabulary{
    "the",     "model",    "server",    "request",  "answer",  "question", "data",    "system", "time",   "network",
    "memory",  "layer",    "attention", "token",    "batch",   "engine",   "explain", "simple", "large",  "small",
    "quickly", "slowly",   "because",   "which",    "between", "about",    "through", "under",  "after",  "before",
    "while",   "where",    "people",    "learn",    "build",   "measure",  "compare", "result", "number", "value",
    "history", "science",  "river",     "mountain", "city",    "language", "music",   "garden", "write",  "read",
    "think",   "describe", "example",   "detail",   "reason",  "method",   "every",   "other",  "first",  "second",
    "several", "many",     "often",     "always",
};

}  // namespace detail

// A fixed list of prompts, used in order and wrapped around (or, with `cycles` false, a data set that refuses to).
template <class = void>  // deferred: see serialize.hpp
Workload fixed_prompts(std::vector<Prompt> prompts, std::string name = "fixed", bool cycles = true) {
  if (prompts.empty()) throw WorkloadError("servebench::fixed_prompts: the list is empty");
  for (const auto& p : prompts) detail::check_max_tokens(p.max_tokens, "fixed_prompts");
  const auto size = static_cast<std::uint64_t>(prompts.size());
  // The generator holds the prompts; copies of the workload share the generator.
  return Workload([prompts = std::move(prompts)](std::uint64_t i) { return prompts[static_cast<std::size_t>(i)]; },
                  size, std::move(name), cycles);
}

template <class = void>  // deferred: see serialize.hpp
Workload fixed_prompts(const std::vector<std::string>& texts, int max_tokens, std::string name = "fixed") {
  std::vector<Prompt> prompts;
  prompts.reserve(texts.size());
  for (const auto& t : texts) prompts.push_back(Prompt{t, max_tokens});
  return fixed_prompts(std::move(prompts), std::move(name));
}

// `pattern` with every "{i}" replaced by the request index (0, 1, 2, ...), like the lab's f-string. Infinite unless
// `count` is given, in which case it wraps after `count` prompts.
template <class = void>  // deferred: see serialize.hpp
Workload template_prompts(std::string pattern, int max_tokens, std::optional<std::uint64_t> count = std::nullopt,
                          std::string name = "template") {
  detail::check_max_tokens(max_tokens, "template_prompts");
  return Workload(
      [pattern = std::move(pattern), max_tokens](std::uint64_t i) {
        Prompt p{pattern, max_tokens};
        detail::replace_all(p.text, "{i}", std::to_string(i));
        return p;
      },
      count, std::move(name));
}

// Parses JSON Lines: one object per line, {"prompt": string | "messages": [{"role", "content"}, ...], "max_tokens":
// positive integer (optional, else `default_max_tokens`)}. Blank lines are skipped. `source_name` names the input in
// error messages.
template <class Json = nlohmann::json>  // deferred: see serialize.hpp
std::vector<Prompt> parse_jsonl_prompts(std::istream& in, const std::string& source_name,
                                        int default_max_tokens = 100) {
  detail::check_max_tokens(default_max_tokens, "parse_jsonl_prompts");
  std::vector<Prompt> prompts;
  std::string line;
  std::size_t line_number = 0;
  auto fail = [&](const std::string& why) {
    throw WorkloadError(source_name + ":" + std::to_string(line_number) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // files written on Windows
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const typename Json::exception& e) {
      // Not only parse_error: a number too large for a double (1e400) is out_of_range (found by fuzzing).
      fail(std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) fail("expected a JSON object with a \"prompt\" or \"messages\" field");
    Prompt p;
    p.max_tokens = default_max_tokens;
    auto prompt = j.find("prompt");
    auto messages = j.find("messages");
    if (prompt != j.end()) {
      if (!prompt->is_string()) fail("field \"prompt\" must be a string");
      p.text = prompt->template get<std::string>();
    } else if (messages != j.end()) {
      if (!messages->is_array() || messages->empty()) fail("field \"messages\" must be a non-empty list");
      for (std::size_t m = 0; m < messages->size(); ++m) {
        const auto& message = (*messages)[m];
        const std::string at = "field \"messages[" + std::to_string(m) + "]";
        if (!message.is_object()) fail(at + "\" must be an object {\"role\", \"content\"}");
        const auto role = message.find("role"), content = message.find("content");
        if (role == message.end() || !role->is_string()) fail(at + ".role\" must be a string");
        if (content == message.end() || !content->is_string()) fail(at + ".content\" must be a string");
        p.messages.push_back({role->template get<std::string>(), content->template get<std::string>()});
        p.text += (m ? "\n" : "") + p.messages.back().content;
      }
    } else {
      fail("missing field \"prompt\" (or \"messages\")");
    }
    auto max_tokens = j.find("max_tokens");
    if (max_tokens != j.end() && !max_tokens->is_null()) {
      if (!max_tokens->is_number_integer()) fail("field \"max_tokens\" must be an integer");
      const auto value = max_tokens->template get<std::int64_t>();
      if (value <= 0 || value > 1'000'000'000) fail("field \"max_tokens\" must be a positive integer");
      p.max_tokens = static_cast<int>(value);
    }
    prompts.push_back(std::move(p));
  }
  if (in.bad()) throw WorkloadError(source_name + ": read error");
  if (prompts.empty()) throw WorkloadError(source_name + ": no prompts");
  return prompts;
}

// A JSONL file of {"prompt", "max_tokens"} records, read once up front (a bad line fails here, not mid-run). A data
// set: it does not wrap (see the top of the file).
template <class = void>  // deferred: see serialize.hpp
Workload jsonl_prompts(const std::string& path, int default_max_tokens = 100) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WorkloadError(path + ": cannot open");
  return fixed_prompts(parse_jsonl_prompts(in, path, default_max_tokens), path, /*cycles=*/false);
}

// Prompts of exactly `words` words drawn from a fixed vocabulary, different for every index, the same for the same
// (seed, index) on every platform. Infinite. For input-length experiments without a data set.
template <class = void>  // deferred: see serialize.hpp
Workload synthetic_prompts(std::size_t words, int max_tokens, std::uint64_t seed = 0, std::string name = "synthetic") {
  detail::check_max_tokens(max_tokens, "synthetic_prompts");
  if (words == 0) throw std::invalid_argument("servebench::synthetic_prompts: words must be > 0");
  return Workload(
      [words, max_tokens, seed](std::uint64_t i) {
        // One independent stream per (seed, index): random access, no shared state between threads.
        std::uint64_t state = seed;
        state = detail::splitmix64(state) ^ (i * 0xD1B54A32D192ED03ULL);
        Prompt p{{}, max_tokens};
        p.text.reserve(words * 8);
        for (std::size_t w = 0; w < words; ++w) {
          if (w) p.text += ' ';
          p.text += detail::synthetic_vocabulary[detail::splitmix64(state) % detail::synthetic_vocabulary.size()];
        }
        return p;
      },
      std::nullopt, std::move(name));
}

}  // namespace servebench
// ---- end servebench/workload.hpp ----

namespace servebench {

// Generation settings shared by every request of a run (the prompt and its max_tokens come from Prompt).
struct GenerationOptions {
  std::string model;              // empty: not sent (servers with one model use it)
  double temperature = 0;         // 0: greedy, so runs are repeatable
  bool stream = false;            // ask for a stream of events (only dialects with `event` can)
  bool ignore_eos = false;        // vLLM extension: generate exactly max_tokens
  std::optional<int> min_tokens;  // vLLM extension
  // vLLM extension: stream_options.continuous_usage_stats, a cumulative usage in every stream chunk, so a chunk's
  // token count is known (per-token ITL). Off by default: other servers may reject the unknown field.
  bool continuous_usage = false;
  // Generate exactly each prompt's max_tokens: ignore_eos and min_tokens = max_tokens (vLLM, SGLang, llama.cpp).
  // TGI has no equivalent; the summary's short_outputs then says how many replies ended early.
  bool force_output_length = false;
};

namespace api {

// What to send: a path below the base URL's prefix, and a JSON body to POST there.
struct HttpCall {
  std::string path;
  nlohmann::json body;
};

// A whole non-streaming reply.
struct Reply {
  std::string text;
  std::optional<std::int64_t> completion_tokens;  // the server's count of generated tokens, when it sends one
  std::optional<std::int64_t> prompt_tokens;
  std::optional<std::int64_t> reasoning_tokens;      // of completion_tokens, reasoning (when the server says)
  std::optional<std::int64_t> cached_prompt_tokens;  // of prompt_tokens, found in the server's prefix cache
  std::optional<ServerTiming> server_timing;         // from the dialect's server_timing hook, when it has one
};

// One stream event.
struct Event {
  bool carries_text = false;  // it delivered answer text (role-only deltas, usage chunks, [DONE] do not)
  // It delivered generated tokens that are not answer text: reasoning (`reasoning_content` / `reasoning`) or a tool
  // call. TTFT counts from the first event with either; TTFA from the first with answer text.
  bool carries_other_tokens = false;
  std::string text;
  std::optional<std::int64_t> completion_tokens;
  std::optional<std::int64_t> prompt_tokens;
  std::optional<std::int64_t> reasoning_tokens;
  std::optional<std::int64_t> cached_prompt_tokens;
  bool terminator = false;  // the stream is complete after this event
  std::optional<ServerTiming> server_timing;
};

// A parse outcome: the value, or why there is none.
template <class T>
struct Parsed {
  T value;
  ErrorKind error = ErrorKind::none;
  std::string message;
  bool ok() const noexcept { return error == ErrorKind::none; }
};

// True when the dialect can read stream events (has `Event event(const nlohmann::json&) const`).
template <class Api, class = void>
struct streams : std::false_type {};
template <class Api>
struct streams<Api, std::void_t<decltype(std::declval<const Api&>().event(std::declval<const nlohmann::json&>()))>>
    : std::true_type {};
template <class Api>
inline constexpr bool streams_v = streams<Api>::value;

// The dialect's name as artifacts record it: Api::name, or "custom" for a dialect without one.
template <class Api, class = void>
struct has_name : std::false_type {};
template <class Api>
struct has_name<Api, std::void_t<decltype(Api::name)>> : std::true_type {};
template <class Api>
const char* dialect_name() noexcept {
  if constexpr (has_name<Api>::value)
    return Api::name;
  else
    return "custom";
}

// True when the dialect reads the server's own timing (has `std::optional<ServerTiming> server_timing(json) const`).
template <class Api, class = void>
struct reports_server_timing : std::false_type {};
template <class Api>
struct reports_server_timing<
    Api, std::void_t<decltype(std::declval<const Api&>().server_timing(std::declval<const nlohmann::json&>()))>>
    : std::true_type {};

// True when the dialect names the keys it reads: `static bool reads_key(std::string_view)`, and `reads_keys_of` naming
// the dialect itself (not a base it derives from, whose keys may not be all it reads).
template <class Api, class = void>
struct reads_keys : std::false_type {};
template <class Api>
struct reads_keys<Api, std::void_t<decltype(bool{Api::reads_key(std::string_view())}), typename Api::reads_keys_of>>
    : std::is_same<typename Api::reads_keys_of, Api> {};
template <class Api>
inline constexpr bool reads_keys_v = reads_keys<Api>::value;

// Helpers for dialect writers: whether a value is an integer of int64 range, and an optional integer that may be
// absent or null. A count that is not an integer of
// int64 range (1e30, 5.5, 2^64 - 1) is a type_error, i.e. missing_field: nlohmann's get<std::int64_t>() would convert
// a float out of range with undefined behaviour and wrap a large unsigned into a negative count (found by fuzzing).
template <class Json>
bool is_int64(const Json& value) {
  return value.is_number_integer() &&
         !(value.is_number_unsigned() && value.template get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX));
}
template <class Json>
std::optional<std::int64_t> optional_int(const Json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!is_int64(*it))
    throw nlohmann::json::type_error::create(302, std::string(key) + " is not an integer count", &*it);
  return it->template get<std::int64_t>();
}

namespace detail {

inline bool key_in(std::string_view key, std::initializer_list<std::string_view> keys) noexcept {
  for (const auto k : keys)
    if (k == key) return true;
  return false;
}

// The keys read_usage reads.
inline bool usage_key(std::string_view key) noexcept {
  return key_in(key, {"usage", "completion_tokens", "prompt_tokens", "completion_tokens_details", "reasoning_tokens",
                      "prompt_tokens_details", "cached_tokens"});
}

// The OpenAI-style `usage` object (absent or null in all but the last chunk of a stream).
template <class Out, class Json>
void read_usage(const Json& body, Out& out) {
  const auto it = body.find("usage");
  if (it == body.end() || it->is_null()) return;
  out.completion_tokens = optional_int(*it, "completion_tokens");
  out.prompt_tokens = optional_int(*it, "prompt_tokens");
  if (const auto details = it->find("completion_tokens_details"); details != it->end() && details->is_object())
    out.reasoning_tokens = optional_int(*details, "reasoning_tokens");
  // vLLM and SGLang with prefix caching, OpenAI: usage.prompt_tokens_details.cached_tokens.
  if (const auto details = it->find("prompt_tokens_details"); details != it->end() && details->is_object())
    out.cached_prompt_tokens = optional_int(*details, "cached_tokens");
}

inline std::string excerpt(std::string_view text, std::size_t limit = 120) {
  std::string out(text.substr(0, limit));
  if (text.size() > limit) out += "...";
  return out;
}

template <class T, class Api, class Read>
Parsed<T> parse_with(const Api& api, std::string_view text, const char* what, Read&& read) {
  using Json = deferred<nlohmann::json, Api>;
  Parsed<T> out;
  // Parsing without exceptions keeps the common failure (a truncated or HTML body) cheap and exact.
  Json j;
  bool valid = false;
  if constexpr (reads_keys_v<Api>) {
    valid = servebench::detail::parse_pruned(text, j, [](std::string_view key) { return Api::reads_key(key); });
  } else {
    j = Json::parse(text.begin(), text.end(), nullptr, false);
    valid = !j.is_discarded();
  }
  if (!valid) {
    out.error = ErrorKind::invalid_json;
    out.message = std::string(what) + " is not valid JSON: " + excerpt(text);
    return out;
  }
  try {
    out.value = read(j);
  } catch (const typename Json::exception& e) {
    // out_of_range: a key is missing; type_error: it is there but null or of another type. Both mean the
    // dialect's field is not where it must be.
    out.error = ErrorKind::missing_field;
    out.message = std::string(what) + " lacks a field the dialect needs (" + e.what() + "): " + excerpt(text);
    return out;
  } catch (const std::exception& e) {
    out.error = ErrorKind::other;
    out.message = std::string(what) + ": " + e.what();
    return out;
  }
  if constexpr (reports_server_timing<Api>::value) {
    try {
      out.value.server_timing = api.server_timing(j);
    } catch (const std::exception&) {
      // A malformed report of the server's own timing never fails a request the server did serve.
    }
  }
  return out;
}

// The first element of `choices`, or nullptr when the list is empty (a usage-only chunk).
template <class Json>
const Json* first_choice(const Json& body) {
  const auto& choices = body.at("choices");
  if (!choices.is_array()) throw nlohmann::json::type_error::create(302, "choices is not an array", &choices);
  return choices.empty() ? nullptr : &choices.front();
}

// The first element of `choices` in a whole reply, where an empty list means the field the dialect needs is missing.
template <class Json>
const Json& required_first_choice(const Json& body) {
  const auto* choice = first_choice(body);
  if (!choice) throw nlohmann::json::out_of_range::create(401, "choices is empty", &body);
  return *choice;
}

// A text field that may be absent or null in a delta (role-only chunk, tool call): empty then.
template <class Json>
std::string optional_text(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  return it->template get<std::string>();
}

template <class Json>
void put_openai_options(Json& body, const Prompt& prompt, const GenerationOptions& g) {
  if (!g.model.empty()) body["model"] = g.model;
  body["max_tokens"] = prompt.max_tokens;
  body["temperature"] = g.temperature;
  if (g.ignore_eos || g.force_output_length) body["ignore_eos"] = true;
  if (g.min_tokens) body["min_tokens"] = *g.min_tokens;
  if (g.force_output_length) body["min_tokens"] = prompt.max_tokens;
  if (g.stream) {
    body["stream"] = true;
    // Without it an OpenAI-style stream carries no token count and n_out would fall back to counting events.
    body["stream_options"] = {{"include_usage", true}};
    if (g.continuous_usage) body["stream_options"]["continuous_usage_stats"] = true;
  }
}

}  // namespace detail

// Reads a whole non-streaming reply body with `api`.
template <class Api>
Parsed<Reply> read_reply(const Api& api, std::string_view body) {
  return detail::parse_with<Reply>(api, body, "reply", [&](const nlohmann::json& j) { return api.reply(j); });
}

// Reads one stream event's data with `api`. `[DONE]` ends every dialect's stream and is never passed to it.
template <class Api>
Parsed<Event> read_event(const Api& api, std::string_view data) {
  if (data == "[DONE]") {
    Parsed<Event> out;
    out.value.terminator = true;
    return out;
  }
  return detail::parse_with<Event>(api, data, "stream event", [&](const nlohmann::json& j) { return api.event(j); });
}

// The lab's Flask server around transformers' model.generate: POST /v1/completions {"prompt", "max_tokens"} ->
// {"text", "usage": {"completion_tokens"}, "elapsed_sec"}. It does not stream, and reads nothing else.
struct hf_simple {
  static constexpr const char* name = "hf_simple";
  using reads_keys_of = hf_simple;
  static bool reads_key(std::string_view key) noexcept { return key == "text" || detail::usage_key(key); }
  template <class Json = nlohmann::json>  // deferred: see serialize.hpp
  HttpCall request(const Prompt& prompt, const GenerationOptions&) const {
    Json body = {{"prompt", prompt.text}, {"max_tokens", prompt.max_tokens}};
    return {"/v1/completions", std::move(body)};
  }
  template <class Json>
  Reply reply(const Json& body) const {
    Reply r;
    r.text = body.at("text").template get<std::string>();
    detail::read_usage(body, r);
    return r;
  }
};

// OpenAI /v1/completions as vLLM serves it.
struct openai_completions {
  static constexpr const char* name = "openai_completions";
  using reads_keys_of = openai_completions;
  static bool reads_key(std::string_view key) noexcept {
    return key == "choices" || key == "text" || detail::usage_key(key);
  }
  template <class Json = nlohmann::json>  // deferred: see serialize.hpp
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    Json body = {{"prompt", prompt.text}};
    detail::put_openai_options(body, prompt, g);
    return {"/v1/completions", std::move(body)};
  }
  template <class Json>
  Reply reply(const Json& body) const {
    Reply r;
    r.text = detail::required_first_choice(body).at("text").template get<std::string>();
    detail::read_usage(body, r);
    return r;
  }
  template <class Json>
  Event event(const Json& data) const {
    Event e;
    if (const auto* choice = detail::first_choice(data)) {
      e.text = choice->at("text").template get<std::string>();
      e.carries_text = !e.text.empty();
    }
    detail::read_usage(data, e);
    return e;
  }
};

// OpenAI /v1/chat/completions: the prompt's messages, or one user message of its text; streamed text arrives in
// choices[0].delta.content.
struct openai_chat {
  static constexpr const char* name = "openai_chat";
  using reads_keys_of = openai_chat;
  static bool reads_key(std::string_view key) noexcept {
    return detail::key_in(key,
                          {"choices", "message", "delta", "content", "reasoning_content", "reasoning", "tool_calls"}) ||
           detail::usage_key(key);
  }
  template <class Json = nlohmann::json>  // deferred: see serialize.hpp
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    Json messages = Json::array();
    for (const auto& m : prompt.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    if (messages.empty()) messages.push_back({{"role", "user"}, {"content", prompt.text}});
    Json body = {{"messages", std::move(messages)}};
    detail::put_openai_options(body, prompt, g);
    return {"/v1/chat/completions", std::move(body)};
  }
  template <class Json>
  Reply reply(const Json& body) const {
    Reply r;
    r.text = detail::optional_text(detail::required_first_choice(body).at("message"), "content");
    detail::read_usage(body, r);
    return r;
  }
  template <class Json>
  Event event(const Json& data) const {
    Event e;
    if (const auto* choice = detail::first_choice(data)) {
      const auto& delta = choice->at("delta");
      e.text = detail::optional_text(delta, "content");  // the first delta often has only a role
      e.carries_text = !e.text.empty();
      // Reasoning models stream their reasoning first: vLLM and SGLang as `reasoning_content`, others (and newer
      // vLLM) as `reasoning`; a tool call's arguments arrive in `tool_calls`. All are generated tokens.
      const auto tools = delta.find("tool_calls");
      e.carries_other_tokens = !detail::optional_text(delta, "reasoning_content").empty() ||
                               !detail::optional_text(delta, "reasoning").empty() ||
                               (tools != delta.end() && tools->is_array() && !tools->empty());
    }
    detail::read_usage(data, e);
    return e;
  }
};

// Hugging Face text-generation-inference: POST /generate and /generate_stream. Its stream has no [DONE]: the
// event whose `generated_text` is set is the last one, and with `details` it carries the token count.
struct tgi {
  static constexpr const char* name = "tgi";
  using reads_keys_of = tgi;
  static bool reads_key(std::string_view key) noexcept {
    return detail::key_in(key, {"generated_text", "token", "special", "text", "details", "generated_tokens"});
  }
  template <class Json = nlohmann::json>  // deferred: see serialize.hpp
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    Json parameters = {{"max_new_tokens", prompt.max_tokens}, {"details", true}};
    // TGI rejects temperature 0; greedy decoding is do_sample = false.
    if (g.temperature > 0) {
      parameters["temperature"] = g.temperature;
      parameters["do_sample"] = true;
    } else {
      parameters["do_sample"] = false;
    }
    Json body = {{"inputs", prompt.text}, {"parameters", std::move(parameters)}};
    return {g.stream ? "/generate_stream" : "/generate", std::move(body)};
  }
  template <class Json>
  Reply reply(const Json& body) const {
    // Older TGI releases answer with a one-element list.
    const Json& result = body.is_array() ? body.at(0) : body;
    Reply r;
    r.text = result.at("generated_text").template get<std::string>();
    read_details(result, r);
    return r;
  }
  template <class Json>
  Event event(const Json& data) const {
    Event e;
    const auto& token = data.at("token");
    const bool special = token.value("special", false);
    e.text = token.at("text").template get<std::string>();
    if (special) e.text.clear();  // an end-of-sequence token is a token but not text
    e.carries_text = !e.text.empty();
    const auto generated = data.find("generated_text");
    e.terminator = generated != data.end() && !generated->is_null();
    read_details(data, e);
    return e;
  }

 private:
  template <class Json, class Out>
  static void read_details(const Json& body, Out& out) {
    const auto it = body.find("details");
    if (it == body.end() || it->is_null()) return;
    out.completion_tokens = optional_int(*it, "generated_tokens");
  }
};

}  // namespace api
}  // namespace servebench
// ---- end servebench/api.hpp ----
// ---- begin servebench/artifact.hpp ----
// servebench — JSON artifacts: the whole record of a run (metadata, every level as the scheduler returned it,
// optionally every request), written atomically so a crash or Ctrl-C never leaves half a file where the artifact
// should be. What a run knows reaches the file without the program copying it: each level carries its target, its
// settings and how it went; the targets, the percentile methods and `interrupted` of the run are derived from the
// levels when written, never set by hand; so are the intervals across repetitions ("repetitions", see
// repetitions.hpp) when the levels came from a repeated sweep. Artifacts of schema 1 (servebench 0.1) still read.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// ---- begin servebench/files.hpp ----
// servebench — files that are never half-written: atomic writes (temporary file, fsync, rename), whole-file reads,
// and the two facts every artifact starts with (UTC time, host name). Errors name the path and the fix.

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace servebench {

namespace detail {

inline std::string errno_text(int error) { return std::generic_category().message(error); }

template <class = void>  // deferred: see serialize.hpp
void make_parent_directories(const std::string& path) {
  // mkdir -p of everything before the last '/'.
  for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string dir = path.substr(0, pos);
    if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create directory '" + dir + "' for '" + path + "': " + errno_text(errno) +
                               " (choose another output path, or fix its permissions)");
    struct stat info {};
    if (::stat(dir.c_str(), &info) == 0 && !S_ISDIR(info.st_mode))
      throw std::runtime_error("cannot write '" + path + "': '" + dir + "' exists and is not a directory");
  }
}

inline std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace detail

// Writes `contents` to `path` atomically: a temporary file in the same directory, written, flushed, fsync'ed, then
// renamed over `path` (and the directory fsync'ed). Readers see the old file or the new one, never a mix. Parent
// directories are created. Throws std::runtime_error naming the path and the reason.
template <class = void>  // deferred: see serialize.hpp
void write_file_atomic(const std::string& path, const std::string& contents) {
  if (path.empty()) throw std::runtime_error("cannot write a file with an empty path");
  if (path.back() == '/') throw std::runtime_error("cannot write '" + path + "': the path names a directory");
  detail::make_parent_directories(path);
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0)
    throw std::runtime_error("cannot write '" + path + "': " + detail::errno_text(errno) +
                             " (choose another output path, or fix its permissions)");
  auto fail = [&](const char* step) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (" + step + "): " + detail::errno_text(error));
  };
  const char* data = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // mkstemp creates 0600; an artifact is ordinary user data.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) fail("chmod");
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (close): " + detail::errno_text(error));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (rename): " + detail::errno_text(error));
  }
  const int dir = ::open(detail::directory_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: makes the rename itself durable
    ::close(dir);
  }
}

template <class Json>
void write_json_atomic(const std::string& path, const Json& value, int indent = 2) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

// Reads a whole file; throws std::runtime_error naming the path and the reason.
template <class = void>  // deferred: see serialize.hpp
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "': " + detail::errno_text(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Current UTC time as ISO 8601 ("2026-11-28T22:53:56Z").
template <class = void>  // deferred: see serialize.hpp
std::string utc_now_iso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

template <class = void>  // deferred: see serialize.hpp
std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

}  // namespace servebench
// ---- end servebench/files.hpp ----
// ---- begin servebench/repetitions.hpp ----
// servebench — repetitions: a sweep run k times (Sweep::repeat) gives k LevelResults per (target, level); this
// summarizes them as a mean with a confidence interval by Student's t with k - 1 degrees of freedom, for
// throughput (requests/s, output tokens/s) and the latency percentiles (TTFT and latency, p50 and p99), and relates
// two targets' throughputs by a ratio with its own interval. Plain data, written into the artifact
// ("repetitions"); docs/metrics.md defines every interval.
//
//   for (const auto& r : servebench::repeated_levels(sweep.levels))
//     std::printf("%s @ %g: %.2f req/s [%.2f, %.2f]\n", r.target.c_str(), r.level, r.throughput_req_per_sec.mean,
//                 r.throughput_req_per_sec.low, r.throughput_req_per_sec.high);

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

// ---- begin servebench/result.hpp ----
// servebench — what one level of a run was asked to do and what it gave: the unit every scheduler returns, every
// report reads and every artifact stores whole. Nothing a run knows is left out: the target, the loop and its
// settings (concurrency or rate, arrivals, seed, counts, warm-up, SLOs, percentile method), the summary, every
// record, and how the run went (interrupted, timed out, late sends, arrivals never sent, warnings).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// ---- begin servebench/metrics/series.hpp ----
// servebench — what a level saw of the server's own metrics (its Prometheus /metrics endpoint, scraped while the
// level ran by metrics/scrape.hpp): gauges as time series, counters as series and their change over the level, and
// what the scraping cost. Plain data, stored in LevelResult::server_metrics and so in the artifact.
//
// The metrics that matter for LLM servers have different names per server; server_metric() finds the series of a
// role (requests running, requests waiting, KV-cache usage, ...) under any of the names vLLM, SGLang and TGI use.

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>


namespace servebench {

// One metric (one name and one set of labels) over a level.
struct MetricSeries {
  std::string name;             // the sample's name, as the server wrote it ("vllm:num_requests_running")
  std::string labels;           // its labels as written in the exposition ({model_name="m"}), "" when none
  std::string type;             // gauge, counter or untyped (a histogram's or summary's _sum and _count are counters)
  std::vector<std::int64_t> t;  // when each value was read: steady-clock nanoseconds, the clock of the records
  std::vector<double> values;   // non-finite values are left out (JSON has no NaN)
  double delta = 0;             // counters: last minus first, resets (a value going down) counted from zero
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const MetricSeries*) {
  using S = MetricSeries;
  return field_list<Deferred>(required("name", &S::name), field("labels", &S::labels), field("type", &S::type),
                              field("t", &S::t), field("values", &S::values), field("delta", &S::delta));
}

// Everything scraped during one level.
struct ServerMetrics {
  std::string url;            // what was scraped
  double interval_s = 0;      // the asked interval between scrapes
  std::uint64_t scrapes = 0;  // attempted
  std::uint64_t failed = 0;   // no answer, an HTTP error status or text with no metric in it (timeouts included)
  std::uint64_t timed_out = 0;
  std::uint64_t parse_errors = 0;  // bad lines, summed over the scrapes (the good lines still count)
  double scrape_ms_mean = 0;       // the cost of one scrape, request to parsed text
  double scrape_ms_max = 0;
  std::vector<std::string> errors;  // the first few failures, for a person
  std::vector<MetricSeries> series;
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const ServerMetrics*) {
  using M = ServerMetrics;
  return field_list<Deferred>(field("url", &M::url), field("interval_s", &M::interval_s), field("scrapes", &M::scrapes),
                              field("failed", &M::failed), field("timed_out", &M::timed_out),
                              field("parse_errors", &M::parse_errors), field("scrape_ms_mean", &M::scrape_ms_mean),
                              field("scrape_ms_max", &M::scrape_ms_max), field("errors", &M::errors),
                              field("series", &M::series));
}

// What a metric means, whatever the server calls it.
enum class ServerMetric {
  running,         // requests in the running batch
  waiting,         // requests queued, not yet running
  kv_cache_usage,  // share of the KV cache in use, 0..1
  prefix_cache_queries,
  prefix_cache_hits,
  preemptions,
};

// The names each role goes by: vLLM (older and newer spellings), SGLang, TGI; the first found wins.
template <class = void>  // deferred: see serialize.hpp
const std::vector<std::string>& server_metric_names(ServerMetric role) {
  static const std::vector<std::string> names[] = {
      {"vllm:num_requests_running", "sglang:num_running_reqs", "tgi_batch_current_size"},
      {"vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size"},
      {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage"},
      {"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total", "vllm:prefix_cache_queries",
       "vllm:gpu_prefix_cache_queries"},
      {"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total", "vllm:prefix_cache_hits",
       "vllm:gpu_prefix_cache_hits"},
      {"vllm:num_preemptions_total", "vllm:num_preemptions"},
  };
  return names[static_cast<std::size_t>(role)];
}

// Every name the scraper keeps unless told otherwise: the roles above and a few more counters of each server.
template <class = void>  // deferred: see serialize.hpp
std::vector<std::string> known_server_metric_names() {
  std::vector<std::string> out;
  for (int r = 0; r <= static_cast<int>(ServerMetric::preemptions); ++r)
    for (const auto& n : server_metric_names(static_cast<ServerMetric>(r))) out.push_back(n);
  for (const char* n : {"vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:request_success_total",
                        "sglang:cache_hit_rate", "sglang:gen_throughput", "sglang:num_used_tokens", "tgi_request_count",
                        "tgi_request_success", "tgi_batch_current_max_tokens"})
    out.push_back(n);
  return out;
}

// The series of a role, or nullptr (several label sets: the first).
template <class = void>  // deferred: see serialize.hpp
const MetricSeries* server_metric(const ServerMetrics& metrics, ServerMetric role) {
  for (const auto& name : server_metric_names(role))
    for (const auto& s : metrics.series)
      if (s.name == name && !s.values.empty()) return &s;
  return nullptr;
}

}  // namespace servebench
// ---- end servebench/metrics/series.hpp ----

namespace servebench {

// A server under test as results and artifacts name it. Built once with its sender (see target.hpp).
struct TargetInfo {
  std::string label;  // what records, summaries, tables and charts call it
  std::string url;
  std::string dialect;  // the dialect's name ("openai_completions", ...)
  std::string model;
  bool insecure = false;  // https without verifying the server's certificate
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const TargetInfo*) {
  return field_list<Deferred>(required("label", &TargetInfo::label), field("url", &TargetInfo::url),
                              field("dialect", &TargetInfo::dialect), field("model", &TargetInfo::model),
                              field("insecure", &TargetInfo::insecure));
}

enum class LoopMode {
  closed_loop,  // a fixed number of requests in flight
  open_loop,    // arrivals at a rate, whatever the server does
};

template <>
struct EnumNames<LoopMode> {
  static constexpr const char* what = "loop mode";
  static constexpr EnumName<LoopMode> entries[] = {{LoopMode::closed_loop, "closed_loop"},
                                                   {LoopMode::open_loop, "open_loop"}};
};
SERVEBENCH_ENUM_JSON(LoopMode)

// How open-loop arrivals are spaced.
enum class Arrival {
  constant,  // evenly spaced: 1/rate apart
  poisson,   // exponential gaps with mean 1/rate (coefficient of variation 1)
  gamma,     // gamma gaps with mean 1/rate and shape = burstiness: CV = 1/sqrt(burstiness); 1 is Poisson
};

template <>
struct EnumNames<Arrival> {
  static constexpr const char* what = "arrival distribution";
  static constexpr EnumName<Arrival> entries[] = {
      {Arrival::constant, "constant"}, {Arrival::poisson, "poisson"}, {Arrival::gamma, "gamma"}};
};
SERVEBENCH_ENUM_JSON(Arrival)

// The settings one level ran with, recorded by the scheduler itself (a program never copies them by hand).
struct LevelConfig {
  LoopMode mode = LoopMode::closed_loop;
  std::size_t concurrency = 0;         // closed loop: workers
  double rate = 0;                     // open loop: requests per second
  Arrival arrival = Arrival::poisson;  // open loop
  double burstiness = 1;               // open loop, gamma shape
  std::uint64_t seed = 0;              // open loop: the arrival schedule's seed
  std::size_t max_in_flight = 0;       // open loop: 0 = no cap
  std::uint64_t requests = 0;          // 0: none given
  double duration_s = 0;               // 0: none given
  std::uint64_t warmup = 0;
  double timeout_s = 0;  // level timeout, 0: none
  PercentileMethod percentile_method = PercentileMethod::linear;
  Slo slo;

  // The level as a number: concurrency for a closed loop, the rate for an open one.
  double level() const noexcept { return mode == LoopMode::closed_loop ? static_cast<double>(concurrency) : rate; }
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LevelConfig*) {
  using C = LevelConfig;
  return field_list<Deferred>(required("mode", &C::mode), field("concurrency", &C::concurrency),
                              field("rate", &C::rate), field("arrival", &C::arrival),
                              field("burstiness", &C::burstiness), field("seed", &C::seed),
                              field("max_in_flight", &C::max_in_flight), field("requests", &C::requests),
                              field("duration_s", &C::duration_s), field("warmup", &C::warmup),
                              field("timeout_s", &C::timeout_s), field("percentile_method", &C::percentile_method),
                              field("slo", &C::slo));
}

// One level against one target.
struct LevelResult {
  TargetInfo target;
  LevelConfig config;
  LevelSummary summary;
  std::vector<RequestRecord> records;  // measured and (when kept) warm-up requests, in schedule order
  bool interrupted = false;            // stopped by SIGINT / SIGTERM / request_interrupt(): records are partial
  bool deadline_exceeded = false;      // the level timeout cancelled requests still in flight
  std::size_t warmup_sent = 0;         // warm-up requests made (kept in records only with keep_warmup_records)
  std::size_t not_sent = 0;            // open loop: arrivals never sent (the run stopped first); not in records
  std::size_t late_sends = 0;          // measured requests sent more than 1 ms after t_sched
  double late_send_share = 0;          // late_sends / measured requests actually sent
  std::vector<std::string> warnings;   // for a person: late sends, interruption, timeout
  std::size_t repetition = 0;          // which repetition of this (target, level) it was, from 0 (Sweep::repeat)
  // Set when records and summary are in modelled time: measured against a simulated server running this many times
  // faster than the GPU it models (see modelled_time.hpp); measured wall-clock durations = these / time_scale.
  std::optional<double> time_scale;
  std::optional<ServerMetrics> server_metrics;  // the server's /metrics during the level, when scraped
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LevelResult*) {
  using L = LevelResult;
  return field_list<Deferred>(required("target", &L::target), required("config", &L::config),
                              required("summary", &L::summary), field("records", &L::records),
                              field("interrupted", &L::interrupted), field("deadline_exceeded", &L::deadline_exceeded),
                              field("warmup_sent", &L::warmup_sent), field("not_sent", &L::not_sent),
                              field("late_sends", &L::late_sends), field("late_send_share", &L::late_send_share),
                              field("warnings", &L::warnings), field("repetition", &L::repetition),
                              field("time_scale", &L::time_scale), field("server_metrics", &L::server_metrics));
}

// The levels of `levels` that belong to `label`, in order.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<const typename Levels::value_type*> levels_of(const Levels& levels, const std::string& label) {
  std::vector<const typename Levels::value_type*> out;
  for (const auto& l : levels)
    if (l.target.label == label) out.push_back(&l);
  return out;
}

// Target labels in order of first appearance.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<std::string> target_labels(const Levels& levels) {
  std::vector<std::string> out;
  for (const auto& l : levels) {
    bool seen = false;
    for (const auto& s : out) seen = seen || s == l.target.label;
    if (!seen) out.push_back(l.target.label);
  }
  return out;
}

}  // namespace servebench
// ---- end servebench/result.hpp ----

namespace servebench {

// One (target, level) over its repetitions. Each interval is over the per-repetition values (one number per
// repetition, from that repetition's LevelSummary); a percentile interval counts only repetitions that had the
// sample (no TTFT when nothing streamed, no latency when every request failed), so its n may be smaller.
struct RepeatedLevel {
  std::string target;
  double level = 0;
  LoopMode mode = LoopMode::closed_loop;
  std::size_t repetitions = 0;  // LevelResults found for this (target, level)
  MeanInterval throughput_req_per_sec, output_tokens_per_sec;
  std::optional<MeanInterval> ttft_p50, ttft_p99, latency_p50, latency_p99;  // seconds
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const RepeatedLevel*) {
  using R = RepeatedLevel;
  return field_list<Deferred>(required("target", &R::target), required("level", &R::level), field("mode", &R::mode),
                              required("repetitions", &R::repetitions),
                              required("throughput_req_per_sec", &R::throughput_req_per_sec),
                              required("output_tokens_per_sec", &R::output_tokens_per_sec),
                              field("ttft_p50", &R::ttft_p50), field("ttft_p99", &R::ttft_p99),
                              field("latency_p50", &R::latency_p50), field("latency_p99", &R::latency_p99));
}

// True when any level is a repetition after the first: the levels came from a repeated sweep.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
bool has_repetitions(const Levels& levels) {
  return std::any_of(levels.begin(), levels.end(), [](const LevelResult& l) { return l.repetition > 0; });
}

// Every repetition of `label` at `level`, by repetition index.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<const typename Levels::value_type*> repetitions_of(const Levels& levels, const std::string& label,
                                                               double level) {
  std::vector<const typename Levels::value_type*> out;
  for (const auto& l : levels)
    if (l.target.label == label && l.summary.level == level) out.push_back(&l);
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->repetition < b->repetition; });
  return out;
}

// The intervals of one (target, level) from its repetitions (non-empty, all of one target and level).
template <class Runs>  // deferred: see serialize.hpp
RepeatedLevel summarize_repetitions(const Runs& runs, double confidence = 0.95) {
  RepeatedLevel r;
  if (runs.empty()) return r;
  r.target = runs.front()->target.label;
  r.level = runs.front()->summary.level;
  r.mode = runs.front()->config.mode;
  r.repetitions = runs.size();
  auto over = [&](auto get) {
    std::vector<double> values;
    for (const auto* run : runs)
      if (const auto v = get(run->summary)) values.push_back(*v);
    return values.empty() ? std::nullopt : std::optional<MeanInterval>(mean_interval(values, confidence));
  };
  using S = const LevelSummary&;
  using O = std::optional<double>;
  r.throughput_req_per_sec = *over([](S s) { return O(s.throughput_req_per_sec); });
  r.output_tokens_per_sec = *over([](S s) { return O(s.output_tokens_per_sec); });
  r.ttft_p50 = over([](S s) { return s.ttft ? O(s.ttft->p50) : std::nullopt; });
  r.ttft_p99 = over([](S s) { return s.ttft ? O(s.ttft->p99) : std::nullopt; });
  r.latency_p50 = over([](S s) { return s.latency ? O(s.latency->p50) : std::nullopt; });
  r.latency_p99 = over([](S s) { return s.latency ? O(s.latency->p99) : std::nullopt; });
  return r;
}

// One RepeatedLevel per (target, level), in order of first appearance.
template <class Levels = std::vector<LevelResult>>
std::vector<RepeatedLevel> repeated_levels(const Levels& levels, double confidence = 0.95) {
  std::vector<RepeatedLevel> out;
  for (const auto& l : levels) {
    const bool seen = std::any_of(out.begin(), out.end(), [&](const RepeatedLevel& r) {
      return r.target == l.target.label && r.level == l.summary.level;
    });
    if (!seen)
      out.push_back(summarize_repetitions(repetitions_of(levels, l.target.label, l.summary.level), confidence));
  }
  return out;
}

// A ratio of two targets' figures (a over b) with its confidence interval.
//  paired   : both ran the same repetitions (interleaved, so each pair shared the machine's state): the interval of
//             the mean of the per-repetition log ratios ln(a_i / b_i), Student's t with n - 1 degrees of freedom,
//             taken back by exp; `ratio` is their geometric mean.
//  unpaired : otherwise: the ratio of the means, its log's standard error by the delta method
//             (s_a^2 / (n_a mean_a^2) + s_b^2 / (n_b mean_b^2)) and Welch-Satterthwaite degrees of freedom.
// Logs keep the interval positive and symmetric in a and b (b over a is exactly its reciprocal).
struct RatioInterval {
  double ratio = 0, low = 0, high = 0;
  std::size_t n = 0;  // pairs (paired) or the smaller sample (unpaired); 1: no interval
  bool paired = false;
  double confidence = 0.95;

  bool has_interval() const noexcept { return n >= 2; }
  // The interval lies wholly above or below 1: the difference is unlikely to be noise alone.
  bool excludes_one() const noexcept { return has_interval() && (low > 1 || high < 1); }
};

// `a` and `b`: per-repetition values; `paired`: a[i] and b[i] come from the same repetition. Empty when a b is not
// positive or a value not finite (no ratio to take); an `a` of 0 (a side that served nothing) gives the plain ratio
// of the means and no interval (no log to take).
template <class Values = std::vector<double>>
std::optional<deferred<RatioInterval, Values>> ratio_interval(const Values& a, const Values& b, bool paired,
                                                              double confidence = 0.95) {
  if (a.empty() || b.empty() || (paired && a.size() != b.size())) return std::nullopt;
  bool zero = false;
  for (double v : b)
    if (!(v > 0) || !std::isfinite(v)) return std::nullopt;
  for (double v : a) {
    if (!(v >= 0) || !std::isfinite(v)) return std::nullopt;
    zero = zero || v == 0;
  }
  RatioInterval r;
  r.paired = paired;
  r.confidence = confidence;
  if (zero) {
    r.n = 1;
    r.ratio = r.low = r.high = mean_interval(a).mean / mean_interval(b).mean;
    return r;
  }
  if (paired) {
    std::vector<double> logs;
    for (std::size_t i = 0; i < a.size(); ++i) logs.push_back(std::log(a[i] / b[i]));
    const MeanInterval m = mean_interval(logs, confidence);
    r.n = m.n;
    if (r.n == 1) {  // one pair: the plain ratio, exactly
      r.ratio = r.low = r.high = a[0] / b[0];
      return r;
    }
    r.ratio = std::exp(m.mean);
    r.low = std::exp(m.low);
    r.high = std::exp(m.high);
    return r;
  }
  const MeanInterval ma = mean_interval(a, confidence), mb = mean_interval(b, confidence);
  r.n = std::min(ma.n, mb.n);
  r.ratio = ma.mean / mb.mean;
  r.low = r.high = r.ratio;
  if (!r.has_interval()) return r;
  const double va = ma.stddev * ma.stddev / (static_cast<double>(ma.n) * ma.mean * ma.mean);
  const double vb = mb.stddev * mb.stddev / (static_cast<double>(mb.n) * mb.mean * mb.mean);
  const double se = std::sqrt(va + vb);
  if (se == 0) return r;  // every repetition gave the same value: no spread to widen the ratio by
  const double df = (va + vb) * (va + vb) /
                    (va * va / static_cast<double>(ma.n - 1) + vb * vb / static_cast<double>(mb.n - 1));
  const double half = student_t_quantile((1 + confidence) / 2, df) * se;
  r.low = r.ratio * std::exp(-half);
  r.high = r.ratio * std::exp(half);
  return r;
}

}  // namespace servebench
// ---- end servebench/repetitions.hpp ----
// ---- begin servebench/version.hpp ----
// servebench — version macros. CMake and Meson read these numbers; a test checks they agree.

#define SERVEBENCH_VERSION_MAJOR 0
#define SERVEBENCH_VERSION_MINOR 1
#define SERVEBENCH_VERSION_PATCH 0
#define SERVEBENCH_VERSION_STRING "0.1.0"

namespace servebench {
inline constexpr const char* version_string() noexcept { return SERVEBENCH_VERSION_STRING; }
}  // namespace servebench
// ---- end servebench/version.hpp ----

namespace servebench {

// The schema every artifact names; the reader refuses any other (older ones it knows are upgraded on reading).
inline constexpr const char* artifact_schema = "servebench.artifact/2";
inline constexpr const char* artifact_schema_v1 = "servebench.artifact/1";

// One instant read on both clocks: record timestamps are steady-clock nanoseconds of the process that made them, so
// `t - steady_ns + system_ns` puts them on the wall clock (UTC nanoseconds since 1970), where the records of several
// processes or hosts line up (as well as their clocks agree: NTP keeps hosts within milliseconds).
struct WallAnchor {
  std::int64_t system_ns = 0;  // std::chrono::system_clock, nanoseconds since 1970-01-01 UTC
  Nanos steady_ns = 0;         // now_ns() at the same instant

  static WallAnchor now() {
    WallAnchor a;
    a.steady_ns = now_ns();
    a.system_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    return a;
  }
  // A steady timestamp of this process on the wall clock.
  std::int64_t to_wall(Nanos steady) const noexcept { return steady - steady_ns + system_ns; }
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const WallAnchor*) {
  return field_list<Deferred>(required("system_ns", &WallAnchor::system_ns),
                              required("steady_ns", &WallAnchor::steady_ns));
}

struct RunMetadata {
  std::string servebench_version = SERVEBENCH_VERSION_STRING;
  std::string utc_time = utc_now_iso8601();  // when the run started
  std::string hostname = host_name();
  std::vector<std::string> command_line;
  // anything else the program wants to keep
  nlohmann::json configuration = nlohmann::json(nlohmann::json::value_t::object);
  std::optional<double> time_scale;                           // set when simulated servers ran faster than real time
  std::string model;                                          // for titles, when known
  std::string gpu;                                            // for titles, when known
  std::optional<WallAnchor> wall_anchor = WallAnchor::now();  // absent in artifacts written before it existed
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const RunMetadata*) {
  using M = RunMetadata;
  return field_list<Deferred>(required("servebench_version", &M::servebench_version),
                              required("utc_time", &M::utc_time), field("hostname", &M::hostname),
                              field("command_line", &M::command_line), field("configuration", &M::configuration),
                              field("time_scale", &M::time_scale), field("model", &M::model), field("gpu", &M::gpu),
                              field("wall_anchor", &M::wall_anchor));
}

struct Artifact {
  RunMetadata metadata;
  std::vector<LevelResult> levels;
  // program-specific results (e.g. a single-request comparison)
  nlohmann::json extra = nlohmann::json(nlohmann::json::value_t::object);

  // True when any level was interrupted: the run stopped early and the levels hold what completed.
  bool interrupted() const noexcept {
    for (const auto& l : levels)
      if (l.interrupted) return true;
    return false;
  }
  // Every target of the run, once each, in order of first appearance.
  template <class = void>  // deferred: see serialize.hpp
  std::vector<TargetInfo> targets() const {
    std::vector<TargetInfo> out;
    for (const auto& label : target_labels(levels))
      for (const auto& l : levels)
        if (l.target.label == label) {
          out.push_back(l.target);
          break;
        }
    return out;
  }
};

// The artifact as JSON. Without records the file holds the summaries only (much smaller for long runs).
template <class Json = nlohmann::json>  // deferred (the body depends on Json): see serialize.hpp
Json artifact_to_json(const Artifact& artifact, bool include_records = true) {
  Json metadata = artifact.metadata;
  metadata["targets"] = artifact.targets();
  metadata["interrupted"] = artifact.interrupted();
  Json levels = Json::array();
  for (const auto& level : artifact.levels) {
    Json entry = level;
    if (!include_records) entry.erase("records");
    levels.push_back(std::move(entry));
  }
  Json j{{"schema", artifact_schema}, {"metadata", metadata}, {"levels", levels}, {"extra", artifact.extra}};
  if (has_repetitions(artifact.levels)) j["repetitions"] = repeated_levels(artifact.levels);
  return j;
}

template <class = void>  // deferred: see serialize.hpp
void write_artifact(const std::string& path, const Artifact& artifact, bool include_records = true) {
  write_json_atomic(path, artifact_to_json(artifact, include_records));
}

namespace detail {

// Rewrites a schema-1 artifact into schema 2's shape: levels carried only their summary, records and the run's
// flags; targets and the percentile method were run-wide metadata; ground truth was two record fields.
template <class Json>
void upgrade_artifact_v1(Json& j) {
  auto& metadata = j.at("metadata");
  if (!metadata.is_object()) throw std::invalid_argument("metadata must be an object");
  const Json targets = metadata.value("targets", Json::array());
  const Json method = metadata.value("percentile_method", Json("linear"));
  for (const char* gone : {"targets", "percentile_method", "interrupted"}) metadata.erase(gone);
  auto& levels = j.at("levels");
  if (!levels.is_array()) throw std::invalid_argument("levels must be a list");
  for (auto& level : levels) {
    if (!level.is_object() || !level.contains("summary") || !level["summary"].is_object()) continue;
    const auto& summary = level["summary"];
    // Built key by key: built from initializer lists here, LeakSanitizer reported the object leaked (nlohmann
    // 3.11.2; a reduced copy of the code did not leak, so the cause is not pinned down).
    Json target = Json::object();
    target["label"] = summary.value("target", Json(""));
    if (targets.is_array())
      for (const auto& t : targets)
        if (t.is_object() && t.value("label", Json()) == target["label"]) {
          target["url"] = t.value("url", Json(""));
          target["dialect"] = t.value("api", Json(""));
          target["model"] = t.value("model", Json(""));
        }
    const Json mode = level.value("mode", Json("closed_loop"));
    Json config = Json::object();
    config["mode"] = mode.is_string() && !mode.template get<std::string>().empty() ? mode : Json("closed_loop");
    config["percentile_method"] = method;
    const Json value = summary.value("level", Json(0));
    if (config["mode"] == "open_loop")
      config["rate"] = value;
    else if (value.is_number() && value.template get<double>() >= 0 &&
             value.template get<double>() < 1e12)  // never cast 1e30
      config["concurrency"] = static_cast<std::int64_t>(value.template get<double>());
    level["target"] = target;
    level["config"] = config;
    level.erase("mode");
    if (auto records = level.find("records"); records != level.end() && records->is_array())
      for (auto& r : *records) {
        if (!r.is_object()) continue;
        const auto first = r.find("server_first_token"), last = r.find("server_end");
        if (first != r.end() && last != r.end() && first->is_number_integer() && last->is_number_integer() &&
            (first->template get<std::int64_t>() != 0 || last->template get<std::int64_t>() != 0)) {
          Json timing = Json::object();
          timing["first_token"] = *first;
          timing["last_token"] = *last;
          r["server_timing"] = timing;
        }
        r.erase("server_first_token");
        r.erase("server_end");
      }
  }
}

}  // namespace detail

// Parses an artifact from text; `origin` names it in errors. Throws std::runtime_error that says what is wrong and
// where ("'run.json' is a damaged servebench artifact: levels/0/records/3/t_send: must be an integer").
template <class Json = nlohmann::json>  // deferred (the body depends on Json): see serialize.hpp
Artifact parse_artifact(const std::string& text, const std::string& origin = "artifact") {
  Json j;
  // Copying and printing a json value recurse once per nesting level, so a hostile file nested a hundred thousand
  // deep would overflow the stack after parsing; no artifact comes near this depth.
  constexpr int max_depth = 256;
  const typename Json::parser_callback_t limit_depth = [](int depth, typename Json::parse_event_t, Json&) {
    if (depth > max_depth) throw std::runtime_error("nested deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
  try {
    j = Json::parse(text, limit_depth);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("'" + origin + "' is not a servebench artifact: " + e.what());
  } catch (const typename Json::exception& e) {
    // Not only parse_error: a number too large for a double (1e400) is out_of_range (found by fuzzing).
    throw std::runtime_error("'" + origin + "' is not valid JSON (truncated or not an artifact?): " + e.what());
  }
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string())
    throw std::runtime_error("'" + origin + "' is not a servebench artifact (no \"schema\" field; expected \"" +
                             artifact_schema + "\")");
  const std::string schema = j["schema"].template get<std::string>();
  if (schema != artifact_schema && schema != artifact_schema_v1)
    throw std::runtime_error("'" + origin + "' has schema \"" + schema + "\"; this servebench (" +
                             SERVEBENCH_VERSION_STRING + ") reads \"" + artifact_schema + "\" and \"" +
                             artifact_schema_v1 + "\" (a newer servebench wrote it? upgrade to read it)");
  try {
    if (!j.contains("metadata") || !j.contains("levels")) throw std::invalid_argument("needs metadata and levels");
    if (schema == artifact_schema_v1) detail::upgrade_artifact_v1(j);
    Artifact artifact;
    detail::at_key("metadata", [&] { detail::read_value(j["metadata"], artifact.metadata); });
    if (!j["metadata"].contains("wall_anchor")) artifact.metadata.wall_anchor.reset();  // not the reading's time
    detail::at_key("levels", [&] { detail::read_value(j["levels"], artifact.levels); });
    if (const auto extra = j.find("extra"); extra != j.end()) artifact.extra = *extra;
    return artifact;
  } catch (const std::exception& e) {
    throw std::runtime_error("'" + origin + "' is a damaged servebench artifact: " + e.what());
  }
}

template <class = void>  // deferred: see serialize.hpp
Artifact read_artifact(const std::string& path) {
  return parse_artifact(read_file(path), path);
}

}  // namespace servebench
// ---- end servebench/artifact.hpp ----
// ---- begin servebench/chart.hpp ----
// servebench — self-contained SVG charts: grouped bars (throughput per level with speedup labels), lines (mean and
// p95 latency per level), a TTFT/TPOT pair of panels, latency CDFs from raw samples, and the timeline of every
// request next to the server's running and waiting counts (chart/timeline.hpp).
//
// Charts are plain data; render_* are free functions returning the SVG text. The SVG has no scripts, no CSS and no
// external fonts or images (system sans-serif fonts only), a white background and dark text of at least 11px, so it
// reads the same in a browser, an image viewer and on paper. Values must be finite and >= 0 (throughput, latency
// and times are never negative); anything else throws std::invalid_argument naming the series and index.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// ---- begin servebench/chart/primitives.hpp ----
// servebench — the parts every SVG chart is drawn with: a series, round axis ticks, text measures, XML escaping,
// the document builder, axes, legends and headers. chart.hpp draws the charts themselves from these.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace servebench {
namespace chart {

// One named series. `color` empty: the next palette colour in order of appearance. `dashed` draws a line series
// dashed (e.g. p95 beside a solid mean); bars ignore it.
struct Series {
  std::string name;
  std::vector<double> values;
  std::string color;
  bool dashed = false;
};

// Round axis ticks covering [lo, hi]: step is 1, 2 or 5 times a power of ten, the smallest such step that needs at
// most `max_ticks` ticks when lo is a multiple of it; first tick <= lo, last tick >= hi. lo == hi widens the range
// (0..1 for 0; v..v becomes v/2..3v/2). Throws std::invalid_argument for non-finite bounds, lo > hi or max_ticks < 2.
template <class = void>
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 7);

// A tick value printed with as many decimals as the step needs ("0", "0.5", "0.25"), never "-0".
template <class = void>
std::string format_tick(double value, double step);

// XML text/attribute escaping (& < > " '); control characters XML 1.0 forbids and invalid UTF-8 become '?'.
template <class = void>
std::string xml_escape(const std::string& text);

namespace detail {

template <class = void>
const std::vector<std::string>& palette() {
  // Tableau-10-like: distinct in colour and in lightness, so series stay apart on a grey-scale printout.
  static const std::vector<std::string> colors = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
                                                  "#9c755f", "#e15759", "#76b7b2", "#edc948"};
  return colors;
}

template <class = void>
std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

template <class = void>
std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// Coordinates with one decimal: enough for a crisp 800x500 picture, small files.
template <class = void>
std::string num(double v) {
  std::string s = fmt("%.1f", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

// Bar and guide values: 3 significant-ish digits without trailing noise.
template <class = void>
std::string format_value(double v) {
  const double a = std::fabs(v);
  if (a >= 100 || v == std::floor(v)) return fmt("%.0f", v);
  if (a >= 10) return fmt("%.1f", v);
  if (a >= 0.01) return fmt("%.2f", v);
  return fmt("%.3g", v);
}

// Rough advance width of text in a sans-serif font (DejaVu Sans averages ~0.6em); used only for layout decisions.
template <class = void>
double text_width(const std::string& s, double font_px) {
  std::size_t chars = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++chars;  // count UTF-8 code points, not bytes
  return static_cast<double>(chars) * font_px * 0.6;
}

// Shortens text to fit `max_px`, ending it with an ellipsis.
template <class = void>
std::string fit_text(const std::string& s, double font_px, double max_px) {
  if (text_width(s, font_px) <= max_px) return s;
  std::string out = s;
  while (!out.empty() && text_width(out + "...", font_px) > max_px) {
    out.pop_back();
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0xC0) out.pop_back();
  }
  return out + "...";
}

template <class = void>
void check_size(int width, int height) {
  if (width < 320 || height < 240 || width > 10000 || height > 10000)
    throw std::invalid_argument("chart size must be between 320x240 and 10000x10000, got " + std::to_string(width) +
                                "x" + std::to_string(height));
}

template <class = void>
void check_values(const Series& s, const char* what) {
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    const double v = s.values[i];
    if (!std::isfinite(v) || v < 0)
      throw std::invalid_argument(std::string(what) + ": series '" + s.name + "' value " + std::to_string(i) + " is " +
                                  (std::isnan(v) ? std::string("NaN") : std::to_string(v)) +
                                  "; chart values must be finite and >= 0");
  }
}

template <class = void>
void check_category_series(const std::vector<std::string>& categories, const std::vector<Series>& series,
                           const char* what) {
  for (const Series& s : series) {
    if (s.values.size() != categories.size())
      throw std::invalid_argument(std::string(what) + ": series '" + s.name + "' has " +
                                  std::to_string(s.values.size()) + " values for " + std::to_string(categories.size()) +
                                  " categories");
    check_values(s, what);
  }
}

// Resolved drawing style of one legend entry.
struct Style {
  std::string name, color;
  bool dashed = false;
};

// Explicit colour, else the next palette colour.
template <class = void>
std::vector<Style> resolve_styles(const std::vector<const Series*>& series) {
  std::vector<Style> out;
  std::size_t next = 0;
  for (const Series* s : series) {
    const std::string color = s->color.empty() ? palette()[next++ % palette().size()] : s->color;
    out.push_back({s->name, color, s->dashed});
  }
  return out;
}

struct Rect {
  double left, top, right, bottom;
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

// Builds the SVG document; every text goes through xml_escape here, so no caller can forget it. The member
// templates are deferred bodies (see serialize.hpp): callers never name their parameter.
class Svg {
 public:
  template <class = void>
  Svg(int width, int height, const std::string& title) : width_(width), height_(height) {
    out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + std::to_string(width) +
            "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
            std::to_string(height) +
            "\" font-family=\"DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif\" fill=\"#222222\">\n";
    out_ += "<title>" + xml_escape(title) + "</title>\n";
    out_ += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
            "\" fill=\"#ffffff\"/>\n";
  }
  int width() const { return width_; }
  int height() const { return height_; }

  template <class = void>
  void text(double x, double y, const std::string& s, double size, const char* anchor = "start", bool bold = false,
            const char* fill = "#222222", double rotate = 0) {
    out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) + "\" text-anchor=\"" + anchor +
            "\"";
    if (bold) out_ += " font-weight=\"bold\"";
    if (std::string(fill) != "#222222") out_ += std::string(" fill=\"") + fill + "\"";
    if (rotate != 0) out_ += " transform=\"rotate(" + num(rotate) + " " + num(x) + " " + num(y) + ")\"";
    out_ += ">" + xml_escape(s) + "</text>\n";
  }
  template <class = void>
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width, bool dashed = false) {
    out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
            "\" stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" + num(width) + "\"" +
            (dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
  }
  template <class = void>
  void rect(double x, double y, double w, double h, const std::string& fill) {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
            "\" fill=\"" + xml_escape(fill) + "\"/>\n";
  }
  template <class = void>
  void circle(double x, double y, double r, const std::string& fill) {
    out_ += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" fill=\"" + xml_escape(fill) +
            "\" stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n";
  }
  template <class = void>
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke, bool dashed) {
    out_ += "<polyline fill=\"none\" stroke=\"" + xml_escape(stroke) +
            "\" stroke-width=\"2.5\" stroke-linejoin=\"round\"" +
            (dashed ? std::string(" stroke-dasharray=\"8 5\"") : std::string()) + " points=\"";
    for (std::size_t i = 0; i < points.size(); ++i)
      out_ += (i ? " " : "") + num(points[i].first) + "," + num(points[i].second);
    out_ += "\"/>\n";
  }
  std::string finish() {
    out_ += "</svg>\n";
    return std::move(out_);
  }

 private:
  int width_, height_;
  std::string out_;
};

enum class Swatch { box, line };

// Title, subtitle and a legend row (wrapping if needed); returns the y where the plot area may start.
template <class = void>
double draw_header(Svg& svg, const std::string& title, const std::string& subtitle, const std::vector<Style>& legend,
                   Swatch swatch, bool markers) {
  const double max_w = svg.width() - 32.0;
  double y = 30;
  if (!title.empty()) {
    double size = 18;
    const double title_w = max_w / 1.1;  // bold glyphs run about 10% wider than text_width's estimate
    while (size > 13 && text_width(title, size) > title_w) size -= 1;  // shrink long titles before cutting them
    svg.text(svg.width() / 2.0, y, fit_text(title, size, title_w), size, "middle", true, "#111111");
    y += 22;
  }
  if (!subtitle.empty()) {
    svg.text(svg.width() / 2.0, y - 2, fit_text(subtitle, 13, max_w), 13, "middle", false, "#444444");
    y += 20;
  }
  if (legend.empty()) return y + 4;
  // Lay entries out in rows, each row centred.
  const double font = 12, swatch_w = swatch == Swatch::box ? 12 : 26, gap = 20;
  std::vector<std::vector<std::pair<std::size_t, double>>> rows(1);
  double row_w = 0;
  for (std::size_t i = 0; i < legend.size(); ++i) {
    const std::string label = fit_text(legend[i].name.empty() ? "(unnamed)" : legend[i].name, font, max_w / 2);
    const double w = swatch_w + 6 + text_width(label, font);
    if (!rows.back().empty() && row_w + gap + w > max_w) {
      rows.emplace_back();
      row_w = 0;
    }
    row_w += (rows.back().empty() ? 0 : gap) + w;
    rows.back().push_back({i, w});
  }
  y += 4;
  for (const auto& row : rows) {
    double total = 0;
    for (const auto& e : row) total += e.second;
    total += gap * static_cast<double>(row.size() - 1);
    double x = (svg.width() - total) / 2.0;
    for (const auto& e : row) {
      const Style& s = legend[e.first];
      if (swatch == Swatch::box) {
        svg.rect(x, y - 10, 12, 12, s.color);
      } else {
        svg.line(x, y - 4, x + swatch_w, y - 4, s.color, 2.5, s.dashed);
        if (markers) svg.circle(x + swatch_w / 2, y - 4, 3.5, s.color);
      }
      svg.text(x + swatch_w + 6, y, fit_text(s.name.empty() ? "(unnamed)" : s.name, font, max_w / 2), font);
      x += e.second + gap;
    }
    y += 18;
  }
  return y + 4;
}

// Vertical axis: gridlines, tick labels and the rotated axis label; ticks span plot.top..plot.bottom.
template <class = void>
void draw_y_axis(Svg& svg, const Rect& plot, const std::vector<double>& ticks, const std::string& label,
                 bool percent = false) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  const double lo = ticks.front(), hi = ticks.back();
  for (double t : ticks) {
    const double y = plot.bottom - (t - lo) / (hi - lo) * plot.height();
    if (t != lo) svg.line(plot.left, y, plot.right, y, "#e3e3e3", 1);
    const std::string text = percent ? format_tick(t * 100, step * 100) + "%" : format_tick(t, step);
    svg.text(plot.left - 8, y + 4, text, 12, "end");
  }
  svg.line(plot.left, plot.top, plot.left, plot.bottom, "#444444", 1);
  if (!label.empty()) {
    const double x = 18, y = (plot.top + plot.bottom) / 2;
    svg.text(x, y, fit_text(label, 13, plot.height()), 13, "middle", false, "#222222", -90);
  }
}

template <class = void>
double y_tick_label_width(const std::vector<double>& ticks, bool percent = false) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  double w = 0;
  for (double t : ticks)
    w = std::max(w, text_width(percent ? format_tick(t * 100, step * 100) + "%" : format_tick(t, step), 12));
  return w;
}

// Categorical horizontal axis; labels are rotated when they do not fit their slot. Returns the extra height the
// rotated labels need (0 when horizontal) — callers lay out with label_room() first.
template <class = void>
double category_label_room(const std::vector<std::string>& categories, double slot_w) {
  double widest = 0;
  for (const auto& c : categories) widest = std::max(widest, text_width(c, 12));
  if (widest <= slot_w - 4) return 0;
  return std::min(widest, 160.0) * 0.5;  // sin(30 deg): height of a label rotated by -30 degrees
}

template <class = void>
void draw_x_categories(Svg& svg, const Rect& plot, const std::vector<std::string>& categories, const std::string& label,
                       double rotated_room) {
  const double slot = plot.width() / static_cast<double>(categories.size());
  svg.line(plot.left, plot.bottom, plot.right, plot.bottom, "#444444", 1);
  for (std::size_t i = 0; i < categories.size(); ++i) {
    const double x = plot.left + slot * (static_cast<double>(i) + 0.5);
    svg.line(x, plot.bottom, x, plot.bottom + 4, "#444444", 1);
    if (rotated_room > 0)
      svg.text(x + 4, plot.bottom + 16, fit_text(categories[i], 12, 160), 12, "end", false, "#222222", -30);
    else
      svg.text(x, plot.bottom + 18, categories[i], 12, "middle");
  }
  if (!label.empty())
    svg.text((plot.left + plot.right) / 2, plot.bottom + 40 + rotated_room, fit_text(label, 13, plot.width()), 13,
             "middle");
}

// An empty chart still shows its frame, so it reads as "nothing measured" rather than as a broken picture.
template <class = void>
std::string no_data(Svg& svg, double top) {
  const double left = 40, right = svg.width() - 40.0, bottom = svg.height() - 40.0;
  svg.line(left, top, right, top, "#bbbbbb", 1, true);
  svg.line(left, bottom, right, bottom, "#bbbbbb", 1, true);
  svg.line(left, top, left, bottom, "#bbbbbb", 1, true);
  svg.line(right, top, right, bottom, "#bbbbbb", 1, true);
  svg.text(svg.width() / 2.0, (top + bottom) / 2.0 + 8, "No data", 22, "middle", true, "#555555");
  return svg.finish();
}

template <class = void>
std::vector<const Series*> pointers(const std::vector<Series>& series) {
  std::vector<const Series*> out;
  for (const Series& s : series) out.push_back(&s);
  return out;
}

template <class = void>
double max_value(const std::vector<Series>& series) {
  double m = 0;
  for (const Series& s : series)
    for (double v : s.values) m = std::max(m, v);
  return m;
}

// Ticks from 0 whose top leaves `headroom_px` above `max` in a plot `plot_h` tall (room for value labels).
template <class = void>
std::vector<double> zero_based_ticks(double max, double headroom_px, double plot_h) {
  const double fraction = std::min(0.5, headroom_px / std::max(plot_h, 1.0));
  return nice_ticks(0, max / (1 - fraction));
}

// Draws line series over categorical slots inside `plot` (ticks give the y range).
template <class = void>
void draw_line_series(Svg& svg, const Rect& plot, const std::vector<double>& ticks, const std::vector<Series>& series,
                      const std::vector<Style>& styles, std::size_t first_style, bool markers) {
  const double lo = ticks.front(), hi = ticks.back();
  for (std::size_t s = 0; s < series.size(); ++s) {
    const Style& style = styles[first_style + s];
    const std::size_t n = series[s].values.size();
    const double slot = plot.width() / static_cast<double>(n);
    std::vector<std::pair<double, double>> points;
    for (std::size_t i = 0; i < n; ++i)
      points.push_back({plot.left + slot * (static_cast<double>(i) + 0.5),
                        plot.bottom - (series[s].values[i] - lo) / (hi - lo) * plot.height()});
    if (points.size() > 1) svg.polyline(points, style.color, style.dashed);
    if (markers || points.size() == 1)
      for (const auto& p : points) svg.circle(p.first, p.second, 4, style.color);
  }
}

// Legend entries by name: series sharing a name (TTFT and TPOT panels) share one entry and one colour.
template <class = void>
std::vector<Style> merged_styles(const std::vector<const Series*>& all) {
  std::vector<const Series*> unique;
  for (const Series* s : all) {
    bool seen = false;
    for (const Series* u : unique) seen = seen || u->name == s->name;
    if (!seen) unique.push_back(s);
  }
  return resolve_styles(unique);
}

template <class = void>
std::vector<Style> styles_for(const std::vector<Series>& series, const std::vector<Style>& legend) {
  std::vector<Style> out;
  for (const Series& s : series)
    for (const Style& l : legend)
      if (l.name == s.name) {
        out.push_back(l);
        break;
      }
  return out;
}

}  // namespace detail

template <class>
std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out += (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ? '?' : static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Copy a well-formed UTF-8 sequence whole; a stray byte would make the document unparseable.
    std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len != 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;  // overlong encodings
    if (ok && len == 3) {
      const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, UTF-16 surrogates
      if (ok && c == 0xEF && c1 == 0xBF) ok = static_cast<unsigned char>(text[i + 2]) < 0xBE;  // U+FFFE/FFFF
    }
    if (ok && len == 4) {
      const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

template <class>
std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) throw std::invalid_argument("nice_ticks: bounds must be finite");
  if (lo > hi) throw std::invalid_argument("nice_ticks: lo must not exceed hi");
  if (max_ticks < 2) throw std::invalid_argument("nice_ticks: max_ticks must be at least 2");
  if (lo == hi) {
    if (lo == 0) {
      hi = 1;
    } else {
      const double pad = std::fabs(lo) * 0.5;
      lo -= pad;
      hi += pad;
    }
  }
  // Smallest 1/2/5 x 10^k step such that the floor/ceil-aligned range needs at most max_ticks ticks.
  const double raw = (hi - lo) / static_cast<double>(max_ticks - 1);
  double step = std::pow(10.0, std::floor(std::log10(raw)));
  const double mults[] = {1, 2, 5, 10, 20, 50, 100};
  double chosen = step * 100;
  double first = 0, last = 0;
  for (double m : mults) {
    const double s = step * m;
    // Small tolerance so 0.30000000000000004 / 0.1 does not become 4 intervals.
    const double f = std::floor(lo / s + 1e-9), l = std::ceil(hi / s - 1e-9);
    if (l - f + 1 <= max_ticks) {
      chosen = s;
      first = f;
      last = l;
      break;
    }
  }
  if (chosen == step * 100) {
    first = std::floor(lo / chosen + 1e-9);
    last = std::ceil(hi / chosen - 1e-9);
  }
  // Round each tick to the step's decimals so 3 * 0.1 prints and compares as 0.3.
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(chosen) + 1e-9)));
  const double scale = std::pow(10.0, decimals);
  std::vector<double> ticks;
  for (double k = first; k <= last + 0.5; k += 1) {
    double v = std::round(k * chosen * scale) / scale;
    if (v == 0) v = 0;  // no -0
    ticks.push_back(v);
  }
  return ticks;
}

template <class>
std::string format_tick(double value, double step) {
  int decimals = 0;
  if (step > 0 && std::isfinite(step)) decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  // A step of 0.25 or 2.5 needs one more decimal than its order of magnitude says.
  const double scaled = step * std::pow(10.0, decimals);
  if (std::fabs(scaled - std::round(scaled)) > 1e-6) ++decimals;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 12), value);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0.0" -> "0.0"
  return s;
}

}  // namespace chart
}  // namespace servebench
// ---- end servebench/chart/primitives.hpp ----
// ---- begin servebench/chart/timeline.hpp ----
// servebench — the timeline chart: what each request did and what the server was doing meanwhile. One column per
// target (the lab's HF-like and vLLM-like side by side, on one time axis): a horizontal bar per request from send to
// last token with its first token marked and failures in another colour; under it the requests in flight as the
// client saw them and, where the server's /metrics were scraped, its running and waiting counts.
//
// Plain data like the other charts; timeline_lane() builds a column from a LevelResult.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>


namespace servebench {
namespace chart {

struct TimelineRequest {
  double start_s = 0;         // sent, seconds from the column's origin
  double first_token_s = -1;  // first token of a streamed reply (< 0: none, or not streamed)
  double end_s = 0;           // last token, or when it failed
  bool failed = false;
};

// A step function: the value holds from each point's time until the next point's.
using Steps = std::vector<std::pair<double, double>>;

struct TimelineLane {
  std::string name;
  std::vector<TimelineRequest> requests;  // drawn top to bottom in this order
  Steps in_flight;                        // requests in flight as the client saw them
  Steps server_running, server_waiting;   // scraped from the server (empty: not scraped)
};

struct TimelineChart {
  std::string title, subtitle;
  std::vector<TimelineLane> lanes;
  int width = 1000, height = 560;
};

namespace detail {

template <class = void>  // deferred: see serialize.hpp
Steps to_steps(const MetricSeries* series, Nanos origin) {
  Steps out;
  if (!series) return out;
  for (std::size_t i = 0; i < series->t.size() && i < series->values.size(); ++i)
    out.push_back({static_cast<double>(series->t[i] - origin) / 1e9, series->values[i]});
  return out;
}

}  // namespace detail

// A column from one level: times from the level's first send; the in-flight count from the records; the server's
// running and waiting counts from its scraped metrics, when any.
template <class Level = LevelResult>
TimelineLane timeline_lane(const Level& level, std::string name = {}) {
  TimelineLane lane;
  lane.name = name.empty() ? level.target.label : std::move(name);
  Nanos origin = std::numeric_limits<Nanos>::max();
  for (const auto& r : level.records)
    if (r.t_send > 0) origin = std::min(origin, r.t_send);
  if (origin == std::numeric_limits<Nanos>::max()) return lane;
  std::vector<std::pair<double, int>> changes;
  for (const auto& r : level.records) {
    if (r.t_send <= 0) continue;
    TimelineRequest q;
    q.start_s = static_cast<double>(r.t_send - origin) / 1e9;
    q.end_s = std::max(q.start_s, static_cast<double>((r.t_end > 0 ? r.t_end : r.t_send) - origin) / 1e9);
    if (r.ok() && r.streamed && r.t_first_token > 0)
      q.first_token_s = static_cast<double>(r.t_first_token - origin) / 1e9;
    q.failed = !r.ok();
    lane.requests.push_back(q);
    changes.push_back({q.start_s, +1});
    changes.push_back({q.end_s, -1});
  }
  std::sort(lane.requests.begin(), lane.requests.end(),
            [](const TimelineRequest& a, const TimelineRequest& b) { return a.start_s < b.start_s; });
  std::sort(changes.begin(), changes.end());  // at one instant, ends (-1) before starts (+1)
  int n = 0;
  lane.in_flight.push_back({0, 0});
  for (const auto& c : changes) {
    n += c.second;
    if (!lane.in_flight.empty() && lane.in_flight.back().first == c.first)
      lane.in_flight.back().second = n;
    else
      lane.in_flight.push_back({c.first, static_cast<double>(n)});
  }
  if (level.server_metrics) {
    lane.server_running = detail::to_steps(server_metric(*level.server_metrics, ServerMetric::running), origin);
    lane.server_waiting = detail::to_steps(server_metric(*level.server_metrics, ServerMetric::waiting), origin);
  }
  return lane;
}

template <class Chart = TimelineChart>
std::string render_timeline(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::Svg svg(chart.width, chart.height, chart.title);
  const char* ok_color = "#4e79a7";
  const char* fail_color = "#e15759";
  const char* first_color = "#111111";
  const std::vector<detail::Style> legend = {
      {"request (send to last token)", ok_color, false},
      {"failed", fail_color, false},
      {"first token", first_color, false},
  };
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, legend, detail::Swatch::box, false);
  bool any = false;
  double t_max = 0, count_max = 1;
  for (const auto& lane : chart.lanes) {
    for (const auto& q : lane.requests) {
      for (double v : {q.start_s, q.end_s, q.first_token_s})
        if (!std::isfinite(v))
          throw std::invalid_argument("render_timeline: '" + lane.name + "' has a non-finite time");
      t_max = std::max(t_max, q.end_s);
      any = true;
    }
    for (const Steps* s : {&lane.in_flight, &lane.server_running, &lane.server_waiting})
      for (const auto& p : *s)
        if (std::isfinite(p.second)) count_max = std::max(count_max, p.second);
  }
  if (!any) return detail::no_data(svg, top);
  const auto xt = nice_ticks(0, t_max, 6);
  const double xmax = xt.back() > 0 ? xt.back() : 1;
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  const auto yt = nice_ticks(0, count_max, 4);
  const double bottom = chart.height - 46.0;
  const double counts_h = std::max(70.0, (bottom - top) * 0.3);
  const double bars_bottom = bottom - counts_h - 34;
  const double column_w = chart.width / static_cast<double>(chart.lanes.size());
  const char* series_colors[] = {"#59a14f", "#f28e2b", "#b07aa1"};
  const char* series_names[] = {"in flight (client)", "running (server)", "waiting (server)"};
  for (std::size_t c = 0; c < chart.lanes.size(); ++c) {
    const auto& lane = chart.lanes[c];
    const double x0 = column_w * static_cast<double>(c);
    const detail::Rect bars{x0 + 44, top + 20, x0 + column_w - 16, bars_bottom};
    const detail::Rect counts{bars.left, bars_bottom + 26, bars.right, bottom};
    auto px = [&](double t) { return bars.left + std::min(t, xmax) / xmax * bars.width(); };
    svg.text((bars.left + bars.right) / 2, top + 8, detail::fit_text(lane.name, 13, bars.width()), 13, "middle", true);
    for (double t : xt) svg.line(px(t), bars.top, px(t), bars.bottom, "#eeeeee", 1);
    // Bars: one row per request, at most 14 px high so a few requests do not become slabs.
    const std::size_t n = lane.requests.size();
    const double row = n ? std::min(14.0, bars.height() / static_cast<double>(n)) : 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& q = lane.requests[i];
      const double y = bars.top + row * static_cast<double>(i);
      const double h = std::max(1.0, row * 0.75);
      svg.rect(px(q.start_s), y, std::max(1.0, px(q.end_s) - px(q.start_s)), h, q.failed ? fail_color : ok_color);
      if (q.first_token_s >= 0) svg.rect(px(q.first_token_s) - 1, y, 2.5, h, first_color);
    }
    svg.text(bars.left - 6, (bars.top + bars.bottom) / 2, "requests", 12, "middle", false, "#444444", -90);
    svg.line(bars.left, bars.bottom, bars.right, bars.bottom, "#444444", 1);
    // Counts panel: gridlines, ticks, step lines.
    auto py = [&](double v) { return counts.bottom - v / yt.back() * counts.height(); };
    for (double t : yt) {
      svg.line(counts.left, py(t), counts.right, py(t), "#e3e3e3", 1);
      svg.text(counts.left - 4, py(t) + 4, format_tick(t, yt.size() > 1 ? yt[1] - yt[0] : 1), 11, "end");
    }
    const Steps* steps[] = {&lane.in_flight, &lane.server_running, &lane.server_waiting};
    double legend_x = counts.left;
    for (int s = 0; s < 3; ++s) {
      const Steps& st = *steps[s];
      if (st.empty()) continue;
      std::vector<std::pair<double, double>> points;
      for (std::size_t i = 0; i < st.size(); ++i) {
        if (!std::isfinite(st[i].second) || st[i].first < 0) continue;
        if (!points.empty()) points.push_back({px(st[i].first), points.back().second});
        points.push_back({px(st[i].first), py(st[i].second)});
      }
      if (points.empty()) continue;
      svg.polyline(points, series_colors[s], s == 2);
      svg.line(legend_x, counts.top - 8, legend_x + 16, counts.top - 8, series_colors[s], 2.5, s == 2);
      svg.text(legend_x + 20, counts.top - 4, series_names[s], 11);
      legend_x += 28 + detail::text_width(series_names[s], 11);
    }
    svg.line(counts.left, counts.bottom, counts.right, counts.bottom, "#444444", 1);
    for (double t : xt) {
      svg.line(px(t), counts.bottom, px(t), counts.bottom + 4, "#444444", 1);
      svg.text(px(t), counts.bottom + 17, format_tick(t, xstep), 11, "middle");
    }
    svg.text((counts.left + counts.right) / 2, counts.bottom + 36, "seconds from the level's first request", 12,
             "middle");
  }
  return svg.finish();
}

}  // namespace chart
}  // namespace servebench
// ---- end servebench/chart/timeline.hpp ----

namespace servebench {
namespace chart {

// Grouped bars: one group per category, one bar per series (values[i] belongs to categories[i]).
struct BarChart {
  std::string title, subtitle, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;
  bool value_labels = true;  // the value above each bar (skipped when bars are too narrow to hold it)
  // With >= 2 series: the last/first ratio per group ("6.6x"), over the last bar as the lab places it and higher
  // than every bar and value label of its group; none where the first value is 0.
  bool speedup_labels = true;
  int width = 800, height = 500;
};

// Lines over categorical x positions (e.g. concurrency levels), y from 0.
struct LineChart {
  std::string title, subtitle, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;
  bool markers = true;
  int width = 800, height = 500;
};

// Time to first token and time per output token side by side, as lines per category; one shared legend.
struct TtftTpotChart {
  std::string title, subtitle;
  std::string x_label = "concurrent requests";
  std::string unit = "ms";  // shown in both y-axis labels; values are taken to be in this unit already
  std::vector<std::string> categories;
  std::vector<Series> ttft;
  std::vector<Series> tpot;
  bool markers = true;
  int width = 800, height = 500;
};

// Empirical CDF per series from raw samples (values = one sample each, any order); dashed guides at p50 and p95.
struct CdfChart {
  std::string title, subtitle;
  std::string x_label = "latency (s)";
  std::string y_label = "fraction of requests";
  std::vector<Series> series;
  int width = 800, height = 500;
};

template <class Chart = BarChart>
std::string render_grouped_bars(const Chart& chart);
template <class Chart = LineChart>
std::string render_lines(const Chart& chart);
template <class Chart = TtftTpotChart>
std::string render_ttft_tpot(const Chart& chart);
template <class Chart = CdfChart>
std::string render_cdf(const Chart& chart);

// Writes a rendered chart atomically (temporary file, fsync, rename; parent directories created), so a viewer
// never sees half a chart. Throws std::runtime_error naming the path.
template <class = void>  // deferred: see serialize.hpp
void write_svg(const std::string& path, const std::string& svg) {
  write_file_atomic(path, svg);
}

template <class Chart>
std::string render_grouped_bars(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.series, "render_grouped_bars");
  detail::Svg svg(chart.width, chart.height, chart.title);
  const auto styles = detail::resolve_styles(detail::pointers(chart.series));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::box, false);
  if (chart.categories.empty() || chart.series.empty()) return detail::no_data(svg, top);

  const std::size_t ncat = chart.categories.size(), nser = chart.series.size();
  const bool speedups = chart.speedup_labels && nser >= 2;
  // Layout: first guess the plot, then the ticks (which set the left margin), then the final plot.
  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double guess_slot = (chart.width - 100.0) / static_cast<double>(ncat);
  const double rotated = detail::category_label_room(chart.categories, guess_slot);
  bottom -= rotated;
  const double headroom = (chart.value_labels ? 18.0 : 4.0) + (speedups ? 20.0 : 0.0);
  auto ticks = detail::zero_based_ticks(detail::max_value(chart.series), headroom, bottom - top);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(ticks) + 10;
  const detail::Rect plot{left, top, chart.width - 20.0, bottom};
  detail::draw_y_axis(svg, plot, ticks, chart.y_label);

  const double slot = plot.width() / static_cast<double>(ncat);
  const double group = std::min(slot * 0.72, 90.0 * static_cast<double>(nser));  // no slabs for few categories
  const double bar = group / static_cast<double>(nser);
  const double ymax = ticks.back();
  // A value label is drawn only if every one fits above its bar, so labels never overlap their neighbours.
  bool labels = chart.value_labels;
  for (const auto& s : chart.series)
    for (double v : s.values) labels = labels && detail::text_width(detail::format_value(v), 11) <= bar + 2;
  for (std::size_t c = 0; c < ncat; ++c) {
    const double x0 = plot.left + slot * static_cast<double>(c) + (slot - group) / 2;
    double group_top = plot.bottom;
    for (std::size_t s = 0; s < nser; ++s) {
      const double v = chart.series[s].values[c];
      const double h = v / ymax * plot.height();
      const double x = x0 + bar * static_cast<double>(s);
      const double inset = bar > 8 ? 1.0 : 0.0;  // a hairline gap between neighbouring bars
      if (h > 0) svg.rect(x + inset, plot.bottom - h, bar - 2 * inset, h, styles[s].color);
      if (labels) svg.text(x + bar / 2, plot.bottom - h - 5, detail::format_value(v), 11, "middle");
      group_top = std::min(group_top, plot.bottom - h - (labels ? 16.0 : 0.0));
    }
    if (speedups) {
      const double first = chart.series.front().values[c], last = chart.series.back().values[c];
      if (first > 0)
        svg.text(x0 + bar * (static_cast<double>(nser) - 0.5), group_top - 6, detail::fmt("%.1f", last / first) + "x",
                 13, "middle", true, "#111111");
    }
  }
  detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
  return svg.finish();
}

template <class Chart>
std::string render_lines(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.series, "render_lines");
  detail::Svg svg(chart.width, chart.height, chart.title);
  const auto styles = detail::resolve_styles(detail::pointers(chart.series));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::line, chart.markers);
  if (chart.categories.empty() || chart.series.empty()) return detail::no_data(svg, top);

  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double rotated = detail::category_label_room(
      chart.categories, (chart.width - 100.0) / static_cast<double>(chart.categories.size()));
  bottom -= rotated;
  const auto ticks = detail::zero_based_ticks(detail::max_value(chart.series), 0, bottom - top);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(ticks) + 10;
  const detail::Rect plot{left, top, chart.width - 20.0, bottom};
  detail::draw_y_axis(svg, plot, ticks, chart.y_label);
  detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
  detail::draw_line_series(svg, plot, ticks, chart.series, styles, 0, chart.markers);
  return svg.finish();
}

template <class Chart>
std::string render_ttft_tpot(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.ttft, "render_ttft_tpot");
  detail::check_category_series(chart.categories, chart.tpot, "render_ttft_tpot");
  detail::Svg svg(chart.width, chart.height, chart.title);
  auto all = detail::pointers(chart.ttft);
  for (const Series* s : detail::pointers(chart.tpot)) all.push_back(s);
  const auto legend = detail::merged_styles(all);
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, legend, detail::Swatch::line, chart.markers);
  if (chart.categories.empty() || all.empty()) return detail::no_data(svg, top);

  const double panel_title_h = 20;
  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double half = chart.width / 2.0;
  const double rotated = detail::category_label_room(chart.categories,
                                                     (half - 90.0) / static_cast<double>(chart.categories.size()));
  bottom -= rotated;
  struct Panel {
    const std::vector<Series>* series;
    std::string title, y_label;
  };
  const Panel panels[2] = {{&chart.ttft, "Time to first token", "TTFT (" + chart.unit + ")"},
                           {&chart.tpot, "Time per output token", "TPOT (" + chart.unit + ")"}};
  for (int p = 0; p < 2; ++p) {
    const double x_off = p * half;
    const double plot_top = top + panel_title_h;
    const auto ticks = detail::zero_based_ticks(detail::max_value(*panels[p].series), 0, bottom - plot_top);
    const double left = x_off + 8 + 24 + detail::y_tick_label_width(ticks) + 10;
    const detail::Rect plot{left, plot_top, x_off + half - 16, bottom};
    svg.text((plot.left + plot.right) / 2, top + 6, panels[p].title, 13, "middle", true);
    // The rotated y label sits at a fixed x in draw_y_axis; draw this panel's own instead.
    detail::draw_y_axis(svg, plot, ticks, "");
    svg.text(x_off + 18, (plot.top + plot.bottom) / 2, panels[p].y_label, 13, "middle", false, "#222222", -90);
    detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
    if (panels[p].series->empty()) {
      svg.text((plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2, "No data", 14, "middle", false, "#555555");
      continue;
    }
    detail::draw_line_series(svg, plot, ticks, *panels[p].series, detail::styles_for(*panels[p].series, legend), 0,
                             chart.markers);
  }
  return svg.finish();
}

template <class Chart>
std::string render_cdf(const Chart& chart) {
  detail::check_size(chart.width, chart.height);
  for (const Series& s : chart.series) detail::check_values(s, "render_cdf");
  detail::Svg svg(chart.width, chart.height, chart.title);
  // The legend says how many samples each curve has: a CDF of 5 samples reads very differently from one of 5000.
  std::vector<Series> labelled;
  for (const Series& s : chart.series) {
    Series l = s;
    l.name = s.name + (s.values.empty() ? " (no samples)" : " (n=" + std::to_string(s.values.size()) + ")");
    l.values.clear();
    labelled.push_back(std::move(l));
  }
  const auto styles = detail::resolve_styles(detail::pointers(labelled));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::line, false);
  const double max = detail::max_value(chart.series);
  bool any = false;
  for (const Series& s : chart.series) any = any || !s.values.empty();
  if (!any) return detail::no_data(svg, top);

  const double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const auto yt = nice_ticks(0, 1, 6);
  const auto xt = nice_ticks(0, max, 8);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(yt, true) + 10;
  const detail::Rect plot{left, top + 6, chart.width - 40.0, bottom};
  detail::draw_y_axis(svg, plot, yt, chart.y_label, true);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  const double xmax = xt.back();
  auto px = [&](double v) { return plot.left + v / xmax * plot.width(); };
  auto py = [&](double f) { return plot.bottom - f * plot.height(); };
  svg.line(plot.left, plot.bottom, plot.right, plot.bottom, "#444444", 1);
  for (double t : xt) {
    svg.line(px(t), plot.bottom, px(t), plot.bottom + 4, "#444444", 1);
    svg.text(px(t), plot.bottom + 18, format_tick(t, xstep), 12, "middle");
  }
  if (!chart.x_label.empty()) svg.text((plot.left + plot.right) / 2, plot.bottom + 40, chart.x_label, 13, "middle");
  // Guides at the two fractions the toolkit reports, labelled at the right edge.
  for (double f : {0.5, 0.95}) {
    svg.line(plot.left, py(f), plot.right, py(f), "#9a9a9a", 1, true);
    svg.text(plot.right + 3, py(f) + 4, f == 0.5 ? "p50" : "p95", 11, "start", false, "#444444");
  }
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    std::vector<double> v = chart.series[s].values;
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    // A step function: at sample i (0-based) the fraction jumps from i/n to (i+1)/n. Thousands of samples are
    // thinned to about 1000 steps, far below what 800 pixels can show.
    const std::size_t stride = std::max<std::size_t>(1, n / 1000);
    std::vector<std::pair<double, double>> points{{px(v[0]), py(0)}};
    for (std::size_t i = 0; i < n; i += stride) {
      const std::size_t j = std::min(n - 1, i + stride - 1);  // last sample of this thinned step
      points.push_back({px(v[i]), points.back().second});
      points.push_back({px(v[i]), py(static_cast<double>(j + 1) / static_cast<double>(n))});
    }
    points.push_back({plot.right, py(1)});
    svg.polyline(points, styles[s].color, styles[s].dashed);
  }
  return svg.finish();
}

}  // namespace chart
}  // namespace servebench
// ---- end servebench/chart.hpp ----
// ---- begin servebench/driver.hpp ----
// servebench — Driver<Api>, the default transport: one HTTP exchange with an inference server becomes one
// RequestRecord, over cpp-httplib. What is asked (DriverOptions, driver_options.hpp) and how the reply becomes a
// record, timed at the moments docs/metrics.md defines (ReplyReader, reply.hpp), are shared with the event-loop
// transport (<servebench/event_loop.hpp>).
//
// One Driver per worker thread: it owns one cpp-httplib client (keep-alive, TCP_NODELAY; connection.hpp: it can
// open its connection before the first request); the process's one watchdog thread (watchdog.hpp) enforces the
// whole-request deadline and cancel() by stopping the client from outside.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

// ---- begin servebench/connection.hpp ----
// servebench — the driver's cpp-httplib client, able to open its connection before the first request and to say
// when a request had to open one (docs/metrics.md: pre-open, t_connect).
//
// cpp-httplib 0.11.4 has no public connect. Its ClientImpl (and SSLClient, for https) opens a connection in the
// virtual create_and_connect_socket() when a send finds none open; this client overrides it:
//   * open() connects now (TCP, with the client's own settings: timeout, TCP_NODELAY) and holds the socket;
//   * the next send's create_and_connect_socket() takes the held socket if the server has not closed it meanwhile
//     (for https the TLS handshake then follows on it, inside that first request: 0.11.4 keeps the handshake
//     private), and otherwise connects, noting when the connection was established.

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <httplib.h>

// ---- begin servebench/url.hpp ----
// servebench — base URLs: "http://host[:port][/prefix]" parsed once, the cpp-httplib client made for it, and the
// resolver asked again after a failed connect (cpp-httplib reports an unknown host and a refused port alike).

#include <memory>
#include <stdexcept>
#include <string>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <sys/socket.h>
#endif

#include <httplib.h>

namespace servebench {

// How to trust an https server and prove who we are to it. Empty fields: the system's CA store, no client
// certificate. `insecure` skips verifying the server's certificate (results say so).
struct TlsOptions {
  std::string ca_cert_file;      // PEM file of the CA (or the self-signed certificate) that signed the server's
  std::string client_cert_file;  // PEM client certificate, for servers that ask for one (mutual TLS)
  std::string client_key_file;   // its private key
  bool insecure = false;
};

// True when this build of cpp-httplib speaks TLS (it was compiled with OpenSSL).
inline constexpr bool tls_available() noexcept {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  return true;
#else
  return false;
#endif
}

namespace detail {

struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  int port = 0;
  std::string prefix;  // "" or "/something", no trailing slash
};

// Parses "http://host[:port][/prefix]"; throws std::invalid_argument with what is wrong.
inline BaseUrl parse_base_url(const std::string& url) {
  BaseUrl out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    throw std::invalid_argument("base URL '" + url + "' has no scheme (expected http://host:port/prefix)");
  out.scheme = url.substr(0, scheme_end);
  if (out.scheme != "http" && out.scheme != "https")
    throw std::invalid_argument("base URL '" + url + "': scheme must be http or https");
  std::string rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.prefix = rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  std::string port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("base URL '" + url + "': unclosed '['");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument("base URL '" + url + "': junk after ']'");
      has_port = true;
      port_text = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) throw std::invalid_argument("base URL '" + url + "' has no host");
  if (!has_port) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    std::size_t used = 0;
    int port = -1;
    try {
      port = std::stoi(port_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != port_text.size() || port <= 0 || port > 65535)
      throw std::invalid_argument("base URL '" + url + "': bad port '" + port_text + "'");
    out.port = port;
  }
  return out;
}

// Throws std::invalid_argument for https with a cpp-httplib built without TLS, or a client certificate without its
// key, naming the fix.
inline void check_tls(const BaseUrl& url, const TlsOptions& tls) {
  if (!tls_available())
    throw std::invalid_argument(
        "https://" + url.host +
        " needs cpp-httplib built with OpenSSL "
        "(define CPPHTTPLIB_OPENSSL_SUPPORT and link OpenSSL, as Debian's libcpp-httplib does)");
  if (tls.client_cert_file.empty() != tls.client_key_file.empty())
    throw std::invalid_argument("a client certificate needs both its certificate file and its key file");
}

// The CA to trust and whether to verify, on an https client (httplib::Client or a ClientImpl).
template <class Client>
void apply_tls(Client& client, const TlsOptions& tls) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (!tls.ca_cert_file.empty()) client.set_ca_cert_path(tls.ca_cert_file);
  client.enable_server_certificate_verification(!tls.insecure);
#else
  (void)client;
  (void)tls;
#endif
}

// The client for `url`; throws as check_tls() does.
template <class Client = httplib::Client>  // deferred: see serialize.hpp
std::unique_ptr<Client> make_client(const BaseUrl& url, const TlsOptions& tls = {}) {
  if (url.scheme == "http") return std::make_unique<Client>(url.host, url.port);
  check_tls(url, tls);
  const bool v6 = url.host.find(':') != std::string::npos;
  const std::string where = url.scheme + "://" + (v6 ? "[" + url.host + "]" : url.host) + ":" +
                            std::to_string(url.port);
  auto client = tls.client_cert_file.empty()
                    ? std::make_unique<Client>(where)
                    : std::make_unique<Client>(where, tls.client_cert_file, tls.client_key_file);
  apply_tls(*client, tls);
  return client;
}

// The one line for a failed TLS handshake: what went wrong and the fix.
template <class = void>  // deferred: see serialize.hpp
std::string tls_failure(const BaseUrl& url, httplib::Error error, const TlsOptions& tls) {
  const std::string where = url.host + ":" + std::to_string(url.port);
  switch (error) {
    case httplib::Error::SSLServerVerification:
      return "the certificate of " + where + " is not trusted" +
             (tls.ca_cert_file.empty() ? std::string(" (give the CA that signed it with --ca-cert FILE, or --insecure "
                                                     "to skip verification)")
                                       : " by " + tls.ca_cert_file + " (is it the CA that signed the server's?)");
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the TLS certificates (" +
             (tls.ca_cert_file.empty() ? std::string("the system CA store") : tls.ca_cert_file) +
             "): check the files exist and are PEM";
    default:
      return "the TLS handshake with " + where + " failed (is it an https server? is the client certificate right?)";
  }
}

// cpp-httplib reports a failed name lookup and a refused connection alike (Error::Connection); asking the resolver
// again tells them apart. Only called after a failure, so it never costs a measured request anything.
inline bool host_resolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (result) freeaddrinfo(result);
  return rc == 0;
}

}  // namespace detail
}  // namespace servebench
// ---- end servebench/url.hpp ----

namespace servebench::detail {

// What the driver asks of its client beyond cpp-httplib's ClientImpl.
class ConnectControl {
 public:
  // Opens a connection now unless one is open or held; false (with cpp-httplib's error) when none could be opened.
  virtual bool open(httplib::Error& error) = 0;
  // When the last send had to open a connection: the steady time it was established (then forgotten); else empty.
  virtual std::optional<Nanos> take_connected() noexcept = 0;
  // Aborts the request in flight as cpp-httplib's stop() does, without waiting: false, doing nothing, while a send
  // holds the client's socket lock (it holds it while connecting and, for https, the handshake: up to the connect
  // timeout) or has not taken its socket yet, so the one watchdog of all Drivers never blocks.
  virtual bool try_stop() noexcept = 0;

 protected:
  ~ConnectControl() = default;
};

// True unless the peer has closed the socket (readable with nothing to read) or it is broken.
inline bool socket_still_open(socket_t sock) noexcept {
#ifdef _WIN32
  WSAPOLLFD p{sock, POLLRDNORM, 0};
  const int ready = WSAPoll(&p, 1, 0);
#else
  pollfd p{sock, POLLIN, 0};
  const int ready = ::poll(&p, 1, 0);
#endif
  if (ready == 0) return true;
  if (ready < 0) return false;
  char byte = 0;
  return ::recv(sock, &byte, 1, MSG_PEEK) > 0;
}

inline void close_socket_now(socket_t sock) noexcept {
#ifdef _WIN32
  ::closesocket(sock);
#else
  ::close(sock);
#endif
}

// Base: httplib::ClientImpl (http) or httplib::SSLClient (https).
template <class Base>
class PreconnectingClient final : public Base, public ConnectControl {
 public:
  using Base::Base;
  ~PreconnectingClient() override {
    if (held_ != INVALID_SOCKET) close_socket_now(held_);
  }

  bool open(httplib::Error& error) override {
    std::lock_guard<std::mutex> lock(this->socket_mutex_);
    if (this->socket_.is_open() || held_ != INVALID_SOCKET) return true;
    typename Base::Socket socket;
    if (!connect_tcp(socket, error)) return false;
    held_ = socket.sock;
    return true;
  }

  std::optional<Nanos> take_connected() noexcept override {
    auto at = connected_;
    connected_.reset();
    return at;
  }

  // ClientImpl::stop() of cpp-httplib 0.11.4 for a request in flight, under a lock only tried: shutting the socket
  // down (the sending thread then fails its read or write and closes it) is all that is safe while a request uses
  // it. With none using it (the request has not taken its socket yet, or is done) there is nothing to stop: false,
  // and the watchdog tries again.
  bool try_stop() noexcept override {
    std::unique_lock<std::mutex> lock(this->socket_mutex_, std::try_to_lock);
    if (!lock.owns_lock() || this->socket_requests_in_flight_ == 0) return false;
    this->shutdown_socket(this->socket_);
    this->socket_should_be_closed_when_request_is_done_ = true;
    return true;
  }

  // Called by cpp-httplib's send with its socket mutex held, when it has no open connection.
  bool create_and_connect_socket(typename Base::Socket& socket, httplib::Error& error) override {
    if (held_ != INVALID_SOCKET) {
      const socket_t held = held_;
      held_ = INVALID_SOCKET;
      if (socket_still_open(held)) {
        socket.sock = held;
        return true;
      }
      close_socket_now(held);  // the server closed it while it waited: connect again, and say so
    }
    if (!connect_tcp(socket, error)) return false;
    connected_ = now_ns();
    return true;
  }

  // What SSLClient::create_and_connect_socket does too (is_valid(): its TLS context exists), then ClientImpl's.
  bool connect_tcp(typename Base::Socket& socket, httplib::Error& error) {
    if (!this->is_valid()) {
      error = httplib::Error::SSLConnection;
      return false;
    }
    return httplib::ClientImpl::create_and_connect_socket(socket, error);
  }

  socket_t held_ = INVALID_SOCKET;
  std::optional<Nanos> connected_;
};

// The client and its connect control (the same object).
struct Connection {
  std::unique_ptr<httplib::ClientImpl> client;
  ConnectControl* control = nullptr;
};

// The connection for `url`: plain, or TLS as `tls` says. Throws std::invalid_argument as check_tls() does. A
// template (callers never name `Plain`) so that the https client is built only where a Driver is (see "Deferred" in
// serialize.hpp).
template <class Plain = httplib::ClientImpl>
Connection make_connection(const BaseUrl& url, const TlsOptions& tls = {}) {
  Connection c;
  if (url.scheme == "http") {
    auto* client = new PreconnectingClient<Plain>(url.host, url.port);
    c.client.reset(client);  // not make_unique: a unique_ptr of one more type costs every includer (serialize.hpp)
    c.control = client;
    return c;
  }
  check_tls(url, tls);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  auto* client = new PreconnectingClient<deferred<httplib::SSLClient, Plain>>(url.host, url.port, tls.client_cert_file,
                                                                              tls.client_key_file);
  c.client.reset(client);
  c.control = client;
  apply_tls(*client, tls);
#endif
  return c;
}

}  // namespace servebench::detail
// ---- end servebench/connection.hpp ----
// ---- begin servebench/driver_options.hpp ----
// servebench — DriverOptions: how to reach a server and what to ask of it (URL, model, headers, TLS, generation
// settings, timeouts and deadlines, reply limits), read by every transport; and target_label().

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>


namespace servebench {

// How to reach a server and what to ask of it. Fluent: setters return *this; a getter of the same name reads.
class DriverOptions {
 public:
  using Duration = std::chrono::milliseconds;

  // "http://host:port/prefix"; the dialect's path is appended to the prefix.
  // clang-format off: one line per fluent setter, as everywhere in the library
  DriverOptions& base_url(std::string url) {
    base_url_ = std::move(url);
    return *this;
  }
  const std::string& base_url() const noexcept { return base_url_; }
  // Sent as "Authorization: Bearer <key>" when not empty.
  DriverOptions& api_key(std::string key) {
    api_key_ = std::move(key);
    return *this;
  }
  const std::string& api_key() const noexcept { return api_key_; }
  DriverOptions& model(std::string name) {
    generation_.model = std::move(name);
    return *this;
  }
  const std::string& model() const noexcept { return generation_.model; }
  // Another header sent with every request ("X-Api-Version", "2"); repeatable.
  template <class = void>  // deferred: see serialize.hpp
  DriverOptions& header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
  // JSON fields merged into every request body, over the dialect's own ({"top_p": 0.9, "seed": 1}, vendor fields).
  DriverOptions& extra_body(nlohmann::json fields) {
    extra_body_ = std::move(fields);
    return *this;
  }
  const nlohmann::json& extra_body() const noexcept { return extra_body_; }
  // https: the CA to trust, a client certificate, or no verification at all (insecure).
  DriverOptions& tls(TlsOptions options) {
    tls_ = std::move(options);
    return *this;
  }
  const TlsOptions& tls() const noexcept { return tls_; }
  // What records, results, tables and charts call this server. Empty: the host and port of base_url.
  DriverOptions& label(std::string name) {
    label_ = std::move(name);
    return *this;
  }
  const std::string& label() const noexcept { return label_; }
  DriverOptions& stream(bool on) {
    generation_.stream = on;
    return *this;
  }
  bool stream() const noexcept { return generation_.stream; }
  DriverOptions& temperature(double t) {
    generation_.temperature = t;
    return *this;
  }
  double temperature() const noexcept { return generation_.temperature; }
  DriverOptions& ignore_eos(bool on) {
    generation_.ignore_eos = on;
    return *this;
  }
  bool ignore_eos() const noexcept { return generation_.ignore_eos; }
  DriverOptions& min_tokens(std::optional<int> n) {
    generation_.min_tokens = n;
    return *this;
  }
  std::optional<int> min_tokens() const noexcept { return generation_.min_tokens; }
  // Ask for a usage object in every stream chunk (vLLM's stream_options.continuous_usage_stats): the record then
  // holds each event's token count (event_tokens) and the summary a per-token ITL. Only for servers that accept it.
  DriverOptions& continuous_usage_stats(bool on) {
    generation_.continuous_usage = on;
    return *this;
  }
  bool continuous_usage_stats() const noexcept { return generation_.continuous_usage; }
  // Every reply exactly max_tokens long where the dialect can ask for it (GenerationOptions::force_output_length).
  DriverOptions& force_output_length(bool on) {
    generation_.force_output_length = on;
    return *this;
  }
  bool force_output_length() const noexcept { return generation_.force_output_length; }
  DriverOptions& connect_timeout(Duration d) {
    connect_timeout_ = d;
    return *this;
  }
  Duration connect_timeout() const noexcept { return connect_timeout_; }
  // The longest the server may stay silent (between two reads), not the length of a whole reply.
  DriverOptions& read_timeout(Duration d) {
    read_timeout_ = d;
    return *this;
  }
  Duration read_timeout() const noexcept { return read_timeout_; }
  DriverOptions& write_timeout(Duration d) {
    write_timeout_ = d;
    return *this;
  }
  Duration write_timeout() const noexcept { return write_timeout_; }
  // The longest one whole request may take, from t_send. Unset (the default), each request's own is derived:
  //   deadline = deadline_base + deadline_per_token x max_tokens   (60 s + 1 s per token; max_tokens <= 0 counts 4096)
  // so a server dripping a byte at a time, never silent for a whole read timeout, still ends as deadline_exceeded.
  // deadline(d) fixes it for every request; deadline(0ms) means none (only the read timeout and the level timeout
  // bound a request then). A deadline ends its request within about 5 ms of passing (the watchdog looks every
  // 5 ms, watchdog.hpp). A connect in progress is not interrupted (cpp-httplib holds its socket lock while
  // connecting): connect_timeout bounds that part.
  DriverOptions& deadline(Duration d) {
    deadline_ = d;
    fixed_deadline_ = true;
    return *this;
  }
  template <class Deferred = void>  // deferred: see serialize.hpp
  std::optional<deferred<Duration, Deferred>> deadline() const noexcept {
    if (fixed_deadline_) return deadline_;
    return std::nullopt;
  }
  // Back to the derived deadline, with this base and per-token allowance.
  DriverOptions& derived_deadline(Duration base = std::chrono::seconds(60),
                                  Duration per_token = std::chrono::seconds(1)) {
    fixed_deadline_ = false;
    deadline_base_ = base;
    deadline_per_token_ = per_token;
    return *this;
  }
  Duration deadline_base() const noexcept { return deadline_base_; }
  Duration deadline_per_token() const noexcept { return deadline_per_token_; }
  // The deadline a request for `max_tokens` gets: the fixed one, or the derived one; zero means none.
  Duration deadline_for(int max_tokens) const noexcept {
    if (fixed_deadline_) return deadline_;
    return deadline_base_ + deadline_per_token_ * (max_tokens > 0 ? max_tokens : unbounded_reply_tokens);
  }
  // What the derived deadline assumes of a request without max_tokens (the server decides its length).
  static constexpr int unbounded_reply_tokens = 4096;
  // The most bytes one reply may bring; past it the request ends as reply_too_large, so a server that sends without
  // end cannot take the client's memory. 64 MiB by default: thousands of times a long LLM reply.
  DriverOptions& max_reply_bytes(std::size_t n) {
    max_reply_bytes_ = n;
    return *this;
  }
  std::size_t max_reply_bytes() const noexcept { return max_reply_bytes_; }
  // Keep the generated text in each record; off saves memory in long runs.
  DriverOptions& keep_text(bool on) {
    keep_text_ = on;
    return *this;
  }
  // clang-format on
  bool keep_text() const noexcept { return keep_text_; }

  // The generation settings as dialects take them.
  const GenerationOptions& generation() const noexcept { return generation_; }

 private:
  std::string base_url_ = "http://127.0.0.1:8000";
  std::string api_key_;
  std::string label_;
  std::vector<std::pair<std::string, std::string>> headers_;
  nlohmann::json extra_body_ = nlohmann::json(nlohmann::json::value_t::object);
  TlsOptions tls_;
  GenerationOptions generation_;
  Duration connect_timeout_ = std::chrono::seconds(10);
  Duration read_timeout_ = std::chrono::seconds(600);  // a non-streaming reply from a busy server is silent for long
  Duration write_timeout_ = std::chrono::seconds(30);
  Duration deadline_{0};
  bool fixed_deadline_ = false;  // false: derived per request (deadline_for)
  Duration deadline_base_ = std::chrono::seconds(60);
  Duration deadline_per_token_ = std::chrono::seconds(1);
  bool keep_text_ = true;
  std::size_t max_reply_bytes_ = std::size_t{64} << 20;
};

// What records call the server of `options`: its label, or host:port of its base URL when the label is empty.
// Throws std::invalid_argument when the base URL cannot be parsed.
inline std::string target_label(const DriverOptions& options) {
  if (!options.label().empty()) return options.label();
  const auto url = detail::parse_base_url(options.base_url());
  return url.host + ":" + std::to_string(url.port);
}

}  // namespace servebench
// ---- end servebench/driver_options.hpp ----
// ---- begin servebench/reply.hpp ----
// servebench — what every transport shares about one exchange: the request a dialect and DriverOptions make
// (PreparedRequest), and the ReplyReader that turns the reply's status, bytes and end into one RequestRecord, timed
// at the moments docs/metrics.md defines and classified into one ErrorKind. The transport (Driver's cpp-httplib
// client, or the event loop of <servebench/event_loop.hpp>) only moves bytes and says how the exchange ended
// (TransportFailure); so the accounting, and every fault test of it, is the same whichever carried the request.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// ---- begin servebench/sse.hpp ----
// servebench — an incremental Server-Sent-Events parser that yields the same events however the byte stream was
// split: a read may end inside a field name, inside `data:`, or between the CR and LF of one line break.
// Follows the WHATWG event-stream rules (https://html.spec.whatwg.org/multipage/server-sent-events.html), with one
// deliberate difference: finish() dispatches a final event that lacks its trailing blank line, because a benchmark
// would rather see the last token than silently drop it.

#include <string>
#include <string_view>
#include <utility>

namespace servebench {

// One dispatched event. `event` is empty when the stream gave no `event:` field (the spec's "message").
// `data` joins multi-line data with '\n' and has no trailing newline. `id` is the last `id:` seen on the stream so
// far (the spec's last-event-ID, which persists across events). "[DONE]" is ordinary data here; dialects decide
// what it means.
struct SseEvent {
  std::string event;
  std::string data;
  std::string id;
};

class SseParser {
 public:
  // Feeds the next bytes of the stream; calls on_event(const SseEvent&) for every event completed by them.
  template <class F>
  void feed(std::string_view bytes, F&& on_event) {
    std::size_t i = 0;
    while (i < bytes.size()) {
      // A CR ended the previous line; an LF right after it (possibly in this new read) belongs to the same break.
      if (skip_lf_) {
        skip_lf_ = false;
        if (bytes[i] == '\n') {
          ++i;
          continue;
        }
      }
      const std::size_t end = bytes.find_first_of("\r\n", i);
      if (end == std::string_view::npos) {
        line_.append(bytes.data() + i, bytes.size() - i);
        break;
      }
      line_.append(bytes.data() + i, end - i);
      skip_lf_ = bytes[end] == '\r';
      i = end + 1;
      process_line(on_event);
      line_.clear();
    }
  }

  // The stream ended: a pending line counts as complete and a pending event is dispatched even without its
  // trailing blank line. The parser is then ready for a new stream.
  template <class F>
  void finish(F&& on_event) {
    if (!line_.empty()) process_line(on_event);
    line_.clear();
    dispatch(on_event);
    reset();
  }

  // Forgets everything, including the last event id: ready for a new stream.
  void reset() {
    line_.clear();
    data_.clear();
    event_.clear();
    id_.clear();
    has_data_ = false;
    skip_lf_ = false;
    first_line_ = true;
  }

 private:
  template <class F>
  void process_line(F& on_event) {
    std::string_view line = line_;
    if (first_line_) {
      first_line_ = false;
      // A UTF-8 byte-order mark may open the stream; it is not part of the first field name.
      if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    }
    if (line.empty()) {
      dispatch(on_event);
      return;
    }
    if (line.front() == ':') return;  // a comment (servers send them as keep-alive pings)
    std::string_view field = line, value;
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      field = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_.append(value.data(), value.size());
      has_data_ = true;
    } else if (field == "event") {
      event_.assign(value.data(), value.size());
    } else if (field == "id") {
      if (value.find('\0') == std::string_view::npos) id_.assign(value.data(), value.size());
    }
    // `retry` and unknown fields are ignored, as the spec says.
  }

  template <class F>
  void dispatch(F& on_event) {
    // The spec dispatches nothing for an event without data (an `event:` line alone), and resets its type.
    if (has_data_) {
      SseEvent ev{std::move(event_), std::move(data_), id_};
      on_event(static_cast<const SseEvent&>(ev));
    }
    data_.clear();
    event_.clear();
    has_data_ = false;
  }

  std::string line_;
  std::string data_;
  std::string event_;
  std::string id_;
  bool has_data_ = false;
  bool skip_lf_ = false;
  bool first_line_ = true;
};

}  // namespace servebench
// ---- end servebench/sse.hpp ----

namespace servebench::detail {

inline std::string first_bytes(std::string_view text, std::size_t limit = 512) {
  return std::string(text.substr(0, limit));
}

// Applies the reply's counts and ground truth to the record.
template <class Counts>
void take_counts(const Counts& c, RequestRecord& r) {
  if (c.completion_tokens) {
    r.n_out = *c.completion_tokens;
    r.token_source = TokenSource::usage;
  }
  if (c.prompt_tokens) r.n_in = *c.prompt_tokens;
  if (c.reasoning_tokens) r.n_reasoning = *c.reasoning_tokens;
  if (c.cached_prompt_tokens) r.n_in_cached = *c.cached_prompt_tokens;
  if (c.server_timing) r.server_timing = c.server_timing;
}

template <class = void>  // deferred: see serialize.hpp
void fail(RequestRecord& r, ErrorKind kind, std::string message) {
  if (!r.ok()) return;  // the first cause wins
  r.error_kind = kind;
  r.error_message = std::move(message);
}

// Why a request in flight must stop: cancel() (any thread) or its deadline (the watchdog, or the event loop).
struct RequestStop {
  std::atomic<int> cancel_reason{static_cast<int>(ErrorKind::none)};
  std::atomic<bool> deadline_hit{false};

  ErrorKind cancelled() const noexcept { return static_cast<ErrorKind>(cancel_reason.load()); }
  bool stopped() const noexcept { return cancelled() != ErrorKind::none || deadline_hit.load(); }
};

// How the transport ended an exchange that did not complete. `tls` and `other` come with the transport's own
// message (ReplyReader::finish's `detail`).
enum class TransportFailure { none, connect, connect_timeout, tls, write, read, other };

// Classifies a transport's failure into the record: `silent` is how long the socket had been quiet when it failed,
// `status` the reply's status (-1: none yet), `bytes` the body bytes read.
template <class = void>  // deferred: see serialize.hpp
void fail_transport(RequestRecord& record, TransportFailure failure, const std::string& detail,
                    const DriverOptions& options, const BaseUrl& url, Nanos silent, int status, std::size_t bytes) {
  const std::string where = url.host + ":" + std::to_string(url.port);
  const Nanos read_timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options.read_timeout()).count();
  switch (failure) {
    case TransportFailure::connect:
      if (!host_resolves(url.host))
        fail(record, ErrorKind::name_resolution, "cannot resolve host '" + url.host + "'");
      else
        fail(record, ErrorKind::connect_refused, "cannot connect to " + where + " (refused or unreachable)");
      return;
    case TransportFailure::connect_timeout:
      fail(record, ErrorKind::connect_timeout,
           "no connection to " + where + " within " + std::to_string(options.connect_timeout().count()) + " ms");
      return;
    case TransportFailure::tls: fail(record, ErrorKind::tls, detail); return;
    case TransportFailure::write:
      fail(record, ErrorKind::write_failed, "could not write the request to " + where);
      return;
    case TransportFailure::read:
      // A read that failed is a timeout or a closed connection; how long the socket had been silent tells them
      // apart (a timeout waits the whole read timeout; a close ends sooner).
      if (silent >= read_timeout_ns - read_timeout_ns / 10) {
        fail(record, ErrorKind::read_timeout,
             "the server was silent for " + std::to_string(options.read_timeout().count()) + " ms");
      } else if (status < 0 && bytes == 0) {
        fail(record, ErrorKind::empty_reply, "the server closed the connection without a reply");
      } else {
        fail(record, ErrorKind::closed_mid_stream,
             "the connection closed after " + std::to_string(bytes) + " bytes of the reply");
      }
      return;
    case TransportFailure::none:
    case TransportFailure::other: fail(record, ErrorKind::other, detail + " talking to " + where); return;
  }
}

// Why a connection could not be opened, as a request's record would say it (a transport's connect() returns it).
template <class = void>  // deferred: see serialize.hpp
std::string connect_failure(const DriverOptions& options, const BaseUrl& url, TransportFailure failure,
                            const std::string& detail = {}) {
  RequestRecord record;
  fail_transport(record, failure, detail, options, url, 0, -1, 0);
  return record.error_message.empty() ? "cannot connect" : record.error_message;
}

// One request as the dialect and the options make it: what to POST where, and what kind of reply to expect.
struct PreparedRequest {
  std::string path;  // the base URL's prefix and the dialect's path
  std::string body;  // JSON
  bool streaming = false;
  bool continuous_usage = false;
};

template <class Api>
PreparedRequest prepare_request(const Api& api, const DriverOptions& options, const BaseUrl& url,
                                const Prompt& prompt) {
  GenerationOptions generation = options.generation();
  generation.stream = generation.stream && api::streams_v<Api>;
  api::HttpCall call = api.request(prompt, generation);
  if (call.body.is_object() && options.extra_body().is_object()) call.body.update(options.extra_body());
  PreparedRequest request;
  request.path = url.prefix + call.path;
  // A prompt that is not valid UTF-8 is sent with replacement characters rather than failing the request.
  request.body = call.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  request.streaming = generation.stream;
  request.continuous_usage = generation.continuous_usage;
  return request;
}

// The headers every request carries besides Host, Content-Length and the bearer token, in order.
template <class = void>  // deferred: see serialize.hpp
std::vector<std::pair<std::string, std::string>> request_headers(const DriverOptions& options, bool streaming) {
  std::vector<std::pair<std::string, std::string>> headers{
      {"Content-Type", "application/json"}, {"Accept", streaming ? "text/event-stream" : "application/json"}};
  for (const auto& h : options.headers()) headers.push_back(h);
  return headers;
}

// Reads one reply into its record. The transport calls on_status() when the status line and headers are in,
// on_bytes() with each piece of the body as it arrives (timestamped first, in the reading thread), and finish() once
// when the exchange ended. Its members are sized before the request (expect()) so that on_bytes allocates only after
// taking its timestamp.
template <class Api>
class ReplyReader {
 public:
  static constexpr bool can_stream = api::streams_v<Api>;

  ReplyReader(const Api& api, const DriverOptions& options, const BaseUrl& url, const RequestStop& stop,
              RequestRecord& record)
      : api_(&api), options_(&options), url_(&url), stop_(&stop), record_(&record) {}

  // Before sending: what kind of reply comes, and room for it. Sets t_send and the record's `streamed`. `buffer`:
  // room for a body that an earlier reader gave back (release_buffer()), so that a transport sending request after
  // request on one connection allocates none.
  void expect(const PreparedRequest& request, const Prompt& prompt, std::string buffer = {}) {
    streaming_ = request.streaming;
    keep_text_ = options_->keep_text();
    max_bytes_ = options_->max_reply_bytes();
    deadline_ = options_->deadline_for(prompt.max_tokens);
    record_->streamed = streaming_;
    if (streaming_) {
      record_->event_times.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens + 2 : 16));
      if (request.continuous_usage) record_->event_tokens.reserve(record_->event_times.capacity());
      if (keep_text_)
        record_->text.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens : 0) * 8);
    } else {
      body_ = std::move(buffer);
      body_.clear();
      body_.reserve(4096);
    }
  }

  // This request's whole-request deadline; zero: none.
  DriverOptions::Duration deadline() const noexcept { return deadline_; }
  Nanos deadline_ns() const noexcept { return std::chrono::duration_cast<std::chrono::nanoseconds>(deadline_).count(); }

  // Just before the first byte goes out (connect time counts: a user waits for it too).
  void sent(Nanos at) noexcept {
    record_->t_send = at;
    last_activity_ = at;
  }

  Nanos last_activity() const noexcept { return last_activity_; }

  void on_status(int status, Nanos at) noexcept {
    last_activity_ = at;
    status_ = status;
  }

  // A piece of the body, arrived at `arrived`. False: stop reading (the record says why, or the request stopped).
  bool on_bytes(Nanos arrived, const char* data, std::size_t n) noexcept {
    try {
      last_activity_ = arrived;
      bytes_ += n;
      if (stop_->stopped()) return false;
      if (bytes_ > max_bytes_) {
        fail(*record_, ErrorKind::reply_too_large,
             "the reply passed " + std::to_string(max_bytes_) + " bytes (DriverOptions::max_reply_bytes)");
        failed_ = true;
        return false;
      }
      if (status_ >= 400) {  // an error page: only its start is kept
        keep_start(data, n);
        return true;
      }
      if (!streaming_) {
        body_.append(data, n);
        record_->t_end = arrived;  // the last call brings the last byte
        return true;
      }
      keep_start(data, n);
      parser_.feed(std::string_view(data, n), [&](const SseEvent& event) { on_event(event, arrived); });
      return !failed_;
    } catch (const std::exception& e) {
      fail(*record_, ErrorKind::other, std::string("while reading the reply: ") + e.what());
      failed_ = true;
      return false;
    }
  }

  // The exchange ended at `returned`: completed (failure none: the whole reply was read) or not, with the
  // transport's message for tls and other. Classifies the outcome into the record.
  void finish(TransportFailure failure, Nanos returned, const std::string& detail = {}) {
    RequestRecord& record = *record_;
    record.http_status = status_ > 0 ? status_ : 0;
    classify(failure, returned, detail);
    if (!record.ok()) {
      if (record.t_end == 0 || record.t_end < record.t_send) record.t_end = returned;
      if (record.body_start.empty()) record.body_start = first_bytes(body_);
    }
  }

 private:
  void keep_start(const char* data, std::size_t n) {
    if (body_.size() < 512) body_.append(data, std::min<std::size_t>(n, 512 - body_.size()));
  }

  void on_event(const SseEvent& event, Nanos arrived) {
    if (failed_ || terminated_) return;  // nothing after the terminator counts
    if constexpr (can_stream) {
      RequestRecord& record = *record_;
      auto parsed = api::read_event(*api_, event.data);
      if (!parsed.ok()) {
        fail(record, parsed.error, std::move(parsed.message));
        failed_ = true;
        return;
      }
      auto& e = parsed.value;
      if (e.carries_text && !record.t_first_answer_token) record.t_first_answer_token = arrived;
      if (e.carries_text || e.carries_other_tokens) {
        if (text_events_ == 0) record.t_first_token = arrived;
        record.t_end = arrived;
        record.event_times.push_back(arrived);
        // Counts per event only when every token-carrying event has one (continuous usage stats).
        if (e.completion_tokens && counts_per_event_)
          record.event_tokens.push_back(*e.completion_tokens);
        else if (counts_per_event_)
          counts_per_event_ = false, record.event_tokens.clear();
        ++text_events_;
        if (keep_text_ && e.carries_text) record.text += e.text;
      }
      take_counts(e, record);
      terminated_ = e.terminator;
    } else {
      (void)event;
      (void)arrived;
    }
  }

  void classify(TransportFailure failure, Nanos returned, const std::string& detail) {
    RequestRecord& record = *record_;
    if (!record.ok()) return;  // the receiver already classified it (a bad event)
    if (failure != TransportFailure::none && stop_->stopped()) {
      if (const auto reason = stop_->cancelled(); reason != ErrorKind::none)
        fail(record, reason, "cancelled while in flight");
      else
        fail(record, ErrorKind::deadline_exceeded,
             "no complete reply within the deadline of " + std::to_string(deadline_.count()) + " ms" +
                 (options_->deadline() ? "" : " (derived from max_tokens: DriverOptions::deadline)"));
      return;
    }
    if (failure != TransportFailure::none) {
      fail_transport(record, failure, detail, *options_, *url_, returned - last_activity_, status_, bytes_);
      return;
    }
    if (status_ >= 400) {
      record.body_start = first_bytes(body_);
      fail(record, ErrorKind::http_status, "HTTP status " + std::to_string(status_));
      return;
    }
    if (streaming_) {
      parser_.finish([&](const SseEvent& event) { on_event(event, last_activity_); });
      if (!record.ok()) return;
      if (!terminated_) {
        fail(record, bytes_ == 0 ? ErrorKind::empty_reply : ErrorKind::incomplete_stream,
             bytes_ == 0 ? "the stream had no body" : "the stream ended without its terminator");
        return;
      }
      if (record.token_source != TokenSource::usage && text_events_ > 0) {
        record.n_out = text_events_;
        record.token_source = TokenSource::events;
      }
      if (text_events_ == 0) record.t_first_token = record.t_end = last_activity_;
      return;
    }
    if (body_.empty()) {
      fail(record, ErrorKind::empty_reply, "HTTP " + std::to_string(status_) + " with an empty body");
      return;
    }
    auto parsed = api::read_reply(*api_, body_);
    if (!parsed.ok()) {
      fail(record, parsed.error, std::move(parsed.message));
      return;
    }
    record.t_first_token = record.t_end;
    if (!parsed.value.text.empty()) record.t_first_answer_token = record.t_end;
    take_counts(parsed.value, record);
    if (keep_text_) record.text = std::move(parsed.value.text);
  }

 public:
  // After finish(): the body's room, emptied, for the next reader's expect().
  std::string release_buffer() {
    body_.clear();
    return std::move(body_);
  }

 private:
  const Api* api_;
  const DriverOptions* options_;
  const BaseUrl* url_;
  const RequestStop* stop_;
  RequestRecord* record_;
  bool streaming_ = false;
  bool keep_text_ = true;
  std::size_t max_bytes_ = 0;
  DriverOptions::Duration deadline_{};  // this request's; zero: none
  int status_ = -1;                     // -1: no status line yet
  Nanos last_activity_ = 0;             // last byte (or header) arrival
  std::size_t bytes_ = 0;
  std::string body_;  // non-streaming body, or the start of any failed one
  SseParser parser_;
  bool terminated_ = false;
  std::int64_t text_events_ = 0;  // events that carried a generated token of any kind
  bool counts_per_event_ = true;  // every token-carrying event so far had a cumulative completion_tokens
  bool failed_ = false;
};

}  // namespace servebench::detail
// ---- end servebench/reply.hpp ----
// ---- begin servebench/watchdog.hpp ----
// servebench — the watchdog that enforces every Driver's whole-request deadline and cancel(): one thread for the
// whole process, not one per Driver (a thread per Driver doubled the threads of a 10,000-stream level and cost
// ~8 KiB of resident stack per stream; docs/performance.md).
//
// Every Driver's WatchedRequest is on the watchdog's list from the Driver's construction to its destruction. A
// request's begin() and end() touch only that request (its own mutex and atomics): nothing shared by all Drivers is
// written per request, so thousands of streams starting or ending together never queue on one lock. The thread
// looks at every request in flight every 5 ms (every 2 ms while one it has stopped has not ended yet: a stop that
// lands before the request has its socket does nothing, so it is repeated until the request ends), at once after
// cancel(), and sleeps without a timeout once no request has been in flight for 100 ms; a begin() then wakes it.
// A deadline therefore ends its request within about 5 ms of passing (deadlines are seconds; docs/metrics.md).
//
// Locks: the watchdog's mutex (the list) is taken before a request's mutex, never after; the watchdog stops a client
// with the request's mutex held, so end(), which takes that mutex, waits out a stop in progress and a stop aimed at
// one request never hits the next. The stop itself never blocks (ConnectControl::try_stop: a client busy connecting
// is tried again 2 ms later), so one slow connect cannot delay every other Driver's deadline.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>


namespace servebench::detail {

// One Driver's side: its client, and the request in flight. Kept behind a pointer so a Driver can move.
struct WatchedRequest : RequestStop {
  std::unique_ptr<httplib::ClientImpl> client;
  ConnectControl* connect = nullptr;  // the same object as client
  std::mutex mutex;                   // held by begin(), end() and the watchdog while it stops the client
  std::atomic<bool> in_flight{false};
  std::atomic<Nanos> deadline_at{0};  // 0: none
  std::size_t slot = 0;               // index in the watchdog's list; guarded by the watchdog's mutex

  // Templates, as is the Watchdog, so that the watchdog's thread is built only where a Driver is (see
  // "Deferred" in serialize.hpp); callers never name the parameter.
  template <class = void>
  void watch();  // onto the watchdog's list (the Driver's constructor)
  template <class = void>
  void begin(Nanos deadline);
  template <class = void>
  void end();
  template <class = void>
  void cancel(ErrorKind reason);
  template <class = void>
  void shut_down();  // off the list: after it the watchdog holds no reference to this request
};

// A template so that its thread and its list are built only where a Driver is (see "Deferred" in serialize.hpp);
// callers name it Watchdog.
template <class = void>
class BasicWatchdog {
 public:
  static constexpr Nanos period_ns = 5'000'000;       // between looks while requests are in flight
  static constexpr Nanos stop_period_ns = 2'000'000;  // while a stopped request has not ended
  static constexpr Nanos idle_before_sleep_ns = 100'000'000;

  // The process's watchdog, started with the first Driver. Never destroyed: a Driver that outlives static
  // destruction (a static of its own, a detached thread) still finds it; the thread ends with the process.
  static BasicWatchdog& instance() {
    static BasicWatchdog* const watchdog = new BasicWatchdog();
    return *watchdog;
  }

  void add(WatchedRequest& r) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      r.slot = list_.size();
      list_.push_back(&r);
    }
  }

  void remove(WatchedRequest& r) {
    std::lock_guard<std::mutex> lock(mutex_);  // waits out a look in progress
    list_[r.slot] = list_.back();
    list_[r.slot]->slot = r.slot;
    list_.pop_back();
  }

  // Look now: after cancel(), or a begin() that found the thread asleep.
  void poke() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      poked_ = true;
    }
    wake_.notify_one();
  }

  // Whether the thread sleeps without a timeout (a begin() must then poke it). Read after in_flight is set: the
  // thread sets this before its last look, so one of the two sees the other (both sequentially consistent).
  bool asleep() const noexcept { return asleep_.load(); }

  BasicWatchdog(const BasicWatchdog&) = delete;
  BasicWatchdog& operator=(const BasicWatchdog&) = delete;

 private:
  BasicWatchdog() {
    std::thread([this] { run(); }).detach();
  }

  struct Look {
    bool in_flight = false;  // any request
    bool stopping = false;   // any request stopped and not ended yet
  };

  // Whether r must be stopped: cancelled, or past its deadline.
  static bool due(const WatchedRequest& r, Nanos now) {
    if (r.cancelled() != ErrorKind::none) return true;
    const Nanos deadline = r.deadline_at.load();
    return deadline != 0 && now >= deadline;
  }

  // With the list's mutex held: stops each request cancelled or past its deadline.
  Look look_locked() {
    Look seen;
    const Nanos now = now_ns();
    for (WatchedRequest* r : list_) {
      if (!r->in_flight.load()) continue;
      seen.in_flight = true;
      if (!due(*r, now)) continue;
      std::lock_guard<std::mutex> lock(r->mutex);
      // Again under the request's lock: it may have ended meanwhile, and the next one begun with its own deadline.
      if (!r->in_flight.load() || !due(*r, now)) continue;
      if (r->cancelled() == ErrorKind::none) r->deadline_hit = true;
      r->connect->try_stop();
      seen.stopping = true;
    }
    return seen;
  }

  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    Nanos busy_at = now_ns();
    for (;;) {
      poked_ = false;
      const Look seen = look_locked();
      const Nanos now = now_ns();
      if (seen.in_flight) busy_at = now;
      if (now - busy_at >= idle_before_sleep_ns) {
        asleep_ = true;
        if (!look_locked().in_flight && !poked_) wake_.wait(lock, [this] { return poked_; });
        asleep_ = false;
        busy_at = now_ns();
        continue;
      }
      const Nanos wait = seen.stopping ? stop_period_ns : period_ns;
      wake_.wait_for(lock, std::chrono::nanoseconds(wait), [this] { return poked_; });
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<WatchedRequest*> list_;
  bool poked_ = false;
  std::atomic<bool> asleep_{false};
};
using Watchdog = BasicWatchdog<>;

template <class D>
void WatchedRequest::watch() {
  BasicWatchdog<D>::instance().add(*this);
}

template <class D>
void WatchedRequest::begin(Nanos deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    deadline_at = deadline;
    deadline_hit = false;
    in_flight = true;
  }
  // A cancel() between the Driver's check before sending and in_flight above: look now. An idle watchdog sleeps
  // until poked.
  auto& watchdog = BasicWatchdog<D>::instance();
  if (cancelled() != ErrorKind::none || (deadline != 0 && watchdog.asleep())) watchdog.poke();
}

template <class>
void WatchedRequest::end() {
  std::lock_guard<std::mutex> lock(mutex);  // waits out a stop in progress
  in_flight = false;
  deadline_at = 0;
}

template <class D>
void WatchedRequest::cancel(ErrorKind reason) {
  cancel_reason = static_cast<int>(reason);
  BasicWatchdog<D>::instance().poke();  // not in flight: the next send sees the reason before sending
}

template <class D>
void WatchedRequest::shut_down() {
  BasicWatchdog<D>::instance().remove(*this);
}

}  // namespace servebench::detail
// ---- end servebench/watchdog.hpp ----

namespace servebench {

template <class Api>
class Driver {
 public:
  // Throws std::invalid_argument when the base URL cannot be parsed or https cannot be used (a cpp-httplib without
  // TLS, a client certificate without its key); nothing else throws.
  explicit Driver(DriverOptions options, Api api = {})
      : options_(std::move(options)), api_(std::move(api)), url_(detail::parse_base_url(options_.base_url())),
        label_(target_label(options_)), state_(std::make_unique<deferred<detail::WatchedRequest, Api>>()) {
    auto connection = detail::make_connection(url_, options_.tls());
    state_->connect = connection.control;
    auto& client = *(state_->client = std::move(connection.client));
    client.set_tcp_nodelay(true);  // without it every POST waits ~40 ms on Nagle + delayed ACK
    client.set_keep_alive(true);
    client.set_follow_location(false);
    client.set_connection_timeout(options_.connect_timeout());
    client.set_read_timeout(options_.read_timeout());
    client.set_write_timeout(options_.write_timeout());
    if (!options_.api_key().empty()) client.set_bearer_token_auth(options_.api_key());
    state_->watch();
  }
  ~Driver() {
    if (state_) state_->shut_down();
  }
  Driver(Driver&&) noexcept = default;
  Driver& operator=(Driver&& other) noexcept {
    if (this != &other) {
      if (state_) state_->shut_down();
      options_ = std::move(other.options_);
      api_ = std::move(other.api_);
      url_ = std::move(other.url_);
      label_ = std::move(other.label_);
      state_ = std::move(other.state_);
    }
    return *this;
  }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Sends one request and waits for the whole reply. t_sched = 0 means "now". Never throws: every outcome is in
  // the record (ok(), or one error_kind with a message).
  RequestRecord send(const Prompt& prompt, std::uint64_t index = 0, Nanos t_sched = 0) noexcept {
    RequestRecord record;
    try {
      record.target = label_;
      record.index = index;
      record.t_sched = t_sched != 0 ? t_sched : now_ns();
      send_into(prompt, record);
    } catch (const std::exception& e) {
      detail::fail(record, ErrorKind::other, std::string("unexpected: ") + e.what());
    } catch (...) {
      detail::fail(record, ErrorKind::other, "unexpected exception");
    }
    return record;
  }

  // Opens the connection now, unless one is open, so that the next request does not wait for it (the schedulers
  // call this before a level's clock starts; docs/metrics.md, "Connections"). For https the TLS handshake still
  // comes with the first request. Returns an empty string, or why no connection could be opened (the message a
  // request's record would carry: refused, timed out, unknown host). Bounded by connect_timeout; never throws.
  std::string connect() noexcept {
    try {
      httplib::Error error = httplib::Error::Success;
      if (state_->connect->open(error)) return {};
      const auto [failure, detail] = transport_failure(error);
      return detail::connect_failure(options_, url_, failure, detail);
    } catch (const std::exception& e) {
      return std::string("unexpected: ") + e.what();
    }
  }

  // Thread-safe: aborts the request in flight so it ends with `reason`, and makes later sends return at once
  // with it, until clear_cancel().
  void cancel(ErrorKind reason = ErrorKind::interrupted) {
    if (reason == ErrorKind::none) reason = ErrorKind::interrupted;
    state_->cancel(reason);
  }
  void clear_cancel() { state_->cancel_reason = static_cast<int>(ErrorKind::none); }
  bool cancelled() const noexcept { return state_->cancelled() != ErrorKind::none; }

  const DriverOptions& options() const noexcept { return options_; }
  const Api& api() const noexcept { return api_; }
  // The label records carry: options().label(), or host:port when that is empty.
  const std::string& label() const noexcept { return label_; }

 private:
  void send_into(const Prompt& prompt, RequestRecord& record) {
    auto& state = *state_;
    if (const auto reason = state.cancelled(); reason != ErrorKind::none) {
      detail::fail(record, reason, "cancelled before sending");
      return;
    }
    const detail::PreparedRequest prepared = detail::prepare_request(api_, options_, url_, prompt);
    httplib::Request request;
    request.method = "POST";
    request.path = prepared.path;
    for (auto& [name, value] : detail::request_headers(options_, prepared.streaming))
      request.headers.emplace(std::move(name), std::move(value));
    request.body = prepared.body;

    detail::ReplyReader<Api> reader(api_, options_, url_, state, record);
    reader.expect(prepared, prompt);
    request.response_handler = [&reader](const httplib::Response& response) {
      reader.on_status(response.status, now_ns());
      return true;
    };
    request.content_receiver = [&reader](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      const Nanos arrived = now_ns();  // first: before any allocation or parsing
      return reader.on_bytes(arrived, data, n);
    };

    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    const Nanos deadline_ns = reader.deadline_ns();
    reader.sent(now_ns());  // just before the first byte: connect time counts, as a user waits for it too
    state.begin(deadline_ns > 0 ? record.t_send + deadline_ns : 0);
    const bool completed = state.client->send(request, response, error);
    const Nanos returned = now_ns();
    state.end();
    record.t_connect = state.connect->take_connected();
    if (completed) {
      reader.finish(detail::TransportFailure::none, returned);
    } else {
      const auto [failure, message] = transport_failure(error);
      reader.finish(failure, returned, message);
    }
  }

  // What cpp-httplib's error means in the terms every transport shares, with the message for tls and other.
  std::pair<detail::TransportFailure, std::string> transport_failure(httplib::Error error) const {
    using detail::TransportFailure;
    switch (error) {
      case httplib::Error::Success: return {TransportFailure::none, {}};
      case httplib::Error::Connection: return {TransportFailure::connect, {}};
      case httplib::Error::ConnectionTimeout: return {TransportFailure::connect_timeout, {}};
      case httplib::Error::SSLConnection:
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification:
        return {TransportFailure::tls, detail::tls_failure(url_, error, options_.tls())};
      case httplib::Error::Write: return {TransportFailure::write, {}};
      // cpp-httplib 0.11.4 reports a timeout and a closed connection both as Read (the reader tells them apart).
      case httplib::Error::Read: return {TransportFailure::read, {}};
      default: return {TransportFailure::other, "cpp-httplib error " + std::to_string(static_cast<int>(error))};
    }
  }

  DriverOptions options_;
  Api api_;
  detail::BaseUrl url_;
  std::string label_;
  std::unique_ptr<deferred<detail::WatchedRequest, Api>> state_;  // deferred: see serialize.hpp
};

}  // namespace servebench
// ---- end servebench/driver.hpp ----
// ---- begin servebench/modelled_time.hpp ----
// servebench — modelled time: a level measured against a simulated server that runs `time_scale` times faster than
// the GPU it models, restated in the time of that GPU. It is done once, where a program knows the target is such a
// server (to_modelled_time), and the level says so (LevelResult::time_scale): every summary, table, chart and
// artifact read from it is then in modelled time, and nothing downstream multiplies again. Levels against real
// servers are never touched. The measured wall-clock durations are the modelled ones divided by time_scale.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>


namespace servebench {

namespace detail {
inline Nanos stretch(Nanos t, Nanos origin, double factor) {
  if (t == 0) return 0;  // "never" stays never
  return origin + static_cast<Nanos>(std::llround(static_cast<double>(t - origin) * factor));
}
}  // namespace detail

// `measured` in modelled time: every timestamp of every record stretched by `time_scale` about `origin` (0: the
// level's first scheduled or sent request; a program converting several levels passes one origin for all, so that
// their order in time stays as it was), and the summary computed again from those records with the level's own
// percentile method and SLOs (so durations are multiplied by time_scale and rates divided by it, SLOs judged in GPU
// time). Throws std::invalid_argument for a scale not > 0, or a level already in modelled time.
template <class Level = LevelResult>  // deferred: see serialize.hpp
Level to_modelled_time(Level measured, double time_scale, Nanos origin = 0) {
  if (!(time_scale > 0) || !std::isfinite(time_scale))
    throw std::invalid_argument("to_modelled_time: time_scale must be a finite number > 0");
  if (measured.time_scale)
    throw std::invalid_argument("to_modelled_time: the level is already in modelled time (time_scale set)");
  if (origin == 0)
    for (const auto& r : measured.records)
      for (Nanos t : {r.t_sched, r.t_send})
        if (t != 0) origin = origin == 0 ? t : std::min(origin, t);
  const auto s = [&](Nanos t) { return detail::stretch(t, origin, time_scale); };
  for (auto& r : measured.records) {
    r.t_sched = s(r.t_sched);
    r.t_send = s(r.t_send);
    r.t_first_token = s(r.t_first_token);
    r.t_end = s(r.t_end);
    if (r.t_first_answer_token) r.t_first_answer_token = s(*r.t_first_answer_token);
    if (r.t_connect) r.t_connect = s(*r.t_connect);
    for (auto& t : r.event_times) t = s(t);
    if (r.server_timing) {
      r.server_timing->first_token = s(r.server_timing->first_token);
      r.server_timing->last_token = s(r.server_timing->last_token);
      if (r.server_timing->first_answer_token)
        r.server_timing->first_answer_token = s(*r.server_timing->first_answer_token);
    }
  }
  if (measured.server_metrics) {  // scraped on the same steady clock: the same stretch keeps it beside the records
    measured.server_metrics->interval_s *= time_scale;
    for (auto& series : measured.server_metrics->series)
      for (auto& t : series.t) t = s(t);
  }
  const LevelSummary before = measured.summary;
  SummarizeOptions options;
  options.method = measured.config.percentile_method;
  options.slo = measured.config.slo;
  measured.summary = summarize(measured.records, options);
  measured.summary.level = before.level;
  measured.summary.target = before.target;
  measured.time_scale = time_scale;
  return measured;
}

// The time scale of the levels in modelled time, when they share one; nullopt when none is.
// Throws std::invalid_argument when they were measured at different scales (one table cannot say both).
template <class Levels = std::vector<LevelResult>>
std::optional<double> modelled_time_scale(const Levels& levels) {
  std::optional<double> scale;
  for (const auto& l : levels) {
    if (!l.time_scale) continue;
    if (scale && *scale != *l.time_scale)
      throw std::invalid_argument("levels in modelled time measured at different time scales");
    scale = l.time_scale;
  }
  return scale;
}

// The one line that says so, for the head of a table or report: "times are modelled GPU time (simulated servers
// ran 20x faster than real time)". Empty when no level is in modelled time.
template <class Levels = std::vector<LevelResult>>
std::string modelled_time_note(const Levels& levels) {
  const auto scale = modelled_time_scale(levels);
  if (!scale) return {};
  char factor[32];
  std::snprintf(factor, sizeof factor, "%g", *scale);
  const bool all = std::all_of(levels.begin(), levels.end(), [](const auto& l) { return l.time_scale.has_value(); });
  return std::string("times are modelled GPU time") + (all ? "" : " for the simulated servers") +
         " (simulated servers ran " + factor + "x faster than real time)";
}

}  // namespace servebench
// ---- end servebench/modelled_time.hpp ----
// ---- begin servebench/ready.hpp ----
// servebench — before and after a run: wait_until_ready() (which replaces a fixed `sleep 60` before a run) and
// describe_failure(), one line for a person on why a request failed and what to try.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include <httplib.h>

// ---- begin servebench/scheduler/interrupt.hpp ----
// servebench — Ctrl-C and SIGTERM: the first stops sending and lets requests in flight finish within a grace period,
// a second exits at once (130). Handlers are installed for the outermost active run only and restored after.

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>

#if !defined(_WIN32)
#include <signal.h>
#endif

namespace servebench {

namespace detail {

// Signal handlers may touch only lock-free atomics; everything else polls these.
inline std::atomic<int> interrupt_signals{0};
inline std::atomic<int> interrupt_signal_number{0};
inline std::atomic<bool> interrupt_requested_by_call{false};

inline void on_interrupt_signal(int signal_number) {
  if (interrupt_signals.fetch_add(1) >= 1) std::_Exit(128 + signal_number);  // a second Ctrl-C: leave now (130)
  interrupt_signal_number.store(signal_number);
}

// Installs the handlers for the outermost active run only (a sweep's levels share the sweep's) and restores what was
// there before when that run ends. Also clears the interrupt state at the start of the outermost run.
class InterruptScope {
 public:
  explicit InterruptScope(bool install) {
    std::lock_guard<std::mutex> lock(mutex());
    if (depth()++ > 0) return;
    interrupt_signals.store(0);
    interrupt_signal_number.store(0);
    interrupt_requested_by_call.store(false);
    if (!install) return;
    installed_ = true;
#if defined(_WIN32)
    previous_int_ = std::signal(SIGINT, &on_interrupt_signal);
    previous_term_ = std::signal(SIGTERM, &on_interrupt_signal);
#else
    struct sigaction action {};
    action.sa_handler = &on_interrupt_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // other threads' blocking reads carry on; the scheduler polls the flag
    ::sigaction(SIGINT, &action, &previous_int_);
    ::sigaction(SIGTERM, &action, &previous_term_);
#endif
  }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  ~InterruptScope() {
    std::lock_guard<std::mutex> lock(mutex());
    --depth();
    if (!installed_) return;
#if defined(_WIN32)
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
#else
    ::sigaction(SIGINT, &previous_int_, nullptr);
    ::sigaction(SIGTERM, &previous_term_, nullptr);
#endif
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static int& depth() {
    static int d = 0;
    return d;
  }
  bool installed_ = false;
#if defined(_WIN32)
  void (*previous_int_)(int) = nullptr;
  void (*previous_term_)(int) = nullptr;
#else
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
#endif
};

}  // namespace detail

// True once the active run has been asked to stop (a signal or request_interrupt()).
inline bool interrupt_requested() noexcept {
  return detail::interrupt_signals.load() > 0 || detail::interrupt_requested_by_call.load();
}

// Stops the active run as a first Ctrl-C would (for programs that handle signals themselves, or a GUI's button).
inline void request_interrupt() noexcept { detail::interrupt_requested_by_call.store(true); }

}  // namespace servebench
// ---- end servebench/scheduler/interrupt.hpp ----

namespace servebench {

// One line for a person: why a request failed and what to try. For programs that send a request and stop.
template <class Record = RequestRecord>  // deferred: see serialize.hpp
std::string describe_failure(const Record& r, const std::string& base_url) {
  std::string line = std::string(to_string(r.error_kind)) + ": " + r.error_message;
  switch (r.error_kind) {
    case ErrorKind::connect_refused:
    case ErrorKind::connect_timeout:
      return line + " (is the server running at " + base_url + "? start it, or check the URL)";
    case ErrorKind::name_resolution: return line + " (check the host name in " + base_url + ")";
    case ErrorKind::tls: return line;  // tls_failure already names the fix
    case ErrorKind::http_status: {
      std::string body = r.body_start.substr(0, 200);
      for (char& c : body)
        if (c == '\n' || c == '\r') c = ' ';
      return line + (body.empty() ? "" : ": " + body) + " (check the API dialect, the model name and the URL's path)";
    }
    default: return line;
  }
}

// The outcome of wait_until_ready: ready or not, which probe answered, or why it never did.
struct ReadyResult {
  bool ready = false;
  std::string probe;        // "/health", "/v1/models", "/v1/completions", or "HTTP (...)" when every probe was unrouted
  std::string reason;       // the last reason it was not ready
  bool tls_failed = false;  // the TLS handshake failed: returned at once, since waiting cannot fix it
  bool interrupted = false;  // Ctrl-C, SIGTERM or request_interrupt() ended the wait (programs exit 130)
  double waited_s = 0;
  explicit operator bool() const noexcept { return ready; }
};

// What bounds one readiness probe, so that no server can hold or flood the wait.
struct ReadyOptions {
  // A probe reads at most this much of a reply's body and then drops the connection: the status line is what
  // decides, so an endless /health body costs at most this much memory.
  std::size_t max_body_bytes = std::size_t{64} << 10;
  // The longest one probe may take, whole (a server dripping a byte a second never trips a read timeout); never
  // past the wait's own deadline.
  std::chrono::milliseconds probe_timeout = std::chrono::seconds(10);
  // Ctrl-C / SIGTERM end the wait at once (interrupted) instead of killing the program; off: the program's own
  // handlers stay, and request_interrupt() still ends the wait.
  bool handle_signals = true;
};

namespace detail {
template <class = void>  // deferred: see serialize.hpp
std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "connection refused or host unknown";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "connection closed or read timed out";
    case httplib::Error::Write: return "write failed";
    default: return "cpp-httplib error " + std::to_string(static_cast<int>(error));
  }
}

// What one probe's answer says about the server.
enum class ProbeAnswer {
  up,          // the process answers HTTP: ready
  starting,    // 502 / 503 / 504: a proxy or a server still loading its model
  next_probe,  // 404 / 405 / 501: this server has no such route; ask the next probe
};

inline ProbeAnswer classify_probe(int status) noexcept {
  if (status == 502 || status == 503 || status == 504) return ProbeAnswer::starting;
  if (status == 404 || status == 405 || status == 501) return ProbeAnswer::next_probe;
  return ProbeAnswer::up;  // 200, but also 400, 401, 422, 500: a live process answered
}

// Stops the client's probe in flight from outside when the probe's time is up or the wait is interrupted, polling
// every 10 ms (a stop() that lands before the probe has its socket does nothing, so it repeats).
template <class Client = httplib::Client>  // deferred: see serialize.hpp
class ProbeWatch {
 public:
  explicit ProbeWatch(Client& client) : client_(client), thread_([this] { watch(); }) {}
  ProbeWatch(const ProbeWatch&) = delete;
  ProbeWatch& operator=(const ProbeWatch&) = delete;
  ~ProbeWatch() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void begin(std::chrono::steady_clock::time_point until) {
    std::lock_guard<std::mutex> lock(mutex_);
    until_ = until;
    in_probe_ = true;
    timed_out_ = false;
  }
  // True when the watch stopped the probe for its time.
  bool end() {
    std::lock_guard<std::mutex> lock(mutex_);
    in_probe_ = false;
    return timed_out_;
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      if (in_probe_) {
        const bool late = std::chrono::steady_clock::now() >= until_;
        if (late || interrupt_requested()) {
          timed_out_ = timed_out_ || late;
          client_.stop();
        }
      }
      wake_.wait_for(lock, std::chrono::milliseconds(10));
    }
  }
  Client& client_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false, in_probe_ = false, timed_out_ = false;
  std::chrono::steady_clock::time_point until_;
  std::thread thread_;
};

// One probe: the status line (0: none), or why there was none. The body is counted, never kept.
struct ProbeReply {
  int status = 0;
  std::string why;
  bool tls_error = false;
  httplib::Error error = httplib::Error::Success;
};

template <class Client = httplib::Client>
ProbeReply probe_once(Client& client, ProbeWatch<Client>& watch, const std::string& path, bool post,
                      std::chrono::steady_clock::time_point until, const ReadyOptions& options) {
  ProbeReply reply;
  httplib::Request request;
  request.method = post ? "POST" : "GET";
  request.path = path;
  if (post) {
    request.body = R"({"prompt":"Hello","max_tokens":1})";
    request.headers.emplace("Content-Type", "application/json");
  }
  std::size_t bytes = 0;
  bool too_large = false;
  request.response_handler = [&reply](const httplib::Response& r) {
    reply.status = r.status;
    return true;
  };
  request.content_receiver = [&](const char*, std::size_t n, std::uint64_t, std::uint64_t) {
    bytes += n;
    too_large = bytes > options.max_body_bytes;
    return !too_large;
  };
  httplib::Response response;
  watch.begin(until);
  const bool completed = client.send(request, response, reply.error);
  const bool timed_out = watch.end();
  if (completed || reply.status > 0) return reply;  // the status line decides; a body cut short does not matter
  reply.tls_error = reply.error == httplib::Error::SSLConnection || reply.error == httplib::Error::SSLLoadingCerts ||
                    reply.error == httplib::Error::SSLServerVerification;
  reply.why = timed_out ? std::string(path) + " sent no status line within its probe timeout" : describe(reply.error);
  return reply;
}
}  // namespace detail

// Polls the server at base_url until it answers, or until `deadline` has passed. Probes in order: GET /health
// (vLLM, TGI), GET /v1/models (OpenAI-compatible servers), a 1-token POST /v1/completions (the lab's Flask server
// has only that). Any HTTP answer but 502/503/504 means the process is up (a 500 or 401 comes from a live server);
// 502/503/504 mean "starting" and are waited on; 404/405/501 (no such route: Python's http.server answers a GET it
// does not implement with 501) move on to the next probe, and a server that answers every probe so is up too. Backs
// off from 100 ms to 2 s between rounds and says what it is waiting for on `log` (nullptr: silent) when the first
// round fails and every 10 s after. A failed TLS handshake returns at once (tls_failed), naming the fix. Each probe
// is bounded by `options` (its body size and its whole time), and Ctrl-C ends the wait within ~10 ms (interrupted;
// a connect in progress, at most 2 s, is not cut short). Never throws: an unusable URL is a reason, returned.
template <class Url = std::string>
ReadyResult wait_until_ready(const Url& base_url, std::chrono::milliseconds deadline, std::ostream* log = &std::cerr,
                             const TlsOptions& tls = {}, const ReadyOptions& options = {}) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  ReadyResult result;
  detail::BaseUrl url;
  std::unique_ptr<deferred<httplib::Client, Url>> client;  // deferred: see serialize.hpp
  try {
    url = detail::parse_base_url(base_url);
    client = detail::make_client(url, tls);
  } catch (const std::exception& e) {
    result.reason = e.what();
    return result;
  }
  detail::InterruptScope interrupt_scope(options.handle_signals);
  detail::ProbeWatch watch(*client);
  const auto interrupted = [&] {
    if (!interrupt_requested()) return false;
    result.interrupted = true;
    result.reason = "interrupted";
    result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
    if (log) *log << "servebench: stopped waiting for " << base_url << ": interrupted\n";
    return true;
  };
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::chrono::seconds(2));
  auto backoff = std::chrono::milliseconds(100);
  auto next_log = start;
  bool logged = false;
  for (;;) {
    const auto left = deadline - std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
    // A probe never outlives the deadline by much: reads are bounded by what is left (at least 1 s).
    client->set_read_timeout(std::max<std::chrono::milliseconds>(left, std::chrono::seconds(1)));
    const auto probe_until = clock::now() +
                             std::min(options.probe_timeout,
                                      std::max<std::chrono::milliseconds>(left, std::chrono::seconds(1)));
    std::string why;
    std::string unrouted;  // the probes that answered "no such route"
    const char* const probes[] = {"/health", "/v1/models", "/v1/completions"};
    for (const char* probe : probes) {
      const bool post = std::string(probe) == "/v1/completions";
      const auto answer = detail::probe_once(*client, watch, url.prefix + probe, post, probe_until, options);
      if (interrupted()) return result;
      if (answer.status == 0) {
        if (answer.tls_error) {
          // Waiting will not make a certificate trusted: say so now.
          result.reason = detail::tls_failure(url, answer.error, tls);
          result.tls_failed = true;
          result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
          if (log) *log << "servebench: " << base_url << ": " << result.reason << "\n";
          return result;
        }
        why = answer.why;
        break;
      }
      const auto kind = detail::classify_probe(answer.status);
      if (kind == detail::ProbeAnswer::up) {
        result.probe = probe;
        break;
      }
      if (kind == detail::ProbeAnswer::starting) {
        why = std::string(probe) + " answered " + std::to_string(answer.status) + " (starting)";
        break;
      }
      unrouted += (unrouted.empty() ? "" : ", ") + std::string(probe) + " " + std::to_string(answer.status);
    }
    if (result.probe.empty() && why.empty()) result.probe = "HTTP (" + unrouted + ")";
    result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
    if (!result.probe.empty()) {
      result.ready = true;
      if (log && logged)
        *log << "servebench: " << base_url << " is ready after " << result.waited_s << " s (" << result.probe << ")\n";
      return result;
    }
    result.reason = why;
    const auto now = clock::now();
    if (now - start >= deadline) {
      if (log)
        *log << "servebench: gave up waiting for " << base_url << " after " << result.waited_s << " s: " << why << "\n";
      return result;
    }
    if (log && now >= next_log) {
      *log << "servebench: waiting for " << base_url << " (" << why << "); " << static_cast<long>(result.waited_s)
           << " s of " << deadline.count() / 1000 << " s\n";
      logged = true;
      next_log = now + std::chrono::seconds(10);
    }
    const auto resume = now + std::min<clock::duration>(backoff, deadline - (now - start));
    while (clock::now() < resume && !interrupt_requested())
      std::this_thread::sleep_for(std::min<clock::duration>(std::chrono::milliseconds(10), resume - clock::now()));
    if (interrupted()) return result;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace servebench
// ---- end servebench/ready.hpp ----
// ---- begin servebench/record_stream.hpp ----
// servebench — records that stream away as they complete, for runs too long to keep every record (ten million short
// requests): a running summary whose memory does not grow with the run (counts, sums, min, max, mean and spread
// exact; percentiles from LogHistogram within its relative accuracy), and a JSONL file of every record, written as
// they end and read back with read_records_jsonl. The schedulers use both through RunOptions::keep_records(false)
// and RunOptions::stream_records_to(path).

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>


namespace servebench {

// Mean and sample standard deviation kept exactly as values arrive (Welford's update), in constant memory.
struct RunningMoments {
  std::uint64_t count = 0;
  double mean = 0, m2 = 0;

  void add(double value) noexcept {
    ++count;
    const double delta = value - mean;
    mean += delta / static_cast<double>(count);
    m2 += delta * (value - mean);
  }
  double stddev() const noexcept { return count > 1 ? std::sqrt(m2 / static_cast<double>(count - 1)) : 0.0; }
};

// The relative accuracy of the percentiles of a RunningSummary.
inline constexpr double running_summary_accuracy = 0.01;

// A level's LevelSummary built one record at a time. Everything but the percentiles and peak_in_flight equals
// summarize() on the same records; each percentile is within running_summary_accuracy of the sample at rank
// floor(p / 100 * (n - 1)) (summarize's linear value lies between that sample and the next). peak_in_flight cannot
// be known from completions alone: whoever ran the requests sets it (the schedulers count requests in flight).
class RunningSummary {
 public:
  explicit RunningSummary(SummarizeOptions options = {}) : options_(std::move(options)) {}

  template <class Record = RequestRecord>  // deferred: see serialize.hpp
  void add(const Record& r) {
    if (r.warmup) return;
    if (s_.target.empty()) s_.target = r.target;
    ++s_.sent;
    if (r.t_connect) ++s_.connects;
    if (r.t_send > 0) {
      const Nanos end = std::max(r.t_end, r.t_send);
      first_send_ = any_sent_ ? std::min(first_send_, r.t_send) : r.t_send;
      last_end_ = any_sent_ ? std::max(last_end_, end) : end;
      any_sent_ = true;
      busy_ += end - r.t_send;
    }
    if (r.interrupted()) {
      ++s_.interrupted;
      return;
    }
    if (!r.ok()) {
      ++s_.failed;
      ++s_.failed_by_kind[to_string(r.error_kind)];
      return;
    }
    ++s_.successful;
    s_.total_output_tokens += r.n_out;
    latency_.add(r.latency_s());
    latency_from_sched_.add(r.latency_from_sched_s());
    client_queue_.add(r.client_queue_s());
    if (r.streamed) {
      ttft_.add(r.ttft_s());
      if (auto t = r.ttfa_s()) ttfa_.add(*t);
      if (auto t = r.tpot_s()) tpot_.add(*t);
      for (std::size_t i = 1; i < r.event_times.size(); ++i) itl_.add(ns_to_s(r.event_times[i] - r.event_times[i - 1]));
    }
    if (options_.slo.met_by(r)) ++good_;
  }

  // The summary so far; peak_in_flight as given.
  template <class = void>  // deferred: see serialize.hpp
  LevelSummary summary(std::size_t peak_in_flight = 0) const {
    LevelSummary s = s_;
    s.peak_in_flight = peak_in_flight;
    s.wall_s = any_sent_ ? ns_to_s(last_end_ - first_send_) : 0.0;
    if (s.wall_s > 0) {
      s.mean_in_flight = ns_to_s(busy_) / s.wall_s;
      s.throughput_req_per_sec = static_cast<double>(s.successful) / s.wall_s;
      s.output_tokens_per_sec = static_cast<double>(s.total_output_tokens) / s.wall_s;
      if (options_.slo.any()) s.goodput_req_per_sec = static_cast<double>(good_) / s.wall_s;
    } else if (options_.slo.any()) {
      s.goodput_req_per_sec = 0.0;
    }
    s.latency = latency_.summary(options_.method);
    s.latency_from_sched = latency_from_sched_.summary(options_.method);
    s.client_queue = client_queue_.summary(options_.method);
    s.ttft = ttft_.summary(options_.method);
    s.ttfa = ttfa_.summary(options_.method);
    s.tpot = tpot_.summary(options_.method);
    s.itl = itl_.summary(options_.method);
    return s;
  }

 private:
  struct Metric {
    LogHistogram histogram{running_summary_accuracy};
    RunningMoments moments;
    void add(double value) {
      histogram.add(value);
      moments.add(value);
    }
    template <class = void>  // deferred: see serialize.hpp
    std::optional<Summary> summary(PercentileMethod method) const {
      if (histogram.count() == 0) return std::nullopt;
      Summary s = summarize_histogram(histogram, moments.stddev(), method);
      s.mean = moments.mean;  // Welford's mean: exact where the histogram's sum / count can round
      return s;
    }
  };

  SummarizeOptions options_;
  LevelSummary s_;
  Nanos first_send_ = 0, last_end_ = 0, busy_ = 0;
  bool any_sent_ = false;
  std::size_t good_ = 0;
  Metric latency_, latency_from_sched_, client_queue_, ttft_, tpot_, itl_, ttfa_;
};

// Writes records to a JSONL file (one JSON object a line, RequestRecord's fields) as they come. The lines go to
// PATH.partial and the file is renamed to PATH by close(), so PATH exists only complete; a run that dies leaves
// PATH.partial with every record written until then.
class JsonlRecordWriter {
 public:
  explicit JsonlRecordWriter(std::string path) : path_(std::move(path)) {
    if (path_.empty()) throw std::invalid_argument("servebench: stream_records_to needs a file path");
    detail::make_parent_directories(path_);
    out_.open(partial_path(), std::ios::binary | std::ios::trunc);
    if (!out_)
      throw std::runtime_error("servebench: cannot write the records file " + partial_path() + ": " +
                               detail::errno_text(errno) + "; is the directory writable?");
  }
  JsonlRecordWriter(const JsonlRecordWriter&) = delete;
  JsonlRecordWriter& operator=(const JsonlRecordWriter&) = delete;

  template <class Record = RequestRecord>  // deferred: see serialize.hpp
  void write(const Record& record) {
    out_ << nlohmann::json(record).dump() << '\n';
    ++written_;
  }
  // Flushes, checks, and moves PATH.partial to PATH. Throws when a write failed (disk full).
  void close() {
    if (closed_) return;
    closed_ = true;
    out_.flush();
    const bool good = out_.good();
    out_.close();
    if (!good)
      throw std::runtime_error("servebench: writing the records file " + partial_path() +
                               " failed (disk full?); the records written so far are in it");
    if (std::rename(partial_path().c_str(), path_.c_str()) != 0)
      throw std::runtime_error("servebench: cannot rename " + partial_path() + " to " + path_ + ": " +
                               detail::errno_text(errno));
  }
  std::uint64_t written() const noexcept { return written_; }
  const std::string& path() const noexcept { return path_; }
  std::string partial_path() const { return path_ + ".partial"; }

 private:
  std::string path_;
  std::ofstream out_;
  std::uint64_t written_ = 0;
  bool closed_ = false;
};

// Every record of a JSONL records file (JsonlRecordWriter, RunOptions::stream_records_to), in file order. A line
// that is not a record is an error naming the file and the line.
template <class Record = RequestRecord>  // deferred: see serialize.hpp
std::vector<Record> read_records_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("servebench: cannot read the records file " + path + ": " + detail::errno_text(errno));
  std::vector<Record> records;
  std::size_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    try {
      records.push_back(nlohmann::json::parse(line).get<Record>());
    } catch (const std::exception& e) {
      throw std::runtime_error("servebench: " + path + " line " + std::to_string(line_number) +
                               " is not a record: " + e.what());
    }
  }
  return records;
}

}  // namespace servebench
// ---- end servebench/record_stream.hpp ----
// ---- begin servebench/report.hpp ----
// servebench — reading results: a text or markdown table over any number of targets and levels, with a column that
// relates each target to a baseline (nanobench's relative(): "6.6x" is that target's throughput over the
// baseline's at the same level; with repetitions "1.80x [1.50, 2.10] *", its 95% interval and whether that
// excludes 1); the failures and warnings under it; and the charts of the same results, grouped by
// target label. Nothing here measures; everything reads LevelResults as the schedulers return them.
//
//   servebench::print_comparison(std::cout, sweep.levels, {"hf"});      // baseline "hf"
//   servebench::chart::write_svg("throughput.svg", render_grouped_bars(servebench::throughput_chart(levels)));

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>


namespace servebench {

// A plain text table: a header row, aligned columns (numbers right, text left), a rule under the header. The
// class is a template so that its body is built only where a table is (see "Deferred" in serialize.hpp): callers
// name it Table and never name its parameter.
template <class = void>
class BasicTable {
 public:
  explicit BasicTable(std::vector<std::string> header) : header_(std::move(header)) {}

  BasicTable& row(std::vector<std::string> cells) {
    cells.resize(header_.size());
    rows_.push_back(std::move(cells));
    return *this;
  }
  // A rule between groups of rows (e.g. one concurrency level and the next).
  BasicTable& separator() {
    rows_.emplace_back();
    return *this;
  }

  // Markdown (GitHub's pipe tables): numbers right-aligned, group rules left out.
  void print_markdown(std::ostream& out) const {
    const auto numeric = numeric_columns();
    auto line = [&](const std::vector<std::string>& cells) {
      out << "|";
      for (const auto& c : cells) {
        std::string cell = c;
        for (std::size_t pos = cell.find('|'); pos != std::string::npos; pos = cell.find('|', pos + 2))
          cell.replace(pos, 1, "\\|");
        out << " " << cell << " |";
      }
      out << "\n";
    };
    line(header_);
    out << "|";
    for (std::size_t c = 0; c < header_.size(); ++c) out << (numeric[c] ? " ---: |" : " --- |");
    out << "\n";
    for (const auto& r : rows_)
      if (!r.empty()) line(r);
  }

  void print(std::ostream& out) const {
    std::vector<std::size_t> width(header_.size(), 0);
    const auto numeric = numeric_columns();
    for (std::size_t c = 0; c < header_.size(); ++c) width[c] = display_width(header_[c]);
    for (const auto& r : rows_)
      for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], display_width(r[c]));
    auto line = [&](const std::vector<std::string>& cells) {
      std::string text;
      for (std::size_t c = 0; c < cells.size(); ++c) {
        const std::string pad(width[c] - display_width(cells[c]), ' ');
        text += (c ? "  " : "") + (numeric[c] ? pad + cells[c] : cells[c] + pad);
      }
      while (!text.empty() && text.back() == ' ') text.pop_back();
      out << text << "\n";
    };
    std::size_t total = 0;
    for (std::size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
    line(header_);
    out << std::string(total, '-') << "\n";
    for (const auto& r : rows_) {
      if (r.empty())
        out << std::string(total, '-') << "\n";
      else
        line(r);
    }
  }

 private:
  std::vector<bool> numeric_columns() const {
    std::vector<bool> numeric(header_.size(), true);
    for (const auto& r : rows_)
      for (std::size_t c = 0; c < r.size(); ++c)
        if (!r[c].empty() && !looks_numeric(r[c])) numeric[c] = false;
    return numeric;
  }
  // Code points, so "±" or "≈" do not push a column out of line.
  static std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  // "12", "0.31", "6.6x", "-", "n/a": aligned right like numbers.
  static bool looks_numeric(const std::string& s) {
    if (s == "-" || s == "n/a") return true;
    const std::size_t n = (s.back() == 'x' || s.back() == '%') ? s.size() - 1 : s.size();
    if (n == 0) return false;
    for (std::size_t i = 0; i < n; ++i)
      if (!(std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == '-' || s[i] == '+')) return false;
    return true;
  }

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};
using Table = BasicTable<>;

struct ReportOptions {
  std::string baseline;                       // the target others are related to; empty: the first target
  std::map<std::string, std::string> colors;  // per target label; others take the palette in order
  std::string subtitle;                       // charts' second line (model, hardware, time scale, ...)
};

namespace detail {

inline std::string fixed(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

inline std::string level_text(double level) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", level);
  return text;
}

template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::string baseline_of(const Levels& levels, const ReportOptions& options) {
  if (!options.baseline.empty()) return options.baseline;
  const auto labels = target_labels(levels);
  return labels.empty() ? std::string{} : labels.front();
}

// The distinct levels in ascending order (a sweep's levels, whatever order they ran in).
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<double> level_values(const Levels& levels) {
  std::vector<double> out;
  for (const auto& l : levels)
    if (std::find(out.begin(), out.end(), l.summary.level) == out.end()) out.push_back(l.summary.level);
  std::sort(out.begin(), out.end());
  return out;
}

template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
const LevelResult* find_level(const Levels& levels, const std::string& label, double level) {
  for (const auto& l : levels)
    if (l.target.label == label && l.summary.level == level) return &l;
  return nullptr;
}

// What the x axis and the table call the level: "concurrency" for closed loops, "rate (req/s)" for open ones.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::string level_name(const Levels& levels, bool for_axis) {
  bool closed = false, open = false;
  for (const auto& l : levels) (l.config.mode == LoopMode::open_loop ? open : closed) = true;
  if (closed && !open) return for_axis ? "concurrent requests" : "concurrency";
  if (open && !closed) return for_axis ? "requests per second (offered)" : "rate";
  return "level";
}

template <class = void>  // deferred: see serialize.hpp
std::string color_of(const ReportOptions& options, const std::vector<std::string>& labels, const std::string& label) {
  if (const auto it = options.colors.find(label); it != options.colors.end()) return it->second;
  const auto& palette = chart::detail::palette();
  const auto at = std::find(labels.begin(), labels.end(), label) - labels.begin();
  return palette[static_cast<std::size_t>(at) % palette.size()];
}

// Labels with the baseline first, then the others in order of appearance.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::vector<std::string> ordered_labels(const Levels& levels, const std::string& baseline) {
  auto labels = target_labels(levels);
  const auto it = std::find(labels.begin(), labels.end(), baseline);
  if (it != labels.end()) std::rotate(labels.begin(), it, it + 1);
  return labels;
}

}  // namespace detail

// `level`'s throughput over the baseline's at the same level; empty when the baseline did not run that level or
// served nothing.
template <class Levels = std::vector<LevelResult>>  // deferred: see serialize.hpp
std::optional<double> relative_throughput(const Levels& levels, const LevelResult& level, const std::string& baseline) {
  const auto* base = detail::find_level(levels, baseline, level.summary.level);
  if (!base || base->summary.throughput_req_per_sec <= 0) return std::nullopt;
  return level.summary.throughput_req_per_sec / base->summary.throughput_req_per_sec;
}

// `level`'s throughput over the baseline's at the same level over their repetitions, with its interval: paired by
// repetition index when both ran the same repetitions (an interleaved sweep), else unpaired (see RatioInterval).
// Empty when the baseline did not run that level or served nothing.
template <class Levels = std::vector<LevelResult>>
std::optional<deferred<RatioInterval, Levels>> relative_throughput_interval(const Levels& levels,
                                                                            const LevelResult& level,
                                                                            const std::string& baseline,
                                                                            double confidence = 0.95) {
  std::vector<double> a, b;
  std::vector<std::size_t> index_a, index_b;
  for (const auto* r : repetitions_of(levels, level.target.label, level.summary.level))
    a.push_back(r->summary.throughput_req_per_sec), index_a.push_back(r->repetition);
  for (const auto* r : repetitions_of(levels, baseline, level.summary.level))
    b.push_back(r->summary.throughput_req_per_sec), index_b.push_back(r->repetition);
  return ratio_interval(a, b, index_a == index_b, confidence);
}

namespace detail {

// The figures of one (level, target) over its repetitions, as one summary: counts are totals, the peak in flight
// the highest, every other figure the mean over the repetitions.
template <class Runs>  // deferred: see serialize.hpp
LevelSummary mean_over_repetitions(const Runs& runs) {
  LevelSummary s = runs.front()->summary;
  if (runs.size() == 1) return s;
  const double k = static_cast<double>(runs.size());
  auto mean_of = [&](auto get) {
    double sum = 0;
    for (const auto* r : runs) sum += get(r->summary);
    return sum / k;
  };
  s.sent = s.successful = s.failed = s.interrupted = 0;
  s.failed_by_kind.clear();
  for (const auto* r : runs) {
    s.sent += r->summary.sent;
    s.successful += r->summary.successful;
    s.failed += r->summary.failed;
    s.interrupted += r->summary.interrupted;
    s.peak_in_flight = std::max(s.peak_in_flight, r->summary.peak_in_flight);
    for (const auto& [kind, count] : r->summary.failed_by_kind) s.failed_by_kind[kind] += count;
  }
  s.mean_in_flight = mean_of([](const LevelSummary& x) { return x.mean_in_flight; });
  s.throughput_req_per_sec = mean_of([](const LevelSummary& x) { return x.throughput_req_per_sec; });
  s.output_tokens_per_sec = mean_of([](const LevelSummary& x) { return x.output_tokens_per_sec; });
  for (auto member : {&LevelSummary::latency, &LevelSummary::ttft, &LevelSummary::tpot}) {
    std::vector<deferred<const Summary*, Runs>> have;
    for (const auto* r : runs)
      if (r->summary.*member) have.push_back(&*(r->summary.*member));
    if (have.empty()) continue;
    Summary m;
    for (const auto* h : have)
      for (auto f : {&Summary::mean, &Summary::p50, &Summary::p90, &Summary::p95, &Summary::p99})
        m.*f += h->*f / static_cast<double>(have.size());
    s.*member = m;
  }
  return s;
}

// The relative column's cell: "1.80x"; with repetitions "1.80x [1.50, 2.10] *" when the interval excludes 1 and
// "1.02x [0.95, 1.10] ~" when it includes 1.
template <class Ratio = RatioInterval>  // deferred: see serialize.hpp
std::string relative_cell(const std::optional<Ratio>& r, bool is_baseline) {
  if (!r) return "-";
  std::string cell = fixed(r->ratio, 2) + "x";
  if (is_baseline || !r->has_interval()) return cell;
  return cell + " [" + fixed(r->low, 2) + ", " + fixed(r->high, 2) + "] " + (r->excludes_one() ? "*" : "~");
}

}  // namespace detail

// One row per (level, target): requests that succeeded and failed, the failure rate, the load the server saw
// (requests in flight, mean/peak, beside the level asked for), throughput, latency, streaming times when any target
// streamed, and the throughput relative to the baseline. Levels ascend; a rule separates them. With repetitions a
// row stands for all of them (detail::mean_over_repetitions), req/s shows its interval's half width ("±0.31") and
// the relative column its ratio's interval (relative_throughput_interval).
template <class Levels = std::vector<LevelResult>>
Table comparison_table(const Levels& levels, const ReportOptions& options = {}) {
  const std::string baseline = detail::baseline_of(levels, options);
  bool streamed = false;
  bool per_token = false;  // a server counted every chunk's tokens (continuous usage stats)
  for (const auto& l : levels) streamed = streamed || l.summary.ttft.has_value();
  for (const auto& l : levels) per_token = per_token || l.summary.itl_per_token.has_value();
  std::vector<std::string> header = {detail::level_name(levels, false),
                                     "target",
                                     "ok",
                                     "failed",
                                     "fail %",
                                     "in flight",
                                     "req/s",
                                     "in tok/s",
                                     "out tok/s",
                                     "mean s",
                                     "p95 s"};
  if (streamed) header.insert(header.end(), {"TTFT p95 ms", "TPOT mean ms"});
  if (per_token) header.insert(header.end(), {"ITL/event p95 ms", "ITL/token p95 ms"});
  header.push_back("vs " + baseline);
  Table table(header);
  bool first = true;
  for (double value : detail::level_values(levels)) {
    if (!first) table.separator();
    first = false;
    for (const auto& label : detail::ordered_labels(levels, baseline)) {
      const auto runs = repetitions_of(levels, label, value);
      if (runs.empty()) continue;
      const auto* l = runs.front();
      const LevelSummary s = detail::mean_over_repetitions(runs);
      std::string req_per_sec = detail::fixed(s.throughput_req_per_sec, 2);
      if (runs.size() > 1) {
        const auto m = summarize_repetitions(runs).throughput_req_per_sec;
        if (m.has_interval()) req_per_sec += " ±" + detail::fixed(m.half_width, 2);
      }
      std::vector<std::string> row = {detail::level_text(value),
                                      label,
                                      std::to_string(s.successful),
                                      std::to_string(s.failed + s.interrupted),
                                      s.sent ? detail::fixed(100.0 * static_cast<double>(s.failed) / s.sent, 1) : "-",
                                      detail::fixed(s.mean_in_flight, 1) + "/" + std::to_string(s.peak_in_flight),
                                      req_per_sec,
                                      s.input_tokens_reported ? detail::fixed(s.input_tokens_per_sec, 1) : "-",
                                      detail::fixed(s.output_tokens_per_sec, 1),
                                      s.latency ? detail::fixed(s.latency->mean, 3) : "-",
                                      s.latency ? detail::fixed(s.latency->p95, 3) : "-"};
      if (streamed) {
        row.push_back(s.ttft ? detail::fixed(s.ttft->p95 * 1e3, 1) : "-");
        row.push_back(s.tpot ? detail::fixed(s.tpot->mean * 1e3, 2) : "-");
      }
      if (per_token) {
        row.push_back(s.itl ? detail::fixed(s.itl->p95 * 1e3, 2) : "-");
        row.push_back(s.itl_per_token ? detail::fixed(s.itl_per_token->p95 * 1e3, 2) : "-");
      }
      row.push_back(detail::relative_cell(relative_throughput_interval(levels, *l, baseline), label == baseline));
      table.row(std::move(row));
    }
  }
  return table;
}

// Lines for a person under a table: every level with failures (counted by kind, the first message quoted) and
// every warning a level raised.
template <class Levels = std::vector<LevelResult>>
std::vector<std::string> failure_lines(const Levels& levels) {
  std::vector<std::string> out;
  for (const auto& l : levels) {
    const auto& s = l.summary;
    if (s.failed == 0 && s.interrupted == 0) continue;
    std::string line = l.target.label + " at " + detail::level_name({l}, false) + " " + detail::level_text(s.level) +
                       ":";
    if (s.failed) line += " " + std::to_string(s.failed) + " failed";
    for (const auto& [kind, count] : s.failed_by_kind) line += ", " + std::to_string(count) + " " + kind;
    if (s.interrupted) line += std::string(s.failed ? ";" : "") + " " + std::to_string(s.interrupted) + " interrupted";
    for (const auto& r : l.records)
      if (!r.ok() && !r.interrupted()) {
        line += " (first: " + r.error_message + ")";
        break;
      }
    out.push_back(line);
  }
  for (const auto& l : levels)
    for (const auto& w : l.warnings) out.push_back("warning: " + w);
  return out;
}

// What a table of repeated levels means, for a line under it; empty without repetitions.
template <class Levels = std::vector<LevelResult>>
std::optional<std::string> repetition_note(const Levels& levels) {
  std::size_t most = 0;
  for (const auto& r : repeated_levels(levels)) most = std::max(most, r.repetitions);
  if (most < 2) return std::nullopt;
  return std::to_string(most) + " repetitions per row: counts are totals, other figures means over the " +
         "repetitions; ± and [low, high] are 95% confidence intervals (Student's t, repetitions - 1 degrees of " +
         "freedom); * the ratio's interval excludes 1, ~ it includes 1 (the difference may be noise)";
}

// The table, then the repetition note, the failure and warning lines, indented.
template <class Levels = std::vector<LevelResult>>
void print_comparison(std::ostream& out, const Levels& levels, const ReportOptions& options = {}) {
  const std::string note = modelled_time_note(levels);
  if (!note.empty()) out << note << "\n";
  comparison_table(levels, options).print(out);
  if (const auto note = repetition_note(levels)) out << "  " << *note << "\n";
  for (const auto& line : failure_lines(levels)) out << "  " << line << "\n";
}

// A markdown report of an artifact: what ran (version, time, host, command, targets), the table, failures and
// warnings.
template <class A = Artifact>
void print_markdown_report(std::ostream& out, const A& artifact, const ReportOptions& options = {}) {
  const auto& m = artifact.metadata;
  out << "# servebench report\n\n";
  out << "- servebench " << m.servebench_version << ", " << m.utc_time << ", host `" << m.hostname << "`\n";
  if (!m.command_line.empty()) {
    std::string command;
    for (const auto& a : m.command_line) command += (command.empty() ? "" : " ") + a;
    out << "- command: `" << command << "`\n";
  }
  for (const auto& t : artifact.targets())
    out << "- target `" << t.label << "`: " << (t.url.empty() ? "-" : t.url) << " (" << t.dialect
        << (t.model.empty() ? "" : ", model " + t.model) << ")\n";
  const std::string note = modelled_time_note(artifact.levels);
  if (!note.empty())
    out << "- " << note << "\n";
  else if (m.time_scale)  // an artifact of before modelled time: its times are the accelerated wall-clock ones
    out << "- simulated servers ran " << detail::level_text(*m.time_scale) << "x faster than real time (times are "
        << "wall-clock)\n";
  if (artifact.interrupted()) out << "- **interrupted**: the levels below are what completed\n";
  out << "\n";
  comparison_table(artifact.levels, options).print_markdown(out);
  if (const auto note = repetition_note(artifact.levels)) out << "\n" << *note << "\n";
  const auto lines = failure_lines(artifact.levels);
  if (!lines.empty()) out << "\n";
  for (const auto& line : lines) out << "- " << line << "\n";
}

namespace detail {

// Sets a chart's subtitle, x axis and categories from the levels; returns the level values in category order.
template <class Chart>
std::vector<double> level_axis(Chart& c, const std::vector<LevelResult>& levels, const ReportOptions& options) {
  c.subtitle = options.subtitle;
  c.x_label = level_name(levels, true);
  const auto values = level_values(levels);
  for (double v : values) c.categories.push_back(level_text(v));
  return values;
}

// `get(summary)` for each of `label`'s levels at `values` (0 where it did not run or had no sample); of repeated
// levels, the mean over their repetitions.
template <class Get>
std::vector<double> per_level(const std::vector<LevelResult>& levels, const std::string& label,
                              const std::vector<double>& values, Get get) {
  std::vector<double> out;
  for (double v : values) {
    const auto runs = repetitions_of(levels, label, v);
    out.push_back(runs.empty() ? 0.0 : get(mean_over_repetitions(runs)));
  }
  return out;
}

}  // namespace detail

// Throughput per level, one bar per target (the baseline first), each group labelled with the last target's
// ratio to the baseline.
template <class Levels = std::vector<LevelResult>>
chart::BarChart throughput_chart(const Levels& levels, const ReportOptions& options = {}) {
  const auto labels = detail::ordered_labels(levels, detail::baseline_of(levels, options));
  chart::BarChart c;
  c.title = "Throughput";
  for (std::size_t i = 0; i < labels.size(); ++i) c.title += (i ? " vs " : ": ") + labels[i];
  c.y_label = "throughput (requests/s)";
  const auto values = detail::level_axis(c, levels, options);
  for (const auto& label : labels)
    c.series.push_back(
        {label,
         detail::per_level(levels, label, values, [](const LevelSummary& s) { return s.throughput_req_per_sec; }),
         detail::color_of(options, target_labels(levels), label), false});
  return c;
}

// Mean (solid) and p95 (dashed) latency per level, one colour per target.
template <class Levels = std::vector<LevelResult>>
chart::LineChart latency_chart(const Levels& levels, const ReportOptions& options = {}) {
  chart::LineChart c;
  c.title = "Latency per request: mean and p95";
  c.y_label = "latency (s)";
  const auto values = detail::level_axis(c, levels, options);
  for (const auto& label : detail::ordered_labels(levels, detail::baseline_of(levels, options))) {
    const std::string color = detail::color_of(options, target_labels(levels), label);
    c.series.push_back({label + " mean",
                        detail::per_level(levels, label, values,
                                          [](const LevelSummary& s) { return s.latency ? s.latency->mean : 0.0; }),
                        color, false});
    c.series.push_back({label + " p95",
                        detail::per_level(levels, label, values,
                                          [](const LevelSummary& s) { return s.latency ? s.latency->p95 : 0.0; }),
                        color, true});
  }
  return c;
}

// Mean TTFT and TPOT (ms) per level for every target that streamed; empty when none did.
template <class Levels = std::vector<LevelResult>>
std::optional<deferred<chart::TtftTpotChart, Levels>> ttft_tpot_chart(const Levels& levels,
                                                                      const ReportOptions& options = {}) {
  Levels streamed;
  for (const auto& l : levels)
    if (l.summary.ttft) streamed.push_back(l);
  if (streamed.empty()) return std::nullopt;
  chart::TtftTpotChart c;
  c.title = "Streaming: time to first token and time per output token";
  const auto values = detail::level_axis(c, streamed, options);
  for (const auto& label : detail::ordered_labels(streamed, detail::baseline_of(levels, options))) {
    const std::string color = detail::color_of(options, target_labels(levels), label);
    c.ttft.push_back({label,
                      detail::per_level(streamed, label, values,
                                        [](const LevelSummary& s) { return s.ttft ? s.ttft->mean * 1e3 : 0.0; }),
                      color, false});
    c.tpot.push_back({label,
                      detail::per_level(streamed, label, values,
                                        [](const LevelSummary& s) { return s.tpot ? s.tpot->mean * 1e3 : 0.0; }),
                      color, false});
  }
  return c;
}

}  // namespace servebench
// ---- end servebench/report.hpp ----
// ---- begin servebench/scheduler.hpp ----
// servebench — the scheduler: turns single requests into experiments (its parts are in scheduler/).
//
//   * Closed loop (run_closed_loop): exactly N requests in flight until a request count or a duration is reached —
//     the lab's concurrency experiment. Each of the N workers owns one sender (one connection, kept alive).
//   * Open loop (run_open_loop): arrivals at a rate, constant / Poisson / gamma with a burstiness factor, computed up
//     front from a seed so a run repeats exactly. A request keeps its arrival time as `t_sched`, so a late send shows
//     up in `client_queue` and `latency_from_sched` instead of hiding (coordinated omission).
//   * Sweep (run_sweep): a list of concurrency levels or rates against one or more targets, one after another (as the
//     lab does) or interleaved level by level (so machine noise hits every target alike).
//   * Warm-up requests are sent and kept out of the statistics; a level timeout abandons what is still in flight as
//     `deadline_exceeded`; Ctrl-C / SIGTERM stop sending, give in-flight requests a grace period, and return every
//     record gathered so far, marked interrupted. A second Ctrl-C exits at once.
//
// Every loop returns a LevelResult (result.hpp): the target, the settings it ran with, the summary, every record and
// how the run went; write_artifact() stores it whole.
//
//   auto target = servebench::make_target<servebench::api::openai_completions>(
//       servebench::DriverOptions().label("vllm").base_url("http://127.0.0.1:8000").model("my-model"));
//   auto result = servebench::run_closed_loop(servebench::ClosedLoop().concurrency(10).requests(100).warmup(2),
//                                             servebench::template_prompts("Question {i}?", 50), target);

// ---- begin servebench/scheduler/arrivals.hpp ----
// servebench — open-loop arrival processes (constant, Poisson, gamma), sampled from a seed with arithmetic written
// out here so that a seed repeats a schedule on every platform.

#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

// ---- begin servebench/scheduler/options.hpp ----
// servebench — scheduler options: what closed and open loops share (counts, duration, warm-up, timeouts, signals,
// summaries), ClosedLoop and OpenLoop, and the LevelConfig each records into its result.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>


namespace servebench {

// A request sent more than this long after its t_sched counts as late (open loop: the client fell behind).
inline constexpr Nanos late_send_threshold_ns = 1'000'000;
// A connect slower than this was almost surely a lost SYN retried (Linux retries after 1 s): a full accept queue.
inline constexpr Nanos slow_connect_threshold_ns = 900'000'000;

// Watches a level from outside (metrics/scrape.hpp's scrape_each_level() reads the server's /metrics): called with
// the level's target just before the level starts; what it returns is called with the result once the last request
// has ended, to add what it saw. A level run from a sender factory passes an empty TargetInfo.
using LevelWatcher = std::function<std::function<void(LevelResult&)>(const TargetInfo&)>;

namespace detail {

// What closed and open loops share. Setters return the derived object so chains keep their type.
template <class Derived>
class RunOptions {
 public:
  // Stop after this many measured requests (0: no count limit). With neither a count nor a duration, a finite
  // workload runs once through; an infinite one is an error.
  // clang-format off: one line per fluent setter, as everywhere in the library
  Derived& requests(std::uint64_t count) {
    requests_ = count;
    return self();
  }
  // clang-format on
  std::uint64_t requests() const noexcept { return requests_; }

  // Stop starting requests once this long has passed since the measured phase began (0: no limit). Requests in
  // flight then finish (bounded by timeout()). Whichever of requests() and duration() comes first ends the run.
  template <class Rep, class Period>
  Derived& duration(std::chrono::duration<Rep, Period> d) {
    duration_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return self();
  }
  std::chrono::nanoseconds duration() const noexcept { return duration_; }

  // Requests sent before the measured ones to warm the server and the connections; they reuse the workload's first
  // prompts and are marked RequestRecord::warmup, so summarize() skips them. The measured phase starts once every
  // warm-up request has finished.
  // clang-format off: one line per fluent setter, as everywhere in the library
  Derived& warmup(std::uint64_t count) {
    warmup_ = count;
    return self();
  }
  std::uint64_t warmup() const noexcept { return warmup_; }

  // Keep warm-up records in the result (marked warmup) or drop them. Default: keep.
  Derived& keep_warmup_records(bool keep) {
    keep_warmup_records_ = keep;
    return self();
  }
  // clang-format on
  bool keep_warmup_records() const noexcept { return keep_warmup_records_; }

  // The whole level (warm-up included) may take this long; then requests still in flight are cancelled and
  // recorded as ErrorKind::deadline_exceeded. 0: no timeout.
  template <class Rep, class Period>
  Derived& timeout(std::chrono::duration<Rep, Period> d) {
    timeout_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return self();
  }
  std::chrono::nanoseconds timeout() const noexcept { return timeout_; }

  // After Ctrl-C / SIGTERM, how long requests in flight may still finish before they are cancelled as
  // ErrorKind::interrupted. Short by default: a person pressing Ctrl-C wants the prompt back.
  template <class Rep, class Period>
  Derived& grace_period(std::chrono::duration<Rep, Period> d) {
    grace_period_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return self();
  }
  std::chrono::nanoseconds grace_period() const noexcept { return grace_period_; }

  // No progress line and no warnings on stderr (warnings still go into the result).
  // clang-format off: one line per fluent setter, as everywhere in the library
  Derived& quiet(bool q) {
    quiet_ = q;
    return self();
  }
  bool quiet() const noexcept { return quiet_; }

  // Install SIGINT/SIGTERM handlers while the run is active (the previous ones are restored after). Turn off when
  // the program handles signals itself; request_interrupt() still stops a run.
  Derived& handle_signals(bool handle) {
    handle_signals_ = handle;
    return self();
  }
  bool handle_signals() const noexcept { return handle_signals_; }

  // Every worker opens its connection before the level's clock starts (a few at a time, spaced, so a server with a
  // small accept queue is not flooded), so the first requests measure the server and not TCP handshakes. Off:
  // each worker's first request opens its own connection, as before. Default: on. See docs/metrics.md.
  Derived& preconnect(bool on) {
    preconnect_ = on;
    return self();
  }
  bool preconnect() const noexcept { return preconnect_; }

  // Keep every record in LevelResult::records (the default), or keep none: each record is then handed to
  // record_sink and stream_records_to as it ends and dropped, and the summary comes from a RunningSummary (exact
  // counts and means, percentiles within 1%, see record_stream.hpp), so memory does not grow with the run.
  Derived& keep_records(bool keep) {
    keep_records_ = keep;
    return self();
  }
  bool keep_records() const noexcept { return keep_records_; }

  // Called with every record kept or streamed (measured ones, and warm-ups with keep_warmup_records) as it ends, in
  // the order they end, one call at a time.
  Derived& record_sink(std::function<void(const RequestRecord&)> sink) {
    record_sink_ = std::move(sink);
    return self();
  }
  const std::function<void(const RequestRecord&)>& record_sink() const noexcept { return record_sink_; }

  // Writes every such record to this JSONL file as it ends (PATH.partial until the level ends, then renamed; read
  // back with read_records_jsonl). Empty: none.
  Derived& stream_records_to(std::string path) {
    stream_records_to_ = std::move(path);
    return self();
  }
  const std::string& stream_records_to() const noexcept { return stream_records_to_; }

  // Percentile method and SLOs for the summary in the result.
  Derived& summarize_options(SummarizeOptions options) {
    summarize_options_ = std::move(options);
    return self();
  }
  // clang-format on
  const SummarizeOptions& summarize_options() const noexcept { return summarize_options_; }

  // Something that watches each level (see LevelWatcher); none by default.
  Derived& watch(LevelWatcher watcher) {
    watcher_ = std::move(watcher);
    return self();
  }
  const LevelWatcher& watcher() const noexcept { return watcher_; }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }

  std::uint64_t requests_ = 0;
  std::chrono::nanoseconds duration_{0};
  std::uint64_t warmup_ = 0;
  bool keep_warmup_records_ = true;
  std::chrono::nanoseconds timeout_{0};
  std::chrono::nanoseconds grace_period_ = std::chrono::seconds(2);
  bool quiet_ = false;
  bool handle_signals_ = true;
  bool preconnect_ = true;
  SummarizeOptions summarize_options_;
  LevelWatcher watcher_;
  bool keep_records_ = true;
  std::function<void(const RequestRecord&)> record_sink_;
  std::string stream_records_to_;
};

}  // namespace detail

// Closed loop: `concurrency` workers, each sending its next request as soon as its last one ends.
class ClosedLoop : public detail::RunOptions<ClosedLoop> {
 public:
  // clang-format off: one line per fluent setter, as everywhere in the library
  ClosedLoop& concurrency(std::size_t workers) {
    concurrency_ = workers;
    return *this;
  }
  // Conversations: each worker takes a whole session of `turns` requests (indices s * turns ... s * turns + turns - 1,
  // as workload/multiturn.hpp numbers them) and sends them in order, `think_time` apart, so that concurrency means
  // concurrent sessions. 1: every request on its own.
  ClosedLoop& sessions(std::size_t turns, std::chrono::nanoseconds think_time = std::chrono::nanoseconds(0)) {
    turns_ = turns;
    think_time_ = think_time;
    return *this;
  }
  // clang-format on
  std::size_t concurrency() const noexcept { return concurrency_; }
  std::size_t session_turns() const noexcept { return turns_; }
  std::chrono::nanoseconds think_time() const noexcept { return think_time_; }

 private:
  std::size_t concurrency_ = 1;
  std::size_t turns_ = 1;
  std::chrono::nanoseconds think_time_{0};
};

// Open loop: requests arrive at `rate` per second whatever the server does; an arrival that finds no free worker
// waits (and its lateness is recorded). max_in_flight caps concurrent requests (0: no cap, workers are added as
// needed).
class OpenLoop : public detail::RunOptions<OpenLoop> {
 public:
  // clang-format off: one line per fluent setter, as everywhere in the library
  OpenLoop& rate(double requests_per_second) {
    rate_ = requests_per_second;
    return *this;
  }
  double rate() const noexcept { return rate_; }

  OpenLoop& distribution(Arrival arrival) {
    distribution_ = arrival;
    return *this;
  }
  Arrival distribution() const noexcept { return distribution_; }

  // Gamma shape: below 1 burstier than Poisson, above 1 more regular. Used only by Arrival::gamma.
  OpenLoop& burstiness(double shape) {
    burstiness_ = shape;
    return *this;
  }
  double burstiness() const noexcept { return burstiness_; }

  OpenLoop& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  std::uint64_t seed() const noexcept { return seed_; }

  OpenLoop& max_in_flight(std::size_t cap) {
    max_in_flight_ = cap;
    return *this;
  }
  std::size_t max_in_flight() const noexcept { return max_in_flight_; }

  // An injected arrival schedule (a trace): the measured requests' times after the start, non-decreasing. When set,
  // rate, distribution and ramp are not used; requests() and duration() still cut it short.
  OpenLoop& schedule(std::vector<Nanos> offsets) {
    schedule_ = std::move(offsets);
    return *this;
  }
  const std::vector<Nanos>& schedule() const noexcept { return schedule_; }

  // A request-rate ramp from `from` to `to` per second over `over`, linear or exponential, then `to` on; the
  // arrival distribution shapes the gaps around it. Without requests() or duration() the run lasts the ramp.
  OpenLoop& ramp_up(double from, double to, std::chrono::nanoseconds over, bool exponential = false) {
    ramp_ = Ramp{from, to, over, exponential};
    ramped_ = true;
    return *this;
  }
  struct Ramp {
    double from = 0, to = 0;
    std::chrono::nanoseconds over{0};
    bool exponential = false;
  };
  // The ramp, or nullptr when there is none (a pointer, not a std::optional: see "Deferred" in serialize.hpp).
  const Ramp* ramp_up() const noexcept { return ramped_ ? &ramp_ : nullptr; }
  // clang-format on

 private:
  std::vector<Nanos> schedule_;
  Ramp ramp_;
  bool ramped_ = false;
  double rate_ = 1.0;
  Arrival distribution_ = Arrival::poisson;
  double burstiness_ = 1.0;
  std::uint64_t seed_ = 0;
  std::size_t max_in_flight_ = 0;
};

namespace detail {

// What a level records of the options it ran with (LevelResult::config).
template <class Options>
LevelConfig base_config(const Options& o) {
  LevelConfig c;
  c.requests = o.requests();
  c.duration_s = std::chrono::duration<double>(o.duration()).count();
  c.warmup = o.warmup();
  c.timeout_s = std::chrono::duration<double>(o.timeout()).count();
  c.percentile_method = o.summarize_options().method;
  c.slo = o.summarize_options().slo;
  return c;
}
template <class = void>  // deferred: see serialize.hpp
LevelConfig level_config(const ClosedLoop& o) {
  LevelConfig c = base_config(o);
  c.mode = LoopMode::closed_loop;
  c.concurrency = o.concurrency();
  return c;
}
template <class = void>  // deferred: see serialize.hpp
LevelConfig level_config(const OpenLoop& o) {
  LevelConfig c = base_config(o);
  c.mode = LoopMode::open_loop;
  c.rate = o.rate();
  c.arrival = o.distribution();
  c.burstiness = o.burstiness();
  c.seed = o.seed();
  c.max_in_flight = o.max_in_flight();
  return c;
}

// Starts the options' watcher on a level's target; returns what to call with the result (empty when none).
template <class Options>
std::function<void(LevelResult&)> start_watching(const Options& o, const TargetInfo* target) {
  if (!o.watcher()) return {};
  return o.watcher()(target ? *target : TargetInfo{});
}

}  // namespace detail

}  // namespace servebench
// ---- end servebench/scheduler/options.hpp ----

namespace servebench {

namespace detail {

// The sampling is written out here rather than taken from <random>: the standard fixes mt19937's output but not
// what exponential_distribution or gamma_distribution make of it, and a seed must repeat a run on any platform.
class ArrivalSampler {
 public:
  ArrivalSampler(double rate, Arrival arrival, double burstiness, std::uint64_t seed)
      : rate_(rate), arrival_(arrival), burstiness_(burstiness), state_(seed) {
    if (!(rate > 0) || !std::isfinite(rate)) throw std::invalid_argument("servebench: arrival rate must be > 0");
    if (arrival == Arrival::gamma && (!(burstiness > 0) || !std::isfinite(burstiness)))
      throw std::invalid_argument("servebench: gamma burstiness must be > 0");
  }

  // The next inter-arrival gap, seconds.
  double next_gap_s() {
    switch (arrival_) {
      case Arrival::constant: return 1.0 / rate_;
      case Arrival::poisson: return -std::log(uniform_open()) / rate_;
      case Arrival::gamma: return gamma(burstiness_) / (rate_ * burstiness_);
    }
    return 1.0 / rate_;
  }

 private:
  // Uniform on (0, 1), never 0 or 1, from the top 53 bits.
  double uniform_open() { return (static_cast<double>(splitmix64(state_) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

  double standard_normal() {  // Box–Muller, one value per pair: simple and deterministic
    const double u1 = uniform_open(), u2 = uniform_open();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  // Marsaglia & Tsang (2000), with the shape < 1 boost: Gamma(a) = Gamma(a + 1) * U^(1/a). Unit scale.
  double gamma(double shape) {
    if (shape < 1.0) return gamma(shape + 1.0) * std::pow(uniform_open(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = standard_normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform_open();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

  double rate_;
  Arrival arrival_;
  double burstiness_;
  std::uint64_t state_;
};

// Arrivals under a rate ramp: gaps drawn at rate 1 in the ramp's cumulative intensity L(t) = integral of the rate,
// then mapped back to time by inverting L (a time change of the arrival process, exact for Poisson).
template <class = void>  // deferred: see serialize.hpp
std::vector<Nanos> ramp_offsets(const OpenLoop& options, const OpenLoop::Ramp& ramp, std::uint64_t count,
                                Nanos duration) {
  const double a = ramp.from, b = ramp.to, span = std::chrono::duration<double>(ramp.over).count();
  if (!(a > 0) || !(b > 0) || !std::isfinite(a) || !std::isfinite(b) || !(span > 0))
    throw std::invalid_argument("servebench: a ramp needs rates > 0 and a duration > 0 (FROM:TO:SECONDS)");
  if (count == 0 && duration == 0) duration = ramp.over.count();
  const bool flat = std::fabs(b - a) < 1e-12 * a;
  const double k = std::log(b / a);
  const double at_end = ramp.exponential && !flat ? a * span * (b / a - 1) / k : (a + b) / 2 * span;
  auto time_of = [&](double intensity) {  // L^-1
    if (intensity >= at_end) return span + (intensity - at_end) / b;
    if (flat) return intensity / a;
    if (ramp.exponential) return span * std::log1p(intensity * k / (a * span)) / k;
    const double slope = (b - a) / span;  // a t + slope t^2 / 2 = intensity
    return (-a + std::sqrt(a * a + 2 * slope * intensity)) / slope;
  };
  ArrivalSampler sampler(1.0, options.distribution(), options.burstiness(), options.seed());
  std::vector<Nanos> offsets;
  double intensity = 0;
  for (;;) {
    if (count > 0 && offsets.size() >= count) break;
    const auto at = static_cast<Nanos>(std::llround(time_of(intensity) * 1e9));
    if (duration > 0 && at >= duration) break;
    offsets.push_back(at);
    intensity += sampler.next_gap_s();
  }
  return offsets;
}

}  // namespace detail

// `count` inter-arrival gaps in seconds, exactly what an open loop with these settings waits between arrivals.
template <class = void>  // deferred: see serialize.hpp
std::vector<double> inter_arrival_gaps_s(std::size_t count, double rate, Arrival arrival, double burstiness = 1.0,
                                         std::uint64_t seed = 0) {
  detail::ArrivalSampler sampler(rate, arrival, burstiness, seed);
  std::vector<double> gaps(count);
  for (auto& g : gaps) g = sampler.next_gap_s();
  return gaps;
}

// Arrival times of the measured requests, nanoseconds after the start of the measured phase: the first at 0, then
// the sampled gaps; as many as requests(), or those before duration(). `workload_size` stands in for requests() when
// neither a count nor a duration is set.
template <class = void>  // deferred: see serialize.hpp
std::vector<Nanos> arrival_offsets(const OpenLoop& options, std::optional<std::uint64_t> workload_size = std::nullopt) {
  std::uint64_t count = options.requests();
  Nanos duration = options.duration().count();
  if (!options.schedule().empty()) {
    std::vector<Nanos> offsets;
    for (const Nanos at : options.schedule()) {
      if (at < 0 || (!offsets.empty() && at < offsets.back()))
        throw std::invalid_argument("servebench: an arrival schedule must be non-negative and non-decreasing");
      if ((count > 0 && offsets.size() >= count) || (duration > 0 && at >= duration)) break;
      offsets.push_back(at);
    }
    return offsets;
  }
  if (const auto* ramp = options.ramp_up()) return detail::ramp_offsets(options, *ramp, count, duration);
  if (count == 0 && duration == 0) {
    if (!workload_size)
      throw std::invalid_argument("servebench: an open loop over an infinite workload needs requests() or duration()");
    count = *workload_size;
  }
  detail::ArrivalSampler sampler(options.rate(), options.distribution(), options.burstiness(), options.seed());
  std::vector<Nanos> offsets;
  double t = 0;  // accumulated in seconds, rounded once per arrival, so rounding errors never add up
  for (;;) {
    if (count > 0 && offsets.size() >= count) break;
    const auto at = static_cast<Nanos>(std::llround(t * 1e9));
    if (duration > 0 && at >= duration) break;
    offsets.push_back(at);
    t += sampler.next_gap_s();
  }
  return offsets;
}

}  // namespace servebench
// ---- end servebench/scheduler/arrivals.hpp ----
// ---- begin servebench/scheduler/closed_loop.hpp ----
// servebench — the closed loop: exactly N requests in flight until a request count or a duration is reached (the
// lab's concurrency experiment). Each of the N workers owns one sender (one connection, kept alive), opened before
// the clock starts (RunOptions::preconnect).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

// ---- begin servebench/target.hpp ----
// servebench — a server under test, built once: make_target<Api>(DriverOptions) gives the sender factory the
// schedulers call once per worker and the TargetInfo that results and artifacts record. Label, URL, model and the
// dialect's name come from the same DriverOptions, so they cannot disagree.
//
// A *sender* is anything with
//     RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched);
//     void cancel(ErrorKind reason);   // thread-safe; aborts the request in flight and every later one (sticky)
// and optionally
//     std::string connect();           // opens its connection now; "" or why it could not (see Driver::connect)
// servebench::Driver<Api> is one; tests use in-process fakes. AnySender holds any sender, so one sweep can compare
// targets that speak different dialects.
//
//   auto hf   = servebench::make_target<servebench::api::hf_simple>(DriverOptions().label("hf").base_url(url));
//   auto vllm = servebench::make_target<servebench::api::openai_completions>(DriverOptions().label("vllm")...);

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>


namespace servebench {

namespace detail {
template <class Sender, class = void>
struct can_connect : std::false_type {};
template <class Sender>
struct can_connect<Sender, std::void_t<decltype(std::declval<Sender&>().connect())>> : std::true_type {};
// The sender's connect(), or "" for a sender without one (it connects as it sends).
template <class Sender>
std::string connect_sender(Sender& sender) {
  if constexpr (can_connect<Sender>::value)
    return sender.connect();
  else
    return {};
}
}  // namespace detail

// Holds any sender (see the top of this file) behind one type. Move-only; an empty AnySender throws on send.
class AnySender {
 public:
  AnySender() = default;
  AnySender(AnySender&& other) noexcept : self_(std::exchange(other.self_, nullptr)) {}
  AnySender& operator=(AnySender&& other) noexcept {
    if (this != &other) {
      delete self_;
      self_ = std::exchange(other.self_, nullptr);
    }
    return *this;
  }
  ~AnySender() { delete self_; }

  template <class Sender, class = std::enable_if_t<!std::is_same<std::decay_t<Sender>, AnySender>::value>>
  AnySender(Sender&& sender)  // NOLINT(google-explicit-constructor): wrapping is the whole point
      : self_(new Model<std::decay_t<Sender>>(std::forward<Sender>(sender))) {}

  // Builds the sender in place, for senders that cannot be moved.
  template <class Sender, class... Args>
  static AnySender make(Args&&... args) {
    AnySender any;
    any.self_ = new Model<Sender>(std::forward<Args>(args)...);
    return any;
  }

  RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) {
    if (!self_) throw std::logic_error("servebench::AnySender: empty");
    return self_->send(prompt, index, t_sched);
  }
  void cancel(ErrorKind reason = ErrorKind::interrupted) {
    if (self_) self_->cancel(reason);
  }
  // The held sender's connect(), or "" when it has none (it connects as it sends).
  std::string connect() { return self_ ? self_->connect() : std::string{}; }
  explicit operator bool() const noexcept { return self_ != nullptr; }

 private:
  struct Interface {
    virtual ~Interface() = default;
    virtual RequestRecord send(const Prompt&, std::uint64_t, Nanos) = 0;
    virtual void cancel(ErrorKind) = 0;
    virtual std::string connect() = 0;
  };
  template <class Sender>
  struct Model final : Interface {
    template <class... Args>
    explicit Model(Args&&... args) : sender(std::forward<Args>(args)...) {}
    RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) override {
      return sender.send(prompt, index, t_sched);
    }
    void cancel(ErrorKind reason) override { sender.cancel(reason); }
    std::string connect() override { return detail::connect_sender(sender); }
    Sender sender;
  };
  // Owned. A plain pointer, not std::unique_ptr: one more unique_ptr type costs every translation unit that includes
  // <servebench.hpp> about 1.4 MB of the compiler's memory and 25 ms (see "Deferred" in serialize.hpp).
  Interface* self_ = nullptr;
};

class ClosedLoop;
class OpenLoop;

// A transport that runs whole levels itself, many requests to a thread (the event loop, <servebench/event_loop.hpp>):
// run_closed_loop and run_open_loop hand a level to it instead of starting a worker thread per sender.
struct LevelRunner {
  std::function<LevelResult(const ClosedLoop&, const Workload&, const TargetInfo&)> closed_loop;
  std::function<LevelResult(const OpenLoop&, const Workload&, const TargetInfo&)> open_loop;
};

// One server under test: what results call it, and how to make a sender for it (called once per worker per level,
// never from two threads at once); a transport of its own may run its levels (runs_levels).
struct Target {
  TargetInfo info;
  std::function<AnySender()> make_sender;
  LevelRunner runs_levels;  // empty: each of a level's worker threads sends with one sender of make_sender

  const std::string& label() const noexcept { return info.label; }
};

// A target speaking dialect `Api`, every worker with its own Driver (one connection, kept alive).
template <class Api>
Target make_target(DriverOptions options, Api api = {}) {
  TargetInfo info{target_label(options), options.base_url(), api::dialect_name<Api>(), options.model(),
                  options.tls().insecure};
  options.label(info.label);
  return Target{std::move(info),
                [options = std::move(options), api = std::move(api)] { return AnySender(Driver<Api>(options, api)); },
                {}};
}

namespace detail {
// A sender whose records carry its target's label, whatever the wrapped sender writes.
template <class Sender>
struct LabelledSender {
  Sender sender;
  std::string label;
  RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) {
    RequestRecord r = sender.send(prompt, index, t_sched);
    r.target = label;
    return r;
  }
  void cancel(ErrorKind reason) { sender.cancel(reason); }
  std::string connect() { return connect_sender(sender); }
};
}  // namespace detail

// A target of your own sender type: `make_sender` returns one (a Driver of a custom transport, a fake in a test).
// The records carry info.label: the target is the one place a label is given.
template <class MakeSender>
Target make_target(TargetInfo info, MakeSender make_sender) {
  std::string label = info.label;
  return Target{std::move(info),
                [make = std::move(make_sender), label = std::move(label)]() mutable {
                  using Sender = std::decay_t<decltype(make())>;
                  return AnySender(detail::LabelledSender<Sender>{make(), label});
                },
                {}};
}

}  // namespace servebench
// ---- end servebench/target.hpp ----
// ---- begin servebench/scheduler/level.hpp ----
// servebench — what both loops share while a level runs: the registry of senders to cancel, the connections opened
// before the clock, the counters, the supervisor's stop decisions (Ctrl-C, grace period, level timeout), the warm-up
// barrier, and the LevelResult a level ends with.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

// ---- begin servebench/scheduler/progress.hpp ----
// servebench — the progress line: one line per level, rewritten in place on a terminal, silent otherwise.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif


namespace servebench {

namespace detail {

inline bool stderr_is_terminal() noexcept {
#if defined(_WIN32)
  return _isatty(_fileno(stderr)) != 0;
#else
  return ::isatty(::fileno(stderr)) != 0;
#endif
}

// "vllm c=10: 45/100 done, 12.3 req/s, 2 failed, ETA 4s". total 0: unknown (a duration-bound run).
template <class = void>  // deferred: see serialize.hpp
std::string format_progress(const std::string& label, std::uint64_t done, std::uint64_t total, std::uint64_t failed,
                            double elapsed_s, std::optional<double> eta_s) {
  char buffer[256];
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  std::string counts = std::to_string(done) + (total ? "/" + std::to_string(total) : std::string{});
  std::string eta = eta_s ? std::to_string(static_cast<long long>(std::ceil(std::max(0.0, *eta_s)))) + "s" : "?";
  std::snprintf(buffer, sizeof buffer, "%s: %s done, %.1f req/s, %llu failed, ETA %s", label.c_str(), counts.c_str(),
                rate, static_cast<unsigned long long>(failed), eta.c_str());
  return buffer;
}

// One line per level, rewritten in place on a terminal; silent otherwise.
class ProgressLine {
 public:
  ProgressLine(bool enabled, std::string label) : enabled_(enabled), label_(std::move(label)) {}

  template <class = void>  // deferred: see serialize.hpp
  void update(std::uint64_t done, std::uint64_t total, std::uint64_t failed, Nanos start, Nanos planned_end,
              bool final_line = false) {
    if (!enabled_) return;
    const Nanos now = now_ns();
    if (!final_line && now - last_print_ < 200'000'000) return;  // five times a second is plenty for a person
    last_print_ = now;
    const double elapsed = ns_to_s(now - start);
    std::optional<double> eta;
    if (final_line) {
      eta = 0.0;
    } else if (total && done > 0) {
      eta = elapsed / static_cast<double>(done) * static_cast<double>(total - std::min(total, done));
    } else if (planned_end > 0) {
      eta = ns_to_s(planned_end - now);
    }
    std::fprintf(stderr, "\r%s\x1b[K%s", format_progress(label_, done, total, failed, elapsed, eta).c_str(),
                 final_line ? "\n" : "");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  std::string label_;
  Nanos last_print_ = 0;
};

inline bool progress_enabled(bool quiet) { return !quiet && stderr_is_terminal(); }

// "vllm c=10", "vllm rate=5": how progress lines and warnings name a level.
template <class = void>  // deferred: see serialize.hpp
std::string level_label(const std::string& target, const LevelConfig& config) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s=%g", config.mode == LoopMode::open_loop ? "rate" : "c", config.level());
  return target.empty() ? std::string(buffer) : target + " " + buffer;
}

}  // namespace detail

}  // namespace servebench
// ---- end servebench/scheduler/progress.hpp ----

namespace servebench {

namespace detail {

// The records a level keeps, in blocks that never move once filled (64 records, doubling up to 4,096): one allocation
// per block rather than one per record (a std::deque of 360-byte records allocates each on its own, 2.7% of an
// event-loop thread's samples at 64 connections), and no vector growth moving every record with the lock held.
template <class Record = RequestRecord>  // deferred: see serialize.hpp
class RecordBlocks {
 public:
  void push(Record&& record) {
    if (blocks_.empty() || blocks_.back().size() == blocks_.back().capacity()) {
      blocks_.emplace_back();
      blocks_.back().reserve(std::min<std::size_t>(4096, std::max<std::size_t>(64, size_)));
    }
    blocks_.back().push_back(std::move(record));
    ++size_;
  }
  std::size_t size() const noexcept { return size_; }
  // Every record, in the order kept; leaves this empty.
  std::vector<Record> take() {
    std::vector<Record> all;
    if (blocks_.size() == 1) {
      all = std::move(blocks_.front());
    } else {
      all.reserve(size_);
      for (auto& b : blocks_) std::move(b.begin(), b.end(), std::back_inserter(all));
    }
    blocks_.clear();
    size_ = 0;
    return all;
  }

 private:
  std::vector<std::vector<Record>> blocks_;
  std::size_t size_ = 0;
};

// Opening connections before a level: at most this many at once, each started this long after the last, so a server
// whose accept queue holds 5 (Python's socketserver) is not flooded by a burst; 1000 workers take about two seconds.
// A connect whose SYN is lost anyway (a server starved of CPU) holds its slot until the retransmit, which slows the
// rest down.
inline constexpr std::size_t max_connecting = 2;
inline constexpr Nanos connect_spacing_ns = 2'000'000;

// The warning for connects slower than slow_connect_threshold_ns, naming the likely cause and the fix.
template <class = void>  // deferred: see serialize.hpp
std::string slow_connect_warning(const std::string& label, std::size_t count, const char* what, double slowest_s) {
  char buffer[480];
  std::snprintf(buffer, sizeof buffer,
                "%s: %zu %s took more than %.1f s to connect (slowest %.2f s): the server's accept queue was "
                "probably full and a lost SYN was retransmitted; raise the server's listen backlog (Python's "
                "socketserver: request_queue_size, 5 by default; uvicorn, gunicorn: --backlog)",
                label.c_str(), count, what, ns_to_s(slow_connect_threshold_ns), slowest_s);
  return buffer;
}

// What a level's warnings and late-send figures need of its records, gathered one record at a time, so a level
// that keeps no records (RunOptions::keep_records(false)) has them too.
struct LevelTally {
  std::string target;             // the first label a sender wrote on a record
  std::size_t records = 0;        // records gathered (kept or streamed)
  std::size_t measured_sent = 0;  // measured requests that were sent
  std::size_t late_sends = 0;     // of those, sent more than late_send_threshold_ns after t_sched
  std::size_t slow_connects = 0;  // requests whose connect took more than slow_connect_threshold_ns
  double slowest_connect_s = 0;

  void add(const RequestRecord& r) {
    ++records;
    if (target.empty()) target = r.target;
    if (!r.warmup && r.t_send != 0) {
      ++measured_sent;
      if (r.t_send - r.t_sched > late_send_threshold_ns) ++late_sends;
    }
    const auto took = r.connect_s();
    if (took && *took > ns_to_s(slow_connect_threshold_ns)) {
      ++slow_connects;
      slowest_connect_s = std::max(slowest_connect_s, *took);
    }
  }
};

template <class Options>
class Level {
 public:
  Level(const Options& options, const Workload& workload)
      : options_(options), workload_(workload), running_(options.summarize_options()) {
    workload_.check_enough(options_.requests());  // before anything is written or sent
    if (!options.stream_records_to().empty()) writer_.emplace(options.stream_records_to());
  }

  const Options& options() const noexcept { return options_; }

  // A sender registers so the supervisor can cancel it; one registered after a cancel-all is cancelled at once.
  std::size_t register_canceller(std::function<void(ErrorKind)> cancel) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    if (cancelled_with_ != ErrorKind::none) cancel(cancelled_with_);
    cancellers_.push_back(std::move(cancel));
    return cancellers_.size() - 1;
  }
  void unregister_canceller(std::size_t slot) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    cancellers_[slot] = nullptr;
  }
  void cancel_all(ErrorKind reason) {
    std::lock_guard<std::mutex> lock(registry_mutex_);
    if (cancelled_with_ == ErrorKind::none) cancelled_with_ = reason;
    for (auto& c : cancellers_)
      if (c) c(reason);
  }

  // Sends one request and stamps what the scheduler knows. A sender that throws yields a failed record, not a
  // crashed run.
  template <class Sender>
  void send_one(Sender& sender, std::uint64_t index, Nanos t_sched, bool warmup) {
    RequestRecord record;
    try {
      const Prompt prompt = begin(index, warmup);
      if (t_sched == 0) t_sched = now_ns();
      record = sender.send(prompt, index, t_sched);
      expected(prompt, record);
    } catch (const std::exception& e) {
      record = failed_record(std::string("sender threw: ") + e.what());
    } catch (...) {
      record = failed_record("sender threw a non-standard exception");
    }
    complete(std::move(record), index, t_sched, warmup);
  }

  // The two halves of send_one, for a transport that sends without a thread per request (the event loop): begin()
  // counts the request in flight and gives its prompt (it throws what the workload throws: the request then
  // completes with failed_record()); complete() takes its record, whatever became of it.
  Prompt begin(std::uint64_t index, bool warmup) {
    const std::size_t in_flight = in_flight_.fetch_add(1) + 1;
    if (!warmup && !options_.keep_records()) {
      std::size_t peak = peak_in_flight_.load();
      while (in_flight > peak && !peak_in_flight_.compare_exchange_weak(peak, in_flight)) {
      }
    }
    return workload_.at(index);
  }
  static void expected(const Prompt& prompt, RequestRecord& record) {
    record.n_in_expected = prompt.input_tokens;
    record.n_out_requested = prompt.max_tokens;
  }
  static RequestRecord failed_record(std::string why) {
    RequestRecord record;
    record.error_kind = ErrorKind::other;
    record.error_message = std::move(why);
    return record;
  }
  void complete(RequestRecord&& record, std::uint64_t index, Nanos t_sched, bool warmup) {
    if (count(record, index, t_sched, warmup)) keep(std::move(record));
    if (warmup) notify();
  }
  // complete() in two halves, for a transport that keeps records in batches, one lock for many (the event loop's
  // threads at hundreds of thousands of requests a second): count() stamps and counts a record and says whether it
  // is to be kept; keep_batch() keeps those (and empties the batch). The caller notify()s after a warm-up batch.
  bool count(RequestRecord& record, std::uint64_t index, Nanos t_sched, bool warmup) {
    in_flight_.fetch_sub(1);
    record.index = index;
    record.warmup = warmup;
    if (record.t_sched == 0) record.t_sched = t_sched;
    if (warmup) {
      warmup_done_.fetch_add(1);
    } else {
      done_.fetch_add(1);
      if (!record.ok() && !record.interrupted()) failed_.fetch_add(1);
    }
    // Only the end of a warm-up request is waited on (the open loop starts its clock after the last); waking the
    // supervisor for every measured request cost a context switch each (bench/bench_client_overhead), and it looks
    // every 20 ms anyway.
    return !warmup || options_.keep_warmup_records();
  }
  void keep_batch(std::vector<RequestRecord>& batch) {
    if (batch.empty()) return;
    {
      std::lock_guard<std::mutex> lock(records_mutex_);
      for (auto& r : batch) keep_locked(std::move(r));
    }
    batch.clear();
  }

  // Opens the sender's connection before the level's clock starts, when options().preconnect(), a few at a time
  // and spaced (max_connecting, connect_spacing_ns). A failure is kept for the level's warnings and ends the
  // opening for every worker; the requests then connect (and fail) on their own, so nothing waits for it.
  template <class Sender>
  void preconnect(Sender& sender) {
    if (!can_connect<Sender>::value || !options_.preconnect()) return;
    {
      std::unique_lock<std::mutex> lock(connect_mutex_);
      for (;;) {
        if (stopping() || !connect_failure_.empty()) return;
        Nanos until = 0;
        if (may_connect_locked(now_ns(), until)) break;
        connect_turn_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(until)));
      }
    }
    const Nanos start = now_ns();
    std::string why = connect_sender(sender);
    end_connect(std::move(why), now_ns() - start);
  }

  // The same turns for a transport that opens many connections from one thread (the event loop): true, the
  // connect counted as begun, when one may start now; false when none may (a failure ended the opening, or the
  // level is stopping: `until` is 0) or not yet (until when to wait). end_connect() says how it went.
  bool try_begin_connect(Nanos now, Nanos& until) {
    std::lock_guard<std::mutex> lock(connect_mutex_);
    until = 0;
    if (stopping() || !connect_failure_.empty()) return false;
    return may_connect_locked(now, until);
  }
  void end_connect(std::string why, Nanos took) {
    {
      std::lock_guard<std::mutex> lock(connect_mutex_);
      --connecting_;
      ++preconnects_;
      if (!why.empty()) {
        ++preconnect_failures_;
        if (connect_failure_.empty()) connect_failure_ = std::move(why);
      } else if (took > slow_connect_threshold_ns) {
        ++slow_preconnects_;
        slowest_preconnect_ = std::max(slowest_preconnect_, took);
      }
    }
    connect_turn_.notify_all();
  }

  // Builds a worker's sender; factories are never called from two threads at once.
  template <class MakeSender>
  auto make_sender(MakeSender& factory) {
    std::lock_guard<std::mutex> lock(factory_mutex_);
    return factory();
  }

  void fail(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(records_mutex_);
      if (!error_) error_ = error;
    }
    stop_sending_.store(true);
    notify();
  }

  // Sleeps until something happened or `until` (steady nanoseconds), whichever is first.
  void wait_for_change(Nanos until) {
    std::unique_lock<std::mutex> lock(wake_mutex_);
    const auto seen = changes_;
    wake_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(until)),
                     [&] { return changes_ != seen; });
  }
  // Something happened (a request ended, a worker left): wakes the supervising thread.
  void notify() {
    {
      std::lock_guard<std::mutex> lock(wake_mutex_);
      ++changes_;
    }
    wake_.notify_all();
  }

  // One look at the world by the supervising thread: interrupt, grace period, timeout. Returns false once nothing
  // more may be sent.
  bool supervise(Nanos level_start) {
    const Nanos now = now_ns();
    if (!interrupted_ && interrupt_requested()) {
      interrupted_ = true;
      stop_sending_.store(true);
      grace_end_ = now + options_.grace_period().count();
    }
    if (interrupted_ && !cancelled_for_interrupt_ && now >= grace_end_) {
      cancelled_for_interrupt_ = true;
      cancel_all(ErrorKind::interrupted);
    }
    if (!deadline_exceeded_ && options_.timeout().count() > 0 && now >= level_start + options_.timeout().count()) {
      deadline_exceeded_ = true;
      stop_sending_.store(true);
      cancel_all(ErrorKind::deadline_exceeded);
    }
    return !stop_sending_.load();
  }

  // When the supervisor should look again: soon, and exactly at the timeout or the end of the grace period.
  Nanos next_look(Nanos level_start, Nanos wanted) const {
    Nanos at = std::min(wanted, now_ns() + 20'000'000);
    if (options_.timeout().count() > 0 && !deadline_exceeded_)
      at = std::min(at, level_start + options_.timeout().count());
    if (interrupted_ && !cancelled_for_interrupt_) at = std::min(at, grace_end_);
    return at;
  }

  bool stopping() const noexcept { return stop_sending_.load(); }
  void stop_sending() noexcept { stop_sending_.store(true); }
  std::uint64_t done() const noexcept { return done_.load(); }
  std::uint64_t failed() const noexcept { return failed_.load(); }
  std::uint64_t warmup_done() const noexcept { return warmup_done_.load(); }
  std::size_t in_flight() const noexcept { return in_flight_.load(); }

  // Sorted records and the run's verdicts; rethrows a factory's exception.
  // `target` null: the label the sender wrote on the records.
  LevelResult finish(const TargetInfo* target, std::size_t not_sent) {
    if (error_) std::rethrow_exception(error_);
    LevelResult result;
    result.config = level_config(options_);
    result.interrupted = interrupted_;
    result.deadline_exceeded = deadline_exceeded_;
    result.warmup_sent = static_cast<std::size_t>(warmup_done_.load());
    result.not_sent = not_sent;
    if (writer_) writer_->close();
    LevelTally tally;
    if (options_.keep_records()) {
      result.records = records_.take();
      std::stable_sort(result.records.begin(), result.records.end(),
                       [](const RequestRecord& a, const RequestRecord& b) {
                         if (a.warmup != b.warmup) return a.warmup;  // warm-ups first: they were sent first
                         return a.t_sched < b.t_sched || (a.t_sched == b.t_sched && a.index < b.index);
                       });
      result.summary = summarize(result.records, options_.summarize_options());
      for (const auto& r : result.records) tally.add(r);
    } else {
      result.summary = running_.summary(peak_in_flight_.load());
      tally = tally_;
    }
    result.summary.level = result.config.level();
    if (target)
      result.target = *target;
    else
      result.target.label = tally.target;
    result.summary.target = result.target.label;

    result.late_sends = tally.late_sends;
    result.late_send_share = tally.measured_sent
                                 ? static_cast<double>(tally.late_sends) / static_cast<double>(tally.measured_sent)
                                 : 0.0;
    const bool open_loop = result.config.mode == LoopMode::open_loop;
    const std::string label = level_label(result.target.label, result.config);
    // Only an open loop has a schedule to fall behind; a closed loop's share is kept as a figure, not a warning.
    if (open_loop && result.late_send_share > 0.01) {
      char buffer[320];
      std::snprintf(buffer, sizeof buffer,
                    "%s: %.1f%% of requests were sent more than 1 ms after their scheduled time; the client, not the "
                    "server, limited this run (see client_queue and latency_from_sched)",
                    label.c_str(), 100.0 * result.late_send_share);
      result.warnings.push_back(buffer);
    }
    if (interrupted_) {
      const int signal_number = interrupt_signal_number.load();
      result.warnings.push_back(label + ": interrupted" +
                                (signal_number == SIGTERM  ? std::string(" by SIGTERM")
                                 : signal_number == SIGINT ? std::string(" by SIGINT")
                                                           : std::string{}) +
                                "; " + std::to_string(tally.records) + " records gathered before stopping");
    }
    if (deadline_exceeded_)
      result.warnings.push_back(label + ": level timeout reached; requests in flight recorded as deadline_exceeded");
    connection_warnings(label, tally, result);
    if (result.summary.input_length_mismatches > 0)
      result.warnings.push_back(label + ": " + std::to_string(result.summary.input_length_mismatches) + " of " +
                                std::to_string(result.summary.input_length_checked) +
                                " prompts built to an exact length were counted otherwise by the server "
                                "(usage.prompt_tokens != n_in_expected): its tokenizer endpoint and its generation "
                                "endpoint disagree (a chat template?)");
    if (!options_.quiet())
      for (const auto& w : result.warnings) std::fprintf(stderr, "servebench: warning: %s\n", w.c_str());
    return result;
  }

 private:
  // With connect_mutex_ held: whether a connect may begin now (then counted as begun), else when to look again.
  bool may_connect_locked(Nanos now, Nanos& until) {
    if (connecting_ < max_connecting && now >= next_connect_) {
      ++connecting_;
      next_connect_ = now + connect_spacing_ns;
      return true;
    }
    until = connecting_ < max_connecting ? next_connect_ : now + 10'000'000;
    return false;
  }

  void connection_warnings(const std::string& label, const LevelTally& tally, LevelResult& result) {
    std::lock_guard<std::mutex> lock(connect_mutex_);
    if (!connect_failure_.empty())
      result.warnings.push_back(label + ": " + std::to_string(preconnect_failures_) + " of " +
                                std::to_string(preconnects_) +
                                " connections could not be opened before the level started: " + connect_failure_ +
                                "; is the server running and accepting connections there? The requests then "
                                "connected on their own (RequestRecord::t_connect)");
    if (slow_preconnects_ > 0)
      result.warnings.push_back(slow_connect_warning(label, slow_preconnects_,
                                                     "connections opened before the level (not in the figures)",
                                                     ns_to_s(slowest_preconnect_)));
    if (tally.slow_connects > 0)
      result.warnings.push_back(slow_connect_warning(label, tally.slow_connects, "requests", tally.slowest_connect_s));
  }

  // A record that ended: to the sink and the file, then kept, or summarised and dropped.
  void keep(RequestRecord&& record) {
    std::lock_guard<std::mutex> lock(records_mutex_);
    keep_locked(std::move(record));
  }
  void keep_locked(RequestRecord&& record) {
    if (options_.record_sink()) options_.record_sink()(record);
    if (writer_) writer_->write(record);
    if (options_.keep_records()) {
      records_.push(std::move(record));
    } else {
      running_.add(record);
      tally_.add(record);
    }
  }

  const Options& options_;
  const Workload& workload_;

  std::mutex registry_mutex_;
  std::vector<deferred<std::function<void(ErrorKind)>, Options>> cancellers_;
  ErrorKind cancelled_with_ = ErrorKind::none;  // none: not cancelled

  std::mutex factory_mutex_;

  std::mutex connect_mutex_;
  std::condition_variable connect_turn_;
  std::size_t connecting_ = 0, preconnects_ = 0, preconnect_failures_ = 0, slow_preconnects_ = 0;
  Nanos next_connect_ = 0, slowest_preconnect_ = 0;
  std::string connect_failure_;

  std::mutex records_mutex_;
  RecordBlocks<deferred<RequestRecord, Options>> records_;
  RunningSummary running_;  // keep_records(false): the summary, the tally, the peak in flight
  LevelTally tally_;
  std::atomic<std::size_t> peak_in_flight_{0};
  std::optional<deferred<JsonlRecordWriter, Options>> writer_;
  std::exception_ptr error_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::uint64_t changes_ = 0;

  std::atomic<bool> stop_sending_{false};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::uint64_t> done_{0}, failed_{0}, warmup_done_{0};

  // Touched only by the supervising thread.
  bool interrupted_ = false;
  bool cancelled_for_interrupt_ = false;
  bool deadline_exceeded_ = false;
  Nanos grace_end_ = 0;
};

// Keeps a sender registered for cancellation exactly as long as it is alive.
class CancelRegistration {
 public:
  template <class Options, class Sender>
  CancelRegistration(Level<Options>& level, Sender& sender)
      : unregister_([&level, slot = level.register_canceller([&sender](ErrorKind reason) { sender.cancel(reason); })] {
          level.unregister_canceller(slot);
        }) {}
  CancelRegistration(const CancelRegistration&) = delete;
  CancelRegistration& operator=(const CancelRegistration&) = delete;
  ~CancelRegistration() { unregister_(); }

 private:
  std::function<void()> unregister_;
};

// All workers meet here after warm-up; the last to arrive starts the measured phase's clock.
class PhaseBarrier {
 public:
  explicit PhaseBarrier(std::size_t parties) : waiting_for_(parties) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (--waiting_for_ == 0) {
      measured_start_ = now_ns();
      open_.notify_all();
      return;
    }
    open_.wait(lock, [this] { return waiting_for_ == 0; });
  }
  Nanos measured_start() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return measured_start_;
  }
  bool opened() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_for_ == 0;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable open_;
  std::size_t waiting_for_;
  Nanos measured_start_ = 0;
};

template <class Options>
std::uint64_t planned_requests(const Options& options, const Workload& workload, const char* who) {
  if (options.requests() > 0 || options.duration().count() > 0) return options.requests();
  if (workload.infinite())
    throw std::invalid_argument(std::string("servebench::") + who +
                                ": an infinite workload needs requests() or duration()");
  return *workload.size();
}

}  // namespace detail
}  // namespace servebench
// ---- end servebench/scheduler/level.hpp ----

namespace servebench {

namespace detail {

template <class MakeSender>
LevelResult run_closed_loop(const ClosedLoop& options, const Workload& workload, MakeSender& make_sender,
                            const TargetInfo* target) {  // null: the label the senders write
  if (options.concurrency() == 0) throw std::invalid_argument("servebench::run_closed_loop: concurrency must be > 0");
  const std::uint64_t request_limit = detail::planned_requests(options, workload, "run_closed_loop");
  const Nanos duration = options.duration().count();
  const std::size_t workers = options.concurrency();

  detail::InterruptScope interrupt_scope(options.handle_signals());
  detail::Level<deferred<ClosedLoop, MakeSender>> level(options, workload);  // deferred: see serialize.hpp
  detail::PhaseBarrier after_warmup(workers);
  // No worker ends (its thread exits, its connection closes) until every worker is done: a thread's exit unmaps
  // its stack, and at 2,000-10,000 streams ending in the same step those unmaps stalled the threads still reading
  // their last tokens (docs/performance.md, "Scale").
  detail::PhaseBarrier before_exit(workers);
  std::atomic<std::uint64_t> next_warmup{0}, next_request{0};
  std::atomic<std::size_t> running{workers};
  const auto watching = detail::start_watching(options, target);
  const Nanos level_start = now_ns();

  {
    std::vector<std::thread> threads;
    threads.reserve(workers);
    for (std::size_t w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        bool arrived = false, done = false;
        // The sender lives on this worker's stack for the whole level: one connection, kept alive.
        auto run_worker = [&] {
          auto sender = level.make_sender(make_sender);
          detail::CancelRegistration registration(level, sender);
          level.preconnect(sender);
          for (;;) {
            if (level.stopping()) break;
            const std::uint64_t i = next_warmup.fetch_add(1);
            if (i >= options.warmup()) break;
            level.send_one(sender, i, 0, true);
          }
          after_warmup.arrive_and_wait();
          const Nanos end = duration > 0 ? after_warmup.measured_start() + duration : 0;
          const std::uint64_t turns = std::max<std::size_t>(1, options.session_turns());
          for (bool more = true; more;) {
            if (level.stopping()) break;
            if (end > 0 && now_ns() >= end) break;
            // One request, or one session's turns in order (next_request counts sessions then).
            const std::uint64_t first = next_request.fetch_add(1) * turns;
            for (std::uint64_t t = 0; t < turns; ++t) {
              const std::uint64_t i = first + t;
              if ((request_limit > 0 && i >= request_limit) || level.stopping()) {
                more = false;
                break;
              }
              if (t > 0 && options.think_time().count() > 0) {
                const Nanos until = now_ns() + options.think_time().count();
                while (!level.stopping() && now_ns() < until)
                  std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
                      std::chrono::milliseconds(5), std::chrono::nanoseconds(until - now_ns())));
              }
              level.send_one(sender, i, 0, false);
            }
          }
          done = true;
          before_exit.arrive_and_wait();  // the sender (its connection) lives on until then
        };
        try {
          run_worker();
          arrived = true;
        } catch (...) {
          level.fail(std::current_exception());
        }
        // A worker whose factory threw must still arrive, or the others would wait for it forever.
        if (!arrived && !after_warmup.opened()) after_warmup.arrive_and_wait();
        if (!done) before_exit.arrive_and_wait();
        running.fetch_sub(1);
        level.notify();
      });
    }

    detail::ProgressLine progress(detail::progress_enabled(options.quiet()),
                                  detail::level_label(target ? target->label : "", detail::level_config(options)));
    while (running.load() > 0) {
      level.supervise(level_start);
      const Nanos measured_start = after_warmup.opened() ? after_warmup.measured_start() : 0;
      if (measured_start)
        progress.update(level.done(), request_limit, level.failed(), measured_start,
                        duration > 0 ? measured_start + duration : 0);
      level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));
    }
    if (after_warmup.opened())
      progress.update(level.done(), request_limit, level.failed(), after_warmup.measured_start(), 0, true);
    for (auto& t : threads) t.join();
  }
  LevelResult result = level.finish(target, 0);
  if (watching) watching(result);
  return result;
}

}  // namespace detail

// Runs `options.concurrency()` workers against `target` until requests() measured requests have been made or
// duration() has passed. Every worker gets its own sender from target.make_sender (one connection, kept alive).
// `target` may also be a sender factory of your own (make_sender() returns a sender, see target.hpp); the level's
// label is then the one its senders write on their records. Returns every record, the summary (level =
// concurrency), the settings, and whether the run was interrupted or hit its timeout.
template <class TargetOrFactory>
LevelResult run_closed_loop(const ClosedLoop& options, const Workload& workload, TargetOrFactory&& target) {
  if constexpr (std::is_same_v<std::decay_t<TargetOrFactory>, Target>) {
    if (target.runs_levels.closed_loop) return target.runs_levels.closed_loop(options, workload, target.info);
    if (!target.make_sender) throw std::invalid_argument("servebench::run_closed_loop: the target has no make_sender");
    return detail::run_closed_loop(options, workload, target.make_sender, &target.info);
  } else {
    return detail::run_closed_loop(options, workload, target, nullptr);
  }
}

}  // namespace servebench
// ---- end servebench/scheduler/closed_loop.hpp ----
// ---- begin servebench/scheduler/open_loop.hpp ----
// servebench — the open loop: arrivals at a rate whatever the server does. A request keeps its arrival time as
// t_sched, so a late send shows up in client_queue and latency_from_sched instead of hiding (coordinated omission).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>


namespace servebench {

namespace detail {

// The most arrivals of `offsets` (sorted) within any span shorter than `window`.
template <class = void>  // deferred: see serialize.hpp
std::size_t most_arrivals_within(const std::vector<Nanos>& offsets, Nanos window) {
  std::size_t most = 0;
  for (std::size_t first = 0, i = 0; i < offsets.size(); ++i) {
    while (offsets[i] - offsets[first] >= window) ++first;
    most = std::max(most, i - first + 1);
  }
  return most;
}

// Each job is handed to a worker open_loop_dispatch_lead_ns before its arrival time; the worker waits out the rest.
// A late hand-off then costs nothing, and one thread wake-up, not two, stands between the schedule and the send.
inline constexpr Nanos open_loop_dispatch_lead_ns = 2'000'000;

// How many senders the open loop starts (and connects) before its first arrival. A worker is held from its hand-off
// until the reply: the most arrivals within twice the lead are about as many as a burst of the schedule keeps busy at
// once (at 50,000/s, ~200), where a fixed few made the dispatcher start threads on the way, late
// (docs/performance.md). At least 4, at most 1,024; with a cap, at least 64 and at most the cap.
template <class = void>  // deferred: see serialize.hpp
std::size_t open_loop_initial_senders(const std::vector<Nanos>& offsets, std::size_t cap) {
  const std::size_t burst = most_arrivals_within(offsets, 2 * open_loop_dispatch_lead_ns);
  return cap ? std::min<std::size_t>(cap, std::max<std::size_t>(64, burst)) : std::clamp<std::size_t>(burst, 4, 1024);
}

template <class MakeSender>
LevelResult run_open_loop(const OpenLoop& options, const Workload& workload, MakeSender& make_sender,
                          const TargetInfo* target) {  // null: the label the senders write
  const std::vector<Nanos> offsets = arrival_offsets(options, workload.size());
  const std::size_t cap = options.max_in_flight();

  detail::InterruptScope interrupt_scope(options.handle_signals());
  detail::Level<deferred<OpenLoop, MakeSender>> level(options, workload);  // deferred: see serialize.hpp

  struct Job {
    std::uint64_t index;
    Nanos t_sched;  // 0: warm-up, now
    bool warmup;
  };
  std::mutex jobs_mutex;
  std::condition_variable job_ready;
  std::deque<Job> jobs;
  std::size_t idle_workers = 0;
  bool no_more_jobs = false;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> running{0};
  std::atomic<std::size_t> opened{0};  // initial workers past their preconnect

  // A worker counts as idle (able to take a job) from the moment it is started, so a burst of arrivals does not
  // start more threads than it needs. The initial workers open their connections before the clock starts; one added
  // later for a waiting job connects with that job's request (its record says so: t_connect).
  auto worker = [&](bool first) {
    bool idle = true;
    auto mark_opened = [&] {
      if (!first) return;
      first = false;
      opened.fetch_add(1);
      level.notify();
    };
    try {
      auto sender = level.make_sender(make_sender);
      detail::CancelRegistration registration(level, sender);
      if (first) level.preconnect(sender);
      mark_opened();
      for (;;) {
        Job job{};
        {
          std::unique_lock<std::mutex> lock(jobs_mutex);
          if (!idle) ++idle_workers;
          idle = true;
          job_ready.wait(lock, [&] { return !jobs.empty() || no_more_jobs || level.stopping(); });
          --idle_workers;
          idle = false;
          if (level.stopping() || jobs.empty()) break;  // queued jobs left when stopping are never sent
          job = jobs.front();
          jobs.pop_front();
        }
        // Jobs arrive a little ahead of time (see open_loop_dispatch_lead_ns): this worker's own timed wake-up then
        // decides the send time, rather than the dispatcher's wake-up followed by a hand-off to this thread.
        if (job.t_sched > now_ns()) {
          std::this_thread::sleep_until(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(job.t_sched)));
          if (level.stopping()) break;
        }
        level.send_one(sender, job.index, job.t_sched, job.warmup);
      }
    } catch (...) {
      mark_opened();
      if (idle) {
        std::lock_guard<std::mutex> lock(jobs_mutex);
        --idle_workers;
      }
      level.fail(std::current_exception());
      job_ready.notify_all();
    }
    running.fetch_sub(1);
    level.notify();
  };
  // A worker is added when the queue is longer than the idle workers can take. It is counted (idle, running) with
  // jobs_mutex held and started after, so no worker waits for a job while a thread is being created.
  auto push = [&](Job job) {
    bool add = false;
    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      jobs.push_back(job);
      add = jobs.size() > idle_workers && (cap == 0 || threads.size() < cap);
      if (add) {
        running.fetch_add(1);
        ++idle_workers;
      }
    }
    job_ready.notify_one();
    if (add) threads.emplace_back(worker, false);  // only this (the dispatching) thread touches `threads`
  };
  auto stop_workers = [&] {
    {
      std::lock_guard<std::mutex> lock(jobs_mutex);
      no_more_jobs = true;
    }
    job_ready.notify_all();
  };

  const auto watching = detail::start_watching(options, target);
  const Nanos level_start = now_ns();
  std::size_t pushed = 0;
  const std::size_t initial = open_loop_initial_senders(offsets, cap);
  {
    // Workers exist before the first arrival, so it does not pay for a thread start: as many as a burst of the
    // schedule needs (within the cap); more are added on demand.
    std::lock_guard<std::mutex> lock(jobs_mutex);
    for (std::size_t i = 0; i < initial; ++i) {
      running.fetch_add(1);
      ++idle_workers;
      threads.emplace_back(worker, true);
    }
  }
  while (opened.load() < initial && level.supervise(level_start))
    level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));

  const auto label = detail::level_label(target ? target->label : "", detail::level_config(options));
  detail::ProgressLine progress(detail::progress_enabled(options.quiet()), label);

  // Warm-up: all at once (within the cap), and wait until they are done.
  for (std::uint64_t i = 0; i < options.warmup(); ++i) push(Job{i, 0, true});
  while (level.warmup_done() < options.warmup() && level.supervise(level_start))
    level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));

  // Measured phase: the calling thread is the dispatcher and the supervisor.
  const Nanos t0 = now_ns();
  const Nanos planned_end = offsets.empty() ? t0 : t0 + offsets.back();
  while (pushed < offsets.size() && level.supervise(level_start)) {
    const Nanos now = now_ns();
    while (pushed < offsets.size() && t0 + offsets[pushed] <= now + open_loop_dispatch_lead_ns) {
      push(Job{static_cast<std::uint64_t>(pushed), t0 + offsets[pushed], false});
      ++pushed;
    }
    progress.update(level.done(), offsets.size(), level.failed(), t0, planned_end);
    if (pushed < offsets.size())
      level.wait_for_change(level.next_look(level_start, t0 + offsets[pushed] - open_loop_dispatch_lead_ns));
  }
  stop_workers();
  while (running.load() > 0) {
    level.supervise(level_start);
    if (level.stopping()) job_ready.notify_all();  // idle workers must see the stop
    progress.update(level.done(), offsets.size(), level.failed(), t0, planned_end);
    level.wait_for_change(level.next_look(level_start, now_ns() + 200'000'000));
  }
  for (auto& t : threads) t.join();
  progress.update(level.done(), offsets.size(), level.failed(), t0, 0, true);
  const std::size_t never_sent = offsets.size() - static_cast<std::size_t>(level.done());
  LevelResult result = level.finish(target, never_sent);
  if (watching) watching(result);
  return result;
}

}  // namespace detail

// Sends requests at the arrival times of arrival_offsets(options) (t_sched = arrival time), whatever the server's
// pace. A worker thread (with its own sender from make_sender()) carries each request; workers are added when an
// arrival finds none free, up to max_in_flight(). The first workers (as many as the schedule's arrivals within 4 ms:
// at least 4, at most 1,024, or with a cap at least 64 and at most the cap) open their
// connections before warm-up and the arrival clock (RunOptions::preconnect). Warm-up requests go first, all at once (up
// to the cap), and the arrival clock starts when they have all finished. `target`: a Target, or a sender factory as for
// run_closed_loop.
template <class TargetOrFactory>
LevelResult run_open_loop(const OpenLoop& options, const Workload& workload, TargetOrFactory&& target) {
  if constexpr (std::is_same_v<std::decay_t<TargetOrFactory>, Target>) {
    if (target.runs_levels.open_loop) return target.runs_levels.open_loop(options, workload, target.info);
    if (!target.make_sender) throw std::invalid_argument("servebench::run_open_loop: the target has no make_sender");
    return detail::run_open_loop(options, workload, target.make_sender, &target.info);
  } else {
    return detail::run_open_loop(options, workload, target, nullptr);
  }
}

}  // namespace servebench
// ---- end servebench/scheduler/open_loop.hpp ----
// ---- begin servebench/scheduler/sweep.hpp ----
// servebench — sweeps: a list of concurrency levels or rates against one or more targets, one after another (as the
// lab does) or interleaved level by level (so machine noise hits every target alike), repeated k times with the
// repetitions interleaved too (A B A B, never A A B B), after an optional warm-up per target.

#include <algorithm>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>


namespace servebench {

enum class TargetOrder {
  sequential,   // every level of the first target, then every level of the next (what the lab does)
  interleaved,  // level 1 of every target, then level 2 of every target, ...: drift in the machine hits all alike
};

// Which levels to run, and how. The base ClosedLoop / OpenLoop supplies everything but the level (requests,
// warm-up, timeout, ...); concurrency or rate is replaced by each level.
//   Sweep().concurrency_levels({1, 5, 10, 20}).closed_loop(ClosedLoop().requests(20).warmup(1))
//   Sweep().rates({5, 10, 20}).open_loop(OpenLoop().duration(std::chrono::seconds(30)).seed(1))
class Sweep {
 public:
  // clang-format off: one line per fluent setter, as everywhere in the library
  Sweep& concurrency_levels(std::vector<std::size_t> levels) {
    concurrency_levels_ = std::move(levels);
    return *this;
  }
  const std::vector<std::size_t>& concurrency_levels() const noexcept { return concurrency_levels_; }

  Sweep& rates(std::vector<double> rates) {
    rates_ = std::move(rates);
    return *this;
  }
  const std::vector<double>& rates() const noexcept { return rates_; }

  Sweep& closed_loop(ClosedLoop base) {
    closed_loop_ = std::move(base);
    return *this;
  }
  const ClosedLoop& closed_loop() const noexcept { return closed_loop_; }

  Sweep& open_loop(OpenLoop base) {
    open_loop_ = std::move(base);
    return *this;
  }
  const OpenLoop& open_loop() const noexcept { return open_loop_; }

  Sweep& order(TargetOrder o) {
    order_ = o;
    return *this;
  }
  TargetOrder order() const noexcept { return order_; }

  // Run the whole sweep k times (k >= 1), one repetition after another: every (target, level) of repetition 0,
  // then of repetition 1, ..., each in order(), so slow drift in the machine or the server spreads over all targets
  // and levels instead of landing on one. Each LevelResult says its LevelResult::repetition; repetitions.hpp
  // summarizes them (mean and confidence interval).
  Sweep& repeat(std::size_t k) {
    repeat_ = k;
    return *this;
  }
  std::size_t repeat() const noexcept { return repeat_; }

  // Before anything is measured, each target gets one level of this many requests at the sweep's first level
  // (0: none), so the first measured repetition does not pay for cold caches, connections or compilation alone.
  // These levels are kept apart in SweepResult::warmups, never in the summaries.
  Sweep& target_warmup(std::uint64_t requests) {
    target_warmup_ = requests;
    return *this;
  }
  std::uint64_t target_warmup() const noexcept { return target_warmup_; }

  // Closed loop: each level sends this many requests per worker (n x concurrency), instead of the base's
  // requests(); 0: the base's. The lab sends one per worker, all at once.
  Sweep& requests_per_worker(std::uint64_t n) {
    requests_per_worker_ = n;
    return *this;
  }
  // clang-format on
  std::uint64_t requests_per_worker() const noexcept { return requests_per_worker_; }

  // A pause between levels, so one level's tail (server queues, TCP TIME_WAIT) does not spill into the next.
  template <class Rep, class Period>
  Sweep& cooldown(std::chrono::duration<Rep, Period> d) {
    cooldown_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return *this;
  }
  std::chrono::nanoseconds cooldown() const noexcept { return cooldown_; }

  // Called after each level (for example to write a partial artifact, so a crash later loses little).
  Sweep& on_level_done(std::function<void(const LevelResult&)> callback) {
    on_level_done_ = std::move(callback);
    return *this;
  }
  const std::function<void(const LevelResult&)>& on_level_done() const noexcept { return on_level_done_; }

 private:
  std::vector<std::size_t> concurrency_levels_;
  std::vector<double> rates_;
  ClosedLoop closed_loop_;
  OpenLoop open_loop_;
  TargetOrder order_ = TargetOrder::sequential;
  std::size_t repeat_ = 1;
  std::uint64_t target_warmup_ = 0;
  std::uint64_t requests_per_worker_ = 0;
  std::chrono::nanoseconds cooldown_{0};
  std::function<void(const LevelResult&)> on_level_done_;
};

struct SweepResult {
  std::vector<LevelResult> levels;   // in the order they ran, one per (repetition, level, target) that started
  std::vector<LevelResult> warmups;  // Sweep::target_warmup's levels, one per target, in the order they ran
  bool interrupted = false;          // stopped early: the interrupted level is the last in levels, later ones absent

  // The level of a target (in one repetition), or nullptr.
  const LevelResult* find(const std::string& target, double level, std::size_t repetition = 0) const {
    for (const auto& r : levels)
      if (r.target.label == target && r.summary.level == level && r.repetition == repetition) return &r;
    return nullptr;
  }
};

// Runs every level against every target, in the sweep's order, repeat() times, after the targets' warm-ups. Each
// level builds fresh senders from the target's make_sender. On Ctrl-C the current level returns its partial records
// and the sweep stops there.
template <class = void>  // deferred: see serialize.hpp
SweepResult run_sweep(const Sweep& sweep, const Workload& workload, const std::vector<Target>& targets) {
  const bool closed = !sweep.concurrency_levels().empty();
  if (closed == !sweep.rates().empty())
    throw std::invalid_argument("servebench::run_sweep: give either concurrency_levels() or rates(), not both");
  if (targets.empty()) throw std::invalid_argument("servebench::run_sweep: no targets");
  if (sweep.repeat() == 0) throw std::invalid_argument("servebench::run_sweep: repeat() must be at least 1");
  for (const auto& t : targets)
    if (!t.make_sender)
      throw std::invalid_argument("servebench::run_sweep: target '" + t.label() + "' has no make_sender");
  const std::size_t level_count = closed ? sweep.concurrency_levels().size() : sweep.rates().size();

  detail::InterruptScope interrupt_scope(closed ? sweep.closed_loop().handle_signals()
                                                : sweep.open_loop().handle_signals());
  SweepResult result;
  // One level; `requests` replaces the count (warm-ups), 0 keeps the sweep's.
  auto run_level = [&](std::size_t level_index, const Target& target, std::uint64_t requests) {
    if (closed) {
      auto options = sweep.closed_loop();
      options.concurrency(sweep.concurrency_levels()[level_index]);
      if (sweep.requests_per_worker() > 0) options.requests(sweep.requests_per_worker() * options.concurrency());
      if (requests > 0) options.requests(requests);
      return run_closed_loop(options, workload, target);
    }
    auto options = sweep.open_loop();
    options.rate(sweep.rates()[level_index]);
    if (requests > 0) options.requests(requests);
    return run_open_loop(options, workload, target);
  };
  auto run_one = [&](std::size_t level_index, const Target& target, std::size_t repetition) {
    if (!result.levels.empty() && sweep.cooldown().count() > 0) {
      const Nanos until = now_ns() + sweep.cooldown().count();
      while (now_ns() < until && !interrupt_requested())
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<Nanos>(20, (until - now_ns()) / 1'000'000 + 1)));
      if (interrupt_requested()) {
        result.interrupted = true;
        return;
      }
    }
    LevelResult run = run_level(level_index, target, 0);
    run.repetition = repetition;
    if (run.interrupted) result.interrupted = true;
    result.levels.push_back(std::move(run));
    if (sweep.on_level_done()) sweep.on_level_done()(result.levels.back());
  };

  if (sweep.target_warmup() > 0)
    for (const auto& target : targets) {
      result.warmups.push_back(run_level(0, target, sweep.target_warmup()));
      if (result.warmups.back().interrupted) {
        result.interrupted = true;
        return result;
      }
    }
  for (std::size_t rep = 0; rep < sweep.repeat() && !result.interrupted; ++rep) {
    if (sweep.order() == TargetOrder::sequential) {
      for (const auto& target : targets)
        for (std::size_t l = 0; l < level_count && !result.interrupted; ++l) run_one(l, target, rep);
    } else {
      for (std::size_t l = 0; l < level_count && !result.interrupted; ++l)
        for (const auto& target : targets) {
          if (result.interrupted) break;
          run_one(l, target, rep);
        }
    }
  }
  return result;
}

}  // namespace servebench
// ---- end servebench/scheduler/sweep.hpp ----
// ---- end servebench/scheduler.hpp ----
// ---- end servebench.hpp ----
