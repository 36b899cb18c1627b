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
#pragma once

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

#include "../record.hpp"
#include "../result.hpp"
#include "../scheduler/options.hpp"
#include "../url.hpp"
#include "prometheus.hpp"
#include "series.hpp"

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
