// servebench 0.1.0 -- single-header edition of the servers' own metrics (Prometheus, scraping).
//
// GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench/metrics.hpp and the headers it
// includes; edit those and run `python3 tools/amalgamate.py`. In place of the headers of other parts it
// includes "servebench.hpp": keep the files in one directory.
// Dependencies stay external:
//   g++ -std=c++17 -I single_include app.cpp $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread
//
// Contents, in order:
//   servebench/metrics.hpp
//   servebench/metrics/prometheus.hpp
//   servebench/metrics/scrape.hpp
#pragma once

// ---- begin servebench/metrics.hpp ----
// servebench — the server's own metrics: the Prometheus text format (metrics/prometheus.hpp), the series a level
// keeps of them (metrics/series.hpp, part of every LevelResult) and the scraper that gathers them while a level
// runs (metrics/scrape.hpp). A part of its own, included on purpose (single header servebench_metrics.hpp): the core
// keeps only the series (LevelResult::server_metrics), so a program that never scrapes never compiles the parser.

// ---- begin servebench/metrics/prometheus.hpp ----
// servebench — the Prometheus text exposition format (version 0.0.4, what vLLM, SGLang and TGI serve on /metrics):
// a parser that follows the format's rules and a writer whose output the parser reads back unchanged.
//
//   * Lines end at '\n' (a trailing '\r' is tolerated). Blank lines are skipped; `# HELP name text` and
//     `# TYPE name counter|gauge|histogram|summary|untyped` describe a family; any other `#` line is a comment.
//   * A sample is `name{label="value",...} value [timestamp]`: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label
//     names [a-zA-Z_][a-zA-Z0-9_]*; label values escape `\\`, `\"` and `\n` (HELP text escapes `\\` and `\n`); a
//     trailing comma inside the braces is allowed; the value is a float (`NaN`, `+Inf`, `-Inf` included) and the
//     optional timestamp an integer of milliseconds.
//   * A histogram's `_bucket`, `_sum`, `_count` (and `_created`) samples, a summary's `_sum` and `_count`, and a
//     counter's `_total` and `_created` belong to the family their TYPE line named; a sample no TYPE line claims
//     makes an untyped family of its own.
//   * A TYPE line must come before the family's first sample and only once; a label named twice in one sample is an
//     error. A bad line is reported (its number and what is wrong) and skipped; the rest of the text still counts.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace servebench::prometheus {

struct Sample {
  std::string name;                                         // the sample's own name ("x_bucket", "x_sum", ...)
  std::vector<std::pair<std::string, std::string>> labels;  // in the order written, unescaped
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;

  // The value of a label, or nullptr.
  const std::string* label(std::string_view key) const {
    for (const auto& l : labels)
      if (l.first == key) return &l.second;
    return nullptr;
  }
};

struct Family {
  std::string name;
  std::string type = "untyped";  // counter, gauge, histogram, summary or untyped
  std::string help;
  std::vector<Sample> samples;
};

struct ParseError {
  std::size_t line = 0;  // 1-based
  std::string message;
};

struct Exposition {
  std::vector<Family> families;
  std::vector<ParseError> errors;  // at most max_errors are kept; error_count counts all
  std::size_t error_count = 0;

  static constexpr std::size_t max_errors = 16;

  // The family of that name, or nullptr.
  const Family* find(std::string_view name) const {
    for (const auto& f : families)
      if (f.name == name) return &f;
    return nullptr;
  }
};

