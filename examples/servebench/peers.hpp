// `servebench report --as PEER`: the records of a results.json summarised by a peer benchmark's published
// definitions, beside servebench's own (docs/metrics.md), so a number quoted from the peer can be reproduced.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <servebench.hpp>
#include <servebench/html_report.hpp>

#include "../common/cli.hpp"

namespace servebench {
namespace command {

struct ReportAsOptions {
  std::string input;
  std::string peer = "vllm";
  std::string html;       // --html FILE: the self-contained HTML report instead of (or, with --as, beside) the table
  bool as_given = false;  // --as was on the command line
};

inline void add_report_flags(CLI::App& app, ReportAsOptions& o) {
  app.add_option("results", o.input, "a results.json written with its records")->required()->check(CLI::ExistingFile);
  app.add_option("--as", o.peer,
                 "whose definitions: vllm (benchmarks/benchmark_serving.py), guidellm "
                 "(src/guidellm/benchmark/benchmark.py), aiperf (aiperf/metrics/types/)")
      ->check(CLI::IsMember({"vllm", "guidellm", "aiperf"}))
      ->capture_default_str();
  app.add_option("--html", o.html, "write the run's HTML report (tables, charts, request timelines) to FILE")
      ->type_name("FILE");
  app.footer("\nExamples:\n  servebench report runs/a/results.json --as vllm\n"
             "  servebench report runs/a/results.json --html runs/a/report.html\n"
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

// A peer whose numbers the report shows as means of per-request values (their summaries' percentile rules are not
// reproduced): each metric is servebench's mean beside the mean of the peer's per-request formula.
struct PeerMean {
  std::string name;
  std::function<std::optional<double>(const LevelSummary&)> ours;    // seconds, or empty
  std::function<std::optional<double>(const RequestRecord&)> value;  // of a successful request, seconds, or empty
  std::string rule;
};

inline void report_means(std::ostream& out, const Artifact& a, const std::string& peer, const std::string& source,
                         const std::vector<PeerMean>& metrics) {
  Table table({"level", "target", "metric", "servebench", peer + " rule", "the rule (" + peer + ")"});
  const auto f = [](double v, int d) { return servebench::detail::fixed(v, d); };
  bool first = true;
  for (const auto& l : a.levels) {
    if (l.records.empty()) continue;
    if (!first) table.separator();
    first = false;
    const auto& s = l.summary;
    const std::string level = servebench::detail::level_text(s.level), label = l.target.label;
    // Both peers' window: the first request's start to the last response's end, every request counted.
    Nanos start = 0, end = 0;
    std::size_t ok = 0;
    for (const auto& r : l.records) {
      if (r.warmup || r.t_send == 0) continue;
      start = start ? std::min(start, r.t_send) : r.t_send;
      end = std::max(end, std::max(r.t_end, r.t_send));
      ok += r.ok() ? 1 : 0;
    }
    const double duration = end > start ? ns_to_s(end - start) : 0;
    table.row({level, label, "duration s", f(s.wall_s, 3), f(duration, 3), "first request start .. last end"});
    table.row({level, label, "request throughput req/s", f(s.throughput_req_per_sec, 3),
               duration > 0 ? f(static_cast<double>(ok) / duration, 3) : "-", "successful / duration"});
    for (const auto& m : metrics) {
      std::vector<double> v;
      for (const auto& r : l.records)
        if (!r.warmup && r.ok())
          if (const auto x = m.value(r)) v.push_back(*x);
      if (v.empty()) continue;
      const auto ours = m.ours(s);
      table.row({level, label, m.name + " mean ms", ours ? f(*ours * 1e3, 2) : "-", f(detail_peers::mean(v) * 1e3, 2),
                 m.rule});
    }
  }
  out << peer << "'s definitions: " << source << "\n";
  table.print(out);
}

inline std::optional<double> mean_of(const std::optional<Summary>& s) {
  return s ? std::optional<double>(s->mean) : std::nullopt;
}
// (last token - first token) / (tokens - k): the peers' per-request decode rates.
inline std::optional<double> decode_per_token(const RequestRecord& r, std::int64_t k) {
  if (!r.streamed || r.n_out - k <= 0) return std::nullopt;
  return ns_to_s(r.t_end - r.t_first_token) / static_cast<double>(r.n_out - k);
}
inline std::optional<double> streamed_ttft(const RequestRecord& r) {
  return r.streamed ? std::optional<double>(r.ttft_s()) : std::nullopt;
}

// GuideLLM's src/guidellm/benchmark/benchmark.py (vllm-project/guidellm, commit 47ce2924; GenerativeTextResponseStats
// and GenerativeBenchmark): per request, TTFT = first token - start, ITL = (last token - first token) / (tokens - 1)
// (servebench's TPOT), TPOT = (last token - first token) / tokens, latency = end - start; the benchmark's duration
// runs from the first request's start to the last one's end.
inline void report_as_guidellm(std::ostream& out, const Artifact& a) {
  report_means(out, a, "GuideLLM", "src/guidellm/benchmark/benchmark.py of vllm-project/guidellm",
               {{"TTFT", [](const LevelSummary& s) { return mean_of(s.ttft); }, streamed_ttft, "first token - start"},
                {"ITL", [](const LevelSummary& s) { return mean_of(s.tpot); },
                 [](const RequestRecord& r) { return decode_per_token(r, 1); },
                 "(last - first token) / (tokens - 1); ours: TPOT"},
                {"TPOT", [](const LevelSummary&) { return std::optional<double>(); },
                 [](const RequestRecord& r) { return decode_per_token(r, 0); }, "(last - first token) / tokens"},
                {"latency", [](const LevelSummary& s) { return mean_of(s.latency); },
                 [](const RequestRecord& r) { return std::optional<double>(r.latency_s()); }, "end - start"}});
}

// AIPerf's aiperf/metrics/types/ (ai-dynamo/aiperf): inter_token_latency_metric.py, ITL = (request latency - TTFT) /
// (output sequence length - 1) (servebench's TPOT); inter_chunk_latency_metric.py, the gaps between chunks
// (servebench's ITL); request_throughput_metric.py, valid requests / benchmark_duration_metric.py's maximum response
// timestamp - minimum request timestamp.
inline void report_as_aiperf(std::ostream& out, const Artifact& a) {
  report_means(
      out, a, "AIPerf", "aiperf/metrics/types/*_metric.py of ai-dynamo/aiperf",
      {{"TTFT", [](const LevelSummary& s) { return mean_of(s.ttft); }, streamed_ttft, "first response - request"},
       {"ITL", [](const LevelSummary& s) { return mean_of(s.tpot); },
        [](const RequestRecord& r) { return decode_per_token(r, 1); }, "(latency - TTFT) / (tokens - 1); ours: TPOT"},
       {"request latency", [](const LevelSummary& s) { return mean_of(s.latency); },
        [](const RequestRecord& r) { return std::optional<double>(r.latency_s()); }, "last response - request"}});
}

inline int report_command(const ReportAsOptions& o, std::ostream& out) {
  const Artifact a = read_artifact(o.input);
  if (!o.html.empty()) {
    ReportOptions report;
    if (!a.levels.empty()) report.baseline = a.levels.front().target.label;  // run's first target, as run does
    write_html_report(o.html, a, report);
    out << o.html << "  (the HTML report)\n";
    if (!o.as_given) return 0;
  }
  bool records = false;
  for (const auto& l : a.levels) records = records || !l.records.empty();
  if (!records)
    throw std::runtime_error(o.input + " holds no records (written with --no-records?): the peers' definitions " +
                             "need every request; rerun without --no-records");
  if (o.peer == "guidellm")
    report_as_guidellm(out, a);
  else if (o.peer == "aiperf")
    report_as_aiperf(out, a);
  else
    report_as_vllm(out, a);
  return 0;
}

}  // namespace command
}  // namespace servebench
