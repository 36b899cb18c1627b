// servebench — what a level saw of the server's own metrics (its Prometheus /metrics endpoint, scraped while the
// level ran by metrics/scrape.hpp): gauges as time series, counters as series and their change over the level, and
// what the scraping cost. Plain data, stored in LevelResult::server_metrics and so in the artifact.
//
// The metrics that matter for LLM servers have different names per server; server_metric() finds the series of a
// role (requests running, requests waiting, KV-cache usage, ...) under any of the names vLLM, SGLang and TGI use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "../serialize.hpp"

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