namespace detail {

inline bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
inline bool name_char(char c, bool colon) { return name_start(c, colon) || (c >= '0' && c <= '9'); }
inline bool blank(char c) { return c == ' ' || c == '\t'; }

inline bool valid_name(std::string_view s, bool colon) {
  if (s.empty() || !name_start(s[0], colon)) return false;
  for (char c : s)
    if (!name_char(c, colon)) return false;
  return true;
}

inline bool is_type_name(std::string_view t) {
  return t == "counter" || t == "gauge" || t == "histogram" || t == "summary" || t == "untyped";
}

// Reads one name at `at`; empty when none.
inline std::string_view read_name(std::string_view line, std::size_t& at, bool colon) {
  const std::size_t from = at;
  if (at < line.size() && name_start(line[at], colon))
    while (at < line.size() && name_char(line[at], colon)) ++at;
  return line.substr(from, at - from);
}

inline void skip_blanks(std::string_view line, std::size_t& at) {
  while (at < line.size() && blank(line[at])) ++at;
}

inline bool equals_ignoring_case(std::string_view a, const char* b) {
  if (a.size() != std::strlen(b)) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

// A float as Go's strconv.ParseFloat reads it (what Prometheus uses), less hexadecimal and underscores: an optional
// sign, then digits with an optional fraction and exponent, or Inf / Infinity / NaN in any case.
inline std::optional<double> parse_float(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (equals_ignoring_case(body, "inf") || equals_ignoring_case(body, "infinity"))
    return negative ? -HUGE_VAL : HUGE_VAL;
  if (equals_ignoring_case(body, "nan")) return std::nan("");
  if (body.empty() || !(body[0] == '.' || (body[0] >= '0' && body[0] <= '9'))) return std::nullopt;
  double value = 0;
  const auto [end, error] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (end != body.data() + body.size()) return std::nullopt;
  if (error == std::errc::result_out_of_range) {
    // Go gives ±Inf for an overflow and 0 for an underflow; from_chars leaves the value alone.
    const std::size_t exponent = body.find_first_of("eE");
    value = exponent == std::string_view::npos || body.find('-', exponent) == std::string_view::npos ? HUGE_VAL : 0.0;
  } else if (error != std::errc()) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

inline std::optional<std::int64_t> parse_timestamp(std::string_view s) {
  std::int64_t value = 0;
  const char* begin = s.data();
  if (!s.empty() && s[0] == '+') ++begin;  // Go's ParseInt takes a plus sign
  if (begin == s.data() + s.size()) return std::nullopt;
  const auto [end, error] = std::from_chars(begin, s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// Unescapes `\\`, `\n` and (when `quote`) `\"`; a backslash before anything else is kept as written, which is how
// Prometheus itself reads it.
inline std::string unescape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char next = s[i + 1];
      if (next == '\\' || next == 'n' || (quote && next == '"')) {
        out += next == 'n' ? '\n' : next;
        ++i;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Whether a sample named `sample` belongs to the family `family` of type `type`.
inline bool belongs(std::string_view family, std::string_view type, std::string_view sample) {
  if (sample == family) return true;
  if (sample.size() <= family.size() || sample.substr(0, family.size()) != family) return false;
  const std::string_view suffix = sample.substr(family.size());
  if (type == "histogram") return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || suffix == "_created";
  if (type == "summary") return suffix == "_sum" || suffix == "_count" || suffix == "_created";
  if (type == "counter") return suffix == "_total" || suffix == "_created";
  return false;
}

// Parses one sample line into `out`; returns the error, or an empty string.
inline std::string parse_sample(std::string_view line, Sample& out) {
  std::size_t at = 0;
  out.name = std::string(read_name(line, at, true));
  if (out.name.empty()) return "a sample must start with a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)";
  const std::size_t after_name = at;
  skip_blanks(line, at);
  if (at < line.size() && line[at] == '{') {
    ++at;
    for (;;) {
      skip_blanks(line, at);
      if (at < line.size() && line[at] == '}') {
        ++at;
        break;
      }
      const std::string_view key = read_name(line, at, false);
      if (key.empty()) return "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '}' in the labels of " + out.name;
      skip_blanks(line, at);
      if (at >= line.size() || line[at] != '=') return "expected '=' after label " + std::string(key);
      ++at;
      skip_blanks(line, at);
      if (at >= line.size() || line[at] != '"') return "the value of label " + std::string(key) + " must be quoted";
      const std::size_t from = ++at;
      while (at < line.size() && line[at] != '"') at += line[at] == '\\' ? 2 : 1;
      if (at >= line.size()) return "the value of label " + std::string(key) + " has no closing quote";
      for (const auto& l : out.labels)
        if (l.first == key) return "label " + std::string(key) + " appears twice in one sample of " + out.name;
      out.labels.emplace_back(std::string(key), unescape(line.substr(from, at - from), true));
      ++at;
      skip_blanks(line, at);
      if (at < line.size() && line[at] == ',') {
        ++at;
        continue;
      }
      if (at < line.size() && line[at] == '}') {
        ++at;
        break;
      }
      return "expected ',' or '}' after the value of label " + std::string(key);
    }
  } else if (at == after_name) {
    return "expected a space or '{' after the metric name " + out.name;
  }
  skip_blanks(line, at);
  std::size_t from = at;
  while (at < line.size() && !blank(line[at])) ++at;
  const auto value = parse_float(line.substr(from, at - from));
  if (!value)
    return "the value of " + out.name + " is not a number: '" + std::string(line.substr(from, at - from)) + "'";
  out.value = *value;
  skip_blanks(line, at);
  if (at < line.size()) {
    from = at;
    while (at < line.size() && !blank(line[at])) ++at;
    out.timestamp_ms = parse_timestamp(line.substr(from, at - from));
    if (!out.timestamp_ms)
      return "the timestamp of " + out.name + " must be whole milliseconds: '" +
             std::string(line.substr(from, at - from)) + "'";
    skip_blanks(line, at);
    if (at < line.size()) return "unexpected text after the timestamp of " + out.name;
  }
  return {};
}

}  // namespace detail

// Parses exposition text. Never throws on bad text: bad lines go into `errors`. As in Prometheus's own parser, a
// family is one per name: samples written apart still join the family they belong to.
inline Exposition parse(std::string_view text) {
  Exposition out;
  auto error = [&](std::size_t line, std::string message) {
    if (out.errors.size() < Exposition::max_errors) out.errors.push_back({line, std::move(message)});
    ++out.error_count;
  };
  auto named = [&](std::string_view name) -> Family* {
    for (auto& f : out.families)
      if (f.name == name) return &f;
    return nullptr;
  };
  auto add = [&](std::string_view name) -> Family& {
    out.families.push_back(Family{std::string(name), "untyped", {}, {}});
    return out.families.back();
  };
  std::vector<std::string> typed, helped;  // names that had a TYPE line, a HELP line
  auto seen = [](const std::vector<std::string>& names, std::string_view name) {
    for (const auto& n : names)
      if (n == name) return true;
    return false;
  };
  std::size_t number = 0;
  std::size_t from = 0;
  while (from < text.size()) {
    std::size_t end = text.find('\n', from);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(from, end - from);
    from = end + 1;
    ++number;
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t at = 0;
    detail::skip_blanks(line, at);
    if (at == line.size()) continue;
    if (line[at] == '#') {
      ++at;
      detail::skip_blanks(line, at);
      const std::size_t word_from = at;
      while (at < line.size() && !detail::blank(line[at])) ++at;
      const std::string_view word = line.substr(word_from, at - word_from);
      if (word != "HELP" && word != "TYPE") continue;  // a comment
      detail::skip_blanks(line, at);
      const std::string_view name = detail::read_name(line, at, true);
      if (name.empty() || (at < line.size() && !detail::blank(line[at]))) {
        error(number, std::string(word) + " needs a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
        continue;
      }
      detail::skip_blanks(line, at);
      std::string_view rest = line.substr(at);
      Family* family = named(name);
      if (word == "TYPE") {
        while (!rest.empty() && detail::blank(rest.back())) rest.remove_suffix(1);
        if (!detail::is_type_name(rest)) {
          error(number, "TYPE of " + std::string(name) +
                            " must be counter, gauge, histogram, summary or untyped, not '" + std::string(rest) + "'");
        } else if (seen(typed, name)) {
          error(number, "a second TYPE line for " + std::string(name));
        } else if (family && !family->samples.empty()) {
          error(number, "the TYPE line of " + std::string(name) + " comes after its samples");
        } else {
          typed.emplace_back(name);
          (family ? *family : add(name)).type = std::string(rest);
        }
      } else if (seen(helped, name)) {
        error(number, "a second HELP line for " + std::string(name));
      } else {
        helped.emplace_back(name);
        (family ? *family : add(name)).help = detail::unescape(rest, false);
      }
      continue;
    }
    Sample sample;
    if (std::string message = detail::parse_sample(line.substr(at), sample); !message.empty()) {
      error(number, std::move(message));
      continue;
    }
    Family* family = nullptr;
    for (auto it = out.families.rbegin(); it != out.families.rend() && !family; ++it)
      if (detail::belongs(it->name, it->type, sample.name)) family = &*it;
    (family ? *family : add(sample.name)).samples.push_back(std::move(sample));
  }
  return out;
}

// A float as the format writes it: NaN, +Inf, -Inf, or the shortest text that reads back to the same double.
inline std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, v);
  if (error != std::errc()) return std::to_string(v);
  return std::string(buffer, end);
}

namespace detail {
inline std::string escape(const std::string& s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}
}  // namespace detail

// Labels as the format writes them: {a="1",b="x\"y"}; "" for none.
inline std::string format_labels(const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i)
    out += (i ? "," : "") + labels[i].first + "=\"" + detail::escape(labels[i].second, true) + "\"";
  return out + "}";
}

// Writes families as exposition text; parse() reads it back to the same families (labels and HELP escaped).
inline std::string write(const std::vector<Family>& families) {
  std::string out;
  for (const auto& f : families) {
    if (!f.help.empty()) out += "# HELP " + f.name + " " + detail::escape(f.help, false) + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& s : f.samples) {
      out += s.name + format_labels(s.labels) + ' ' + format_value(s.value);
      if (s.timestamp_ms) out += ' ' + std::to_string(*s.timestamp_ms);
      out += '\n';
    }
  }
  return out;
}

}  // namespace servebench::prometheus
// ---- end servebench/metrics/prometheus.hpp ----
// ---- begin servebench/metrics/scrape.hpp ----
// servebench — scraping a server's Prometheus endpoint while a level runs, so a result shows what the server was
// doing (requests running and waiting, KV-cache usage, preemptions) next to what the client measured.
//
// A Scraper has its own thread and its own connection: it never shares a sender, a lock or a socket with the
// requests being measured. A scrape that fails or times out is counted (ServerMetrics::failed, timed_out), never
// thrown; what each scrape cost is reported.
//
//   #include <servebench.hpp>   // or <servebench/metrics.hpp>
//   auto options = servebench::ClosedLoop().concurrency(8).requests(64)
//                      .watch(servebench::scrape_each_level(servebench::ScrapeOptions{}));  // target URL + /metrics
//   auto result = servebench::run_closed_loop(options, workload, target);   // result.server_metrics

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "servebench.hpp"  // servebench/record.hpp and the rest of the core

namespace servebench {

struct ScrapeOptions {
  std::string url;                 // the endpoint ("http://host:port/metrics"); empty: the target's, see metrics_url()
  double interval_s = 1.0;         // between scrapes; the first is at the level's start, the last at its end
  double timeout_s = 0;            // one scrape's limit; 0: the interval, within 1 to 5 s
  std::vector<std::string> names;  // kept besides known_server_metric_names() (a histogram's name keeps _sum, _count)
  bool keep_all = false;           // keep every metric (histogram buckets and quantiles excepted)
  TlsOptions tls;
};

// Where a server's metrics are by default: the base URL with "/metrics" (a trailing "/v1" of the base dropped, as
// vLLM, SGLang and TGI serve them at the root).
inline std::string metrics_url(std::string base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  if (base_url.size() >= 3 && base_url.compare(base_url.size() - 3, 3, "/v1") == 0)
    base_url.resize(base_url.size() - 3);
  return base_url + "/metrics";
}

class Scraper {
 public:
  // Throws std::invalid_argument for an unusable URL or interval, naming the fix.
  explicit Scraper(ScrapeOptions options) : options_(std::move(options)) {
    if (!(options_.interval_s > 0) || options_.interval_s > 3600)
      throw std::invalid_argument("the metrics interval must be between 0 and 3600 seconds (--metrics-interval)");
    const auto path_at = options_.url.find(
        '/', options_.url.find("://") == std::string::npos ? 0 : options_.url.find("://") + 3);
    if (path_at == std::string::npos)
      throw std::invalid_argument("metrics URL '" + options_.url +
                                  "' names no path (expected http://host:port/metrics)");
    url_ = detail::parse_base_url(options_.url.substr(0, path_at));
    path_ = options_.url.substr(path_at);
    client_ = detail::make_client(url_, options_.tls);
    const double timeout = options_.timeout_s > 0 ? options_.timeout_s : std::clamp(options_.interval_s, 1.0, 5.0);
    const auto limit = std::chrono::microseconds(static_cast<std::int64_t>(timeout * 1e6));
    client_->set_connection_timeout(limit);
    client_->set_read_timeout(limit);
    client_->set_write_timeout(limit);
    client_->set_keep_alive(true);
    timeout_ns_ = static_cast<Nanos>(timeout * 1e9);
    for (const auto& n : known_server_metric_names()) keep_.push_back(n);
    for (const auto& n : options_.names) keep_.push_back(n);
    result_.url = options_.url;
    result_.interval_s = options_.interval_s;
  }
  Scraper(const Scraper&) = delete;
  Scraper& operator=(const Scraper&) = delete;
  ~Scraper() { stop(); }

