// `servebench report --as PEER`: the records of a results.json summarised by a peer benchmark's published
// definitions, beside servebench's own (docs/metrics.md), so a number quoted from the peer can be reproduced.
#pragma once

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include <servebench.hpp>

#include "../common/cli.hpp"

namespace servebench {
namespace command {

struct ReportAsOptions {
  std::string input;
  std::string peer = "vllm";
};

inline void add_report_flags(CLI::App& app, ReportAsOptions& o) {
  app.add_option("results", o.input, "a results.json written with its records")->required()->check(CLI::ExistingFile);
  app.add_option("--as", o.peer,
                 "whose definitions: vllm (benchmarks/benchmark_serving.py), guidellm "
                 "(src/guidellm/benchmark/benchmark.py)")
      ->check(CLI::IsMember({"vllm", "guidellm"}))
      ->capture_default_str();
  app.footer("\nExample:\n  servebench report runs/a/results.json --as vllm\n"
             "Each row: servebench's number, the peer's by its own rule from the same records, and the rule.");
}

namespace detail_peers {

inline double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}
// numpy.std: the population standard deviation (ddof 0).
inline double population_std(const std::vector<double>& v) {
  const double m = mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return v.empty() ? 0 : std::sqrt(ss / static_cast<double>(v.size()));
}

}  // namespace detail_peers

// vLLM's benchmarks/benchmark_serving.py (calculate_metrics, benchmark) and backend_request_func.py
// (vllm-project/vllm, commit 0049e29c / 01184130): TTFT is the first chunk with text; ITL every later text chunk's
// gap; E2EL ends at the [DONE] event; TPOT = (E2EL - TTFT) / (output_len - 1) over requests with output_len > 1;
// throughput is completed / the benchmark's duration (from before the first request is scheduled to after the
// last ends); percentiles by numpy.percentile (linear), std by numpy.std (ddof 0). servebench records no [DONE]
// time: its last text event stands in, so vLLM's E2EL and TPOT would be larger by the [DONE] event's delay.
inline void report_as_vllm(std::ostream& out, const Artifact& a) {
  using detail_peers::mean;
  using detail_peers::population_std;
  Table table({"level", "target", "metric", "servebench", "vLLM rule", "the rule (vLLM)"});
  bool first = true;
  for (const auto& l : a.levels) {
    std::vector<double> ttft, tpot, itl, e2el;
    Nanos start = 0, end = 0;
    std::size_t completed = 0;
    std::int64_t tokens = 0;
    for (const auto& r : l.records) {
      if (r.warmup) continue;
      start = start ? std::min(start, r.t_sched ? r.t_sched : r.t_send) : (r.t_sched ? r.t_sched : r.t_send);
      end = std::max(end, std::max(r.t_end, r.t_send));
      if (!r.ok()) continue;
      ++completed;
      tokens += r.n_out;
      e2el.push_back(r.latency_s());
      if (!r.streamed) continue;
      ttft.push_back(r.ttft_s());
      if (r.n_out > 1) tpot.push_back((r.latency_s() - r.ttft_s()) / static_cast<double>(r.n_out - 1));
      for (std::size_t i = 1; i < r.event_times.size(); ++i)
        itl.push_back(ns_to_s(r.event_times[i] - r.event_times[i - 1]));
    }
    if (l.records.empty()) continue;
    if (!first) table.separator();
    first = false;
    const double duration = end > start ? ns_to_s(end - start) : 0;
    const auto& s = l.summary;
    const std::string level = servebench::detail::level_text(s.level), label = l.target.label;
    const auto f = [](double v, int d) { return servebench::detail::fixed(v, d); };
    table.row({level, label, "request throughput req/s", f(s.throughput_req_per_sec, 3),
               duration > 0 ? f(static_cast<double>(completed) / duration, 3) : "-",
               "completed / (first scheduled .. last end)"});
    table.row({level, label, "output tok/s", f(s.output_tokens_per_sec, 1),
               duration > 0 ? f(static_cast<double>(tokens) / duration, 1) : "-", "usage tokens / the same window"});
    const auto rows = [&](const char* name, const std::optional<Summary>& ours, std::vector<double> v,
                          const char* rule) {
      if (v.empty()) return;
      table.row({level, label, std::string(name) + " mean ms", ours ? f(ours->mean * 1e3, 2) : "-", f(mean(v) * 1e3, 2),
                 rule});
      table.row({level, label, std::string(name) + " median ms", ours ? f(ours->p50 * 1e3, 2) : "-",
                 f(percentile(v, 50) * 1e3, 2), "numpy.median"});
      table.row({level, label, std::string(name) + " p99 ms", ours ? f(ours->p99 * 1e3, 2) : "-",
                 f(percentile(v, 99) * 1e3, 2), "numpy.percentile, linear"});
      table.row({level, label, std::string(name) + " std ms", ours ? f(ours->stddev * 1e3, 2) : "-",
                 f(population_std(v) * 1e3, 2), "numpy.std, ddof 0 (servebench: n - 1)"});
    };
    rows("TTFT", s.ttft, ttft, "first chunk with text");
    rows("TPOT", s.tpot, tpot, "(E2EL - TTFT) / (tokens - 1), tokens > 1");
    rows("ITL", s.itl, itl, "gap of each later text chunk");
    rows("E2EL", s.latency, e2el, "send to [DONE] (here: last text event)");
  }
  out << "vLLM's definitions: benchmarks/benchmark_serving.py (calculate_metrics) and backend_request_func.py of "
         "vllm-project/vllm\n";
  table.print(out);
}

// GuideLLM's src/guidellm/benchmark/benchmark.py (vllm-project/guidellm, commit 47ce2924; GenerativeTextResponseStats
// and GenerativeBenchmark): per request, TTFT = first token - start, ITL = (last token - first token) /
// (output tokens - 1) (what servebench calls TPOT), TPOT = (last token - first token) / output tokens, latency = end
// - start; the benchmark's duration runs from the first request's start to the last one's end. Only means are shown:
// GuideLLM's distribution summaries are not reproduced here.
inline void report_as_guidellm(std::ostream& out, const Artifact& a) {
  using detail_peers::mean;
  Table table({"level", "target", "metric", "servebench", "GuideLLM rule", "the rule (GuideLLM)"});
  bool first = true;
  const auto f = [](double v, int d) { return servebench::detail::fixed(v, d); };
  for (const auto& l : a.levels) {
    if (l.records.empty()) continue;
    std::vector<double> ttft, itl, tpot, latency;
    for (const auto& r : l.records) {
      if (r.warmup || !r.ok()) continue;
      latency.push_back(r.latency_s());
      if (!r.streamed || r.n_out == 0) continue;
      ttft.push_back(r.ttft_s());
      const double decode = ns_to_s(r.t_end - r.t_first_token);
      tpot.push_back(decode / static_cast<double>(r.n_out));
      if (r.n_out > 1) itl.push_back(decode / static_cast<double>(r.n_out - 1));
    }
    if (!first) table.separator();
    first = false;
    const auto& s = l.summary;
    const std::string level = servebench::detail::level_text(s.level), label = l.target.label;
    table.row({level, label, "duration s", f(s.wall_s, 3), f(s.wall_s, 3), "first start .. last end"});
    const auto row = [&](const char* name, const char* ours_name, const std::optional<Summary>& ours,
                         const std::vector<double>& v, const char* rule) {
      if (v.empty()) return;
      table.row({level, label, std::string(name) + " mean ms",
                 ours ? f(ours->mean * 1e3, 2) + " (" + ours_name + ")" : "-", f(mean(v) * 1e3, 2), rule});
    };
    row("TTFT", "TTFT", s.ttft, ttft, "first token - start");
    row("ITL", "TPOT", s.tpot, itl, "(last - first token) / (tokens - 1)");
    row("TPOT", "-", std::nullopt, tpot, "(last - first token) / tokens");
    row("latency", "latency", s.latency, latency, "end - start");
  }
  out << "GuideLLM's definitions: src/guidellm/benchmark/benchmark.py of vllm-project/guidellm\n";
  table.print(out);
}

inline int report_command(const ReportAsOptions& o, std::ostream& out) {
  const Artifact a = read_artifact(o.input);
  bool records = false;
  for (const auto& l : a.levels) records = records || !l.records.empty();
  if (!records)
    throw std::runtime_error(o.input + " holds no records (written with --no-records?): the peers' definitions " +
                             "need every request; rerun without --no-records");
  if (o.peer == "guidellm")
    report_as_guidellm(out, a);
  else
    report_as_vllm(out, a);
  return 0;
}

}  // namespace command
}  // namespace servebench
