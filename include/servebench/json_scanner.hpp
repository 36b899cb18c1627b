// servebench — a JSON scanner for replies and stream events: the text's values handed one by one to a builder
// (detail::PrunedDom), accepting exactly the texts nlohmann::json::parse accepts (RFC 8259: a UTF-8 byte order mark
// allowed first, well-formed UTF-8 in strings, anything after a NUL byte that follows the value ignored, \u escapes
// with paired surrogates, integers as int64 / uint64 when they fit and as doubles otherwise, a finite double for every
// number), and giving the same values. It exists for speed: nlohmann's lexer copies every character of a token, about
// 10 ns a byte (bench_reply_parse); this one reads a string without an escape as a view of the text, and a value its
// builder skips is only validated. The unit tests and fuzz_json check it against nlohmann's parser on every input.
#pragma once

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