  // Scrapes at once, then every interval on its own thread.
  void start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] { run(); });
  }

  // One last scrape (so counters cover the whole level), then the thread ends; returns everything gathered.
  ServerMetrics stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
      scrape_once();
    }
    return result_;
  }

  // One scrape now, on the calling thread (the thread calls it; tests and benchmarks may too).
  void scrape_once() {
    const Nanos begin = now_ns();
    ++result_.scrapes;
    auto response = client_->Get(path_.c_str());
    const Nanos end = now_ns();
    const double ms = static_cast<double>(end - begin) / 1e6;
    cost_ms_sum_ += ms;
    result_.scrape_ms_max = std::max(result_.scrape_ms_max, ms);
    result_.scrape_ms_mean = cost_ms_sum_ / static_cast<double>(result_.scrapes);
    if (!response) {
      const bool timed_out = end - begin >= timeout_ns_ * 9 / 10;
      if (timed_out) ++result_.timed_out;
      fail(timed_out ? "no answer within " + std::to_string(timeout_ns_ / 1'000'000) + " ms"
                     : "no answer (" + httplib::to_string(response.error()) + ")");
      return;
    }
    if (response->status != 200) {
      fail("HTTP " + std::to_string(response->status));
      return;
    }
    const auto parsed = prometheus::parse(response->body);
    result_.parse_errors += parsed.error_count;
    std::size_t samples = 0;
    for (const auto& family : parsed.families) {
      const bool wanted_family = wanted(family.name);
      for (const auto& s : family.samples) {
        ++samples;
        if (!keep_sample(family, s, wanted_family)) continue;
        add(family, s, end);
      }
    }
    if (samples == 0) fail("the answer holds no metric (is " + options_.url + " a Prometheus endpoint?)");
  }

  const ScrapeOptions& options() const noexcept { return options_; }

 private:
  bool wanted(const std::string& name) const {
    if (options_.keep_all) return true;
    for (const auto& n : keep_)
      if (n == name) return true;
    return false;
  }
  // A histogram's or summary's buckets and quantiles are never kept; their _sum and _count are.
  bool keep_sample(const prometheus::Family& family, const prometheus::Sample& s, bool wanted_family) const {
    if (family.type == "histogram" || family.type == "summary") {
      const auto ends = [&](const char* suffix) {
        const std::size_t n = std::char_traits<char>::length(suffix);
        return s.name.size() > n && s.name.compare(s.name.size() - n, n, suffix) == 0;
      };
      return (ends("_sum") || ends("_count")) && (wanted_family || wanted(s.name));
    }
    return wanted_family || wanted(s.name);
  }

  void add(const prometheus::Family& family, const prometheus::Sample& s, Nanos at) {
    if (!std::isfinite(s.value)) return;
    const std::string labels = prometheus::format_labels(s.labels);
    const auto key = s.name + labels;
    auto it = index_.find(key);
    if (it == index_.end()) {
      MetricSeries series;
      series.name = s.name;
      series.labels = labels;
      series.type = family.type == "gauge" ? "gauge" : family.type == "untyped" ? "untyped" : "counter";
      result_.series.push_back(std::move(series));
      it = index_.emplace(key, result_.series.size() - 1).first;
    }
    MetricSeries& series = result_.series[it->second];
    if (series.type == "counter" && !series.values.empty()) {
      const double last = series.values.back();
      series.delta += s.value >= last ? s.value - last : s.value;  // went down: the counter restarted from zero
    }
    series.t.push_back(at);
    series.values.push_back(s.value);
  }

  void fail(std::string why) {
    ++result_.failed;
    if (result_.errors.size() < 5) result_.errors.push_back(options_.url + ": " + why);
  }

  void run() {
    const Nanos interval = static_cast<Nanos>(options_.interval_s * 1e9);
    Nanos next = now_ns();
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      scrape_once();
      lock.lock();
      // On the schedule start + k * interval; a scrape that overran skips the ticks it missed.
      const Nanos now = now_ns();
      next += interval;
      if (next <= now) next += ((now - next) / interval + 1) * interval;
      wake_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next)),
                       [&] { return stopping_; });
    }
  }

  ScrapeOptions options_;
  detail::BaseUrl url_;
  std::string path_;
  std::unique_ptr<httplib::Client> client_;
  Nanos timeout_ns_ = 0;
  std::vector<std::string> keep_;
  std::map<std::string, std::size_t> index_;
  ServerMetrics result_;
  double cost_ms_sum_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// A LevelWatcher (RunOptions::watch) that scrapes every level: the address in `options.url`, or else each level's
// target's metrics_url(). The level's result gets the series in LevelResult::server_metrics, and a warning when
// scrapes failed.
inline LevelWatcher scrape_each_level(ScrapeOptions options) {
  return [options](const TargetInfo& target) -> std::function<void(LevelResult&)> {
    ScrapeOptions mine = options;
    if (mine.url.empty()) {
      if (target.url.empty())
        throw std::invalid_argument("servebench: scraping metrics needs a URL (the target has none: --metrics-url)");
      mine.url = metrics_url(target.url);
    }
    if (!target.url.empty() && target.insecure) mine.tls.insecure = true;
    auto scraper = std::make_shared<Scraper>(std::move(mine));
    scraper->start();
    return [scraper](LevelResult& result) {
      result.server_metrics = scraper->stop();
      const auto& m = *result.server_metrics;
      if (m.failed > 0)
        result.warnings.push_back(result.target.label + ": " + std::to_string(m.failed) + " of " +
                                  std::to_string(m.scrapes) + " metrics scrapes failed (" +
                                  (m.errors.empty() ? std::string("?") : m.errors.front()) + ")");
    };
  };
}

}  // namespace servebench
// ---- end servebench/metrics/scrape.hpp ----
// ---- end servebench/metrics.hpp ----
