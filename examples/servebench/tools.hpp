// `servebench compare`, `merge` and `export`: what the command does with results.json files once they exist.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <servebench.hpp>

#include "../common/cli.hpp"
#include "run.hpp"

namespace servebench {
namespace command {

// The repetition of each level (0 for artifacts without repetitions).
inline std::vector<int> repetitions_of(const Artifact& a) {
  std::vector<int> out(a.levels.size(), 0);
  const auto& c = a.metadata.configuration;
  if (c.is_object() && c.contains("repetition") && c["repetition"].is_array() &&
      c["repetition"].size() == a.levels.size())
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = c["repetition"][i].get<int>();
  return out;
}

inline nlohmann::json recorded_run(const Artifact& a) {
  const auto& c = a.metadata.configuration;
  return c.is_object() && c.contains("run") ? c["run"] : nlohmann::json();
}

// ---------------------------------------------------------------------------------------------------------------
// export --csv

struct ExportOptions {
  std::string input, csv;
};

inline void add_export_flags(CLI::App& app, ExportOptions& o) {
  app.add_option("results", o.input, "a results.json")->required()->check(CLI::ExistingFile);
  app.add_option("--csv", o.csv, "the CSV file to write")->required()->type_name("FILE");
  app.footer("\nExample:\n  servebench export runs/a/results.json --csv runs/a/requests.csv\n"
             "Rows of kind 'request' (one per request, timestamps in ns on the wall clock when the artifact has a\n"
             "wall anchor) and of kind 'level' (one per level's summary).");
}

inline std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}
inline std::string number(double v) {
  char text[48];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

inline int export_command(const ExportOptions& o, std::ostream& out) {
  const Artifact a = read_artifact(o.input);
  const auto rep = repetitions_of(a);
  const std::int64_t shift = a.metadata.wall_anchor
                                 ? a.metadata.wall_anchor->system_ns - a.metadata.wall_anchor->steady_ns
                                 : 0;
  const std::vector<std::string> header = {"kind",
                                           "target",
                                           "level",
                                           "repetition",
                                           "index",
                                           "warmup",
                                           "t_sched_ns",
                                           "t_send_ns",
                                           "t_first_token_ns",
                                           "t_end_ns",
                                           "latency_s",
                                           "ttft_s",
                                           "tpot_s",
                                           "client_queue_s",
                                           "n_in",
                                           "n_out",
                                           "http_status",
                                           "error_kind",
                                           "sent",
                                           "successful",
                                           "failed",
                                           "wall_s",
                                           "throughput_req_per_sec",
                                           "output_tokens_per_sec",
                                           "goodput_req_per_sec",
                                           "latency_mean_s",
                                           "latency_p50_s",
                                           "latency_p95_s",
                                           "latency_p99_s",
                                           "ttft_p50_s",
                                           "ttft_p95_s",
                                           "tpot_mean_s",
                                           "itl_p50_s"};
  std::ostringstream csv;
  for (std::size_t i = 0; i < header.size(); ++i) csv << (i ? "," : "") << header[i];
  csv << "\n";
  const auto row = [&csv](std::vector<std::string> cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) csv << (i ? "," : "") << csv_cell(cells[i]);
    csv << "\n";
  };
  const auto opt = [](const std::optional<Summary>& s, double Summary::*member) {
    return s ? number((*s).*member) : std::string();
  };
  for (std::size_t i = 0; i < a.levels.size(); ++i) {
    const auto& l = a.levels[i];
    const std::string level = number(l.summary.level), repetition = std::to_string(rep[i]);
    for (const auto& r : l.records) {
      const auto t = [&](Nanos v) { return v ? std::to_string(v + shift) : std::string(); };
      const auto tpot = r.tpot_s();
      row({"request", l.target.label, level, repetition, std::to_string(r.index), r.warmup ? "1" : "0", t(r.t_sched),
           t(r.t_send), t(r.t_first_token), t(r.t_end), r.ok() ? number(r.latency_s()) : "",
           r.ok() && r.streamed ? number(r.ttft_s()) : "", r.ok() && tpot ? number(*tpot) : "",
           r.t_send ? number(r.client_queue_s()) : "", std::to_string(r.n_in), std::to_string(r.n_out),
           std::to_string(r.http_status), to_string(r.error_kind)});
    }
    const auto& s = l.summary;
    row({"level",
         l.target.label,
         level,
         repetition,
         "",
         "",
         "",
         "",
         "",
         "",
         "",
         "",
         "",
         "",
         "",
         std::to_string(s.total_output_tokens),
         "",
         "",
         std::to_string(s.sent),
         std::to_string(s.successful),
         std::to_string(s.failed + s.interrupted),
         number(s.wall_s),
         number(s.throughput_req_per_sec),
         number(s.output_tokens_per_sec),
         s.goodput_req_per_sec ? number(*s.goodput_req_per_sec) : "",
         opt(s.latency, &Summary::mean),
         opt(s.latency, &Summary::p50),
         opt(s.latency, &Summary::p95),
         opt(s.latency, &Summary::p99),
         opt(s.ttft, &Summary::p50),
         opt(s.ttft, &Summary::p95),
         opt(s.tpot, &Summary::mean),
         opt(s.itl, &Summary::p50)});
  }
  write_file_atomic(o.csv, csv.str());
  out << "wrote " << o.csv << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// compare

struct CompareOptions {
  std::vector<std::string> inputs;
};

inline void add_compare_flags(CLI::App& app, CompareOptions& o) {
  app.add_option("results", o.inputs, "two or more results.json; the first is the reference")
      ->required()
      ->expected(2, 1000)
      ->check(CLI::ExistingFile);
  app.footer("\nExample:\n  servebench compare runs/before/results.json runs/after/results.json\n"
             "Runs of different workloads, loops or levels are named, not compared.");
}

// Mean and the half-width of its 95% Student t interval (0 for one value).
inline std::pair<double, double> mean_interval(const std::vector<double>& v) {
  // t quantiles at 0.975 for 1..10 degrees of freedom (scipy.stats.t.ppf(0.975, df)); 1.96 beyond.
  static const double t975[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228};
  double mean = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  if (v.size() < 2) return {mean, 0};
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  const double t = v.size() - 1 <= 10 ? t975[v.size() - 2] : 1.96;
  return {mean, t * sd / std::sqrt(static_cast<double>(v.size()))};
}

// The workload settings two runs must share to be compared level by level.
inline const std::vector<std::string>& comparable_keys() {
  // Counts and durations only change how many samples a level has, so they may differ.
  static const std::vector<std::string> keys = {"prompts", "prompt-template", "max-tokens", "stream",
                                                "arrival", "burstiness",      "slo"};
  return keys;
}

inline int compare_command(const CompareOptions& o, std::ostream& out) {
  std::vector<Artifact> runs;
  for (const auto& path : o.inputs) runs.push_back(read_artifact(path));
  // Named mismatches first.
  const auto mode = [](const Artifact& a) {
    return a.levels.empty() ? LoopMode::closed_loop : a.levels[0].config.mode;
  };
  for (std::size_t i = 1; i < runs.size(); ++i) {
    if (runs[i].levels.empty() || runs[0].levels.empty())
      throw std::runtime_error((runs[i].levels.empty() ? o.inputs[i] : o.inputs[0]) + " holds no levels to compare");
    if (mode(runs[i]) != mode(runs[0]))
      throw std::runtime_error(o.inputs[0] + " is a " + to_string(mode(runs[0])) + " run and " + o.inputs[i] + " a " +
                               to_string(mode(runs[i])) +
                               " one: not compared (rerun one with the other's "
                               "--concurrency or --rate)");
    const auto a = recorded_run(runs[0]), b = recorded_run(runs[i]);
    if (a.is_object() && b.is_object())
      for (const auto& key : comparable_keys())
        if (a.value(key, nlohmann::json()) != b.value(key, nlohmann::json()))
          throw std::runtime_error(o.inputs[0] + " and " + o.inputs[i] + " differ in --" + key + " (" +
                                   a.value(key, nlohmann::json()).dump() + " vs " +
                                   b.value(key, nlohmann::json()).dump() +
                                   "): not compared; rerun with `servebench run --from " + o.inputs[0] + " ...`");
  }
  // Pair targets by label; two runs of one target each pair whatever their labels.
  const auto labels0 = target_labels(runs[0].levels);
  const auto label_in = [&](std::size_t i, const std::string& label) -> std::string {
    const auto labels = target_labels(runs[i].levels);
    if (std::find(labels.begin(), labels.end(), label) != labels.end()) return label;
    if (labels.size() == 1 && labels0.size() == 1) return labels[0];
    return {};
  };
  const auto values = [](const Artifact& a, const std::string& label, double level, double LevelSummary::*m) {
    std::vector<double> v;
    for (const auto& l : a.levels)
      if (l.target.label == label && l.summary.level == level) v.push_back(l.summary.*m);
    return v;
  };
  const auto p95 = [](const Artifact& a, const std::string& label, double level) {
    std::vector<double> v;
    for (const auto& l : a.levels)
      if (l.target.label == label && l.summary.level == level && l.summary.latency) v.push_back(l.summary.latency->p95);
    return v;
  };
  std::vector<std::string> header = {mode(runs[0]) == LoopMode::closed_loop ? "concurrency" : "rate", "target"};
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string name = "#" + std::to_string(i + 1);
    header.push_back(name + " req/s");
    if (i) header.push_back(name + "/#1");
  }
  for (std::size_t i = 0; i < runs.size(); ++i) header.push_back("#" + std::to_string(i + 1) + " p95 s");
  Table table(header);
  std::set<double> levels;
  for (const auto& l : runs[0].levels) levels.insert(l.summary.level);
  std::vector<std::string> missing;
  const auto shown = [](const std::pair<double, double>& m, int decimals) {
    return detail::fixed(m.first, decimals) + (m.second > 0 ? " ±" + detail::fixed(m.second, decimals) : "");
  };
  bool first_row = true;
  for (double level : levels) {
    if (!first_row) table.separator();
    first_row = false;
    for (const auto& label : labels0) {
      std::vector<std::string> row = {detail::fixed(level, level == std::floor(level) ? 0 : 2), label};
      const auto base = mean_interval(values(runs[0], label, level, &LevelSummary::throughput_req_per_sec));
      std::vector<std::string> latency;
      bool complete = true;
      for (std::size_t i = 0; i < runs.size(); ++i) {
        const std::string other = label_in(i, label);
        const auto v = values(runs[i], other, level, &LevelSummary::throughput_req_per_sec);
        if (v.empty()) {
          complete = false;
          missing.push_back(o.inputs[i] + " has no " + label + " at level " + detail::level_text(level));
          row.push_back("-");
          if (i) row.push_back("-");
          latency.push_back("-");
          continue;
        }
        const auto m = mean_interval(v);
        row.push_back(shown(m, 2));
        if (i) {
          // The ratio's interval by the delta method: relative half-widths add in quadrature.
          const double ratio = base.first > 0 ? m.first / base.first : 0;
          const double rel = base.first > 0 && m.first > 0 ? std::hypot(m.second / m.first, base.second / base.first)
                                                           : 0;
          row.push_back(base.first > 0 ? shown({ratio, ratio * rel}, 2) + "x" : "-");
        }
        const auto l = p95(runs[i], other, level);
        latency.push_back(l.empty() ? "-" : shown(mean_interval(l), 3));
      }
      (void)complete;
      row.insert(row.end(), latency.begin(), latency.end());
      table.row(row);
    }
  }
  for (std::size_t i = 0; i < runs.size(); ++i) out << "#" << i + 1 << ": " << o.inputs[i] << "\n";
  table.print(out);
  for (const auto& m : missing) out << "  not compared: " << m << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// merge

struct MergeOptions {
  std::string output;
  std::vector<std::string> inputs;
};

inline void add_merge_flags(CLI::App& app, MergeOptions& o) {
  app.add_option("-o,--output", o.output, "the merged results.json to write")->required()->type_name("OUT.json");
  app.add_option("shards", o.inputs, "every shard's results.json (from run --shard I/N)")
      ->required()
      ->check(CLI::ExistingFile);
  app.footer("\nExample:\n  servebench merge -o run.json shard-0/results.json shard-1/results.json\n"
             "Counts and throughput add exactly; with every shard's records the percentiles are recomputed exactly,\n"
             "without them they come from the merged histograms (within their relative accuracy, 1%).");
}

// A Summary read off a histogram: percentiles within its relative accuracy; the standard deviation is unknown (0).
inline Summary summary_of(const LogHistogram& h) {
  Summary s;
  s.count = static_cast<std::size_t>(h.count());
  s.mean = h.mean();
  s.min = h.min();
  s.max = h.max();
  s.p50 = h.percentile(50), s.p90 = h.percentile(90), s.p95 = h.percentile(95), s.p99 = h.percentile(99);
  return s;
}

inline void merge_histogram(std::optional<LogHistogram>& into, const std::optional<LogHistogram>& part) {
  if (!part) return;
  if (!into)
    into = part;
  else
    into->merge(*part);
}

// One level of every shard into the level one process would have run.
inline LevelResult merge_level(const std::vector<const LevelResult*>& parts, const std::vector<WallAnchor>& anchors,
                               std::uint64_t shards) {
  LevelResult m = *parts[0];
  m.records.clear();
  m.warnings.clear();
  const WallAnchor& clock = anchors[0];  // every timestamp onto the first shard's steady clock
  const auto onto = [&](Nanos t, std::size_t i) {
    return t ? t + (anchors[i].system_ns - anchors[i].steady_ns) - (clock.system_ns - clock.steady_ns) : t;
  };
  bool all_records = true;
  m.config.concurrency = 0, m.config.rate = 0, m.config.requests = 0;
  m.warmup_sent = m.not_sent = m.late_sends = 0;
  m.interrupted = m.deadline_exceeded = false;
  LevelSummary s;
  s.target = m.summary.target;
  Nanos first = 0, last = 0;
  double good = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const LevelResult& p = *parts[i];
    m.config.concurrency += p.config.concurrency, m.config.rate += p.config.rate,
        m.config.requests += p.config.requests;
    m.warmup_sent += p.warmup_sent, m.not_sent += p.not_sent, m.late_sends += p.late_sends;
    m.interrupted = m.interrupted || p.interrupted;
    m.deadline_exceeded = m.deadline_exceeded || p.deadline_exceeded;
    for (const auto& w : p.warnings) m.warnings.push_back("shard " + std::to_string(i) + ": " + w);
    std::size_t measured = 0;
    for (RequestRecord r : p.records) {
      measured += r.warmup ? 0 : 1;
      r.index = r.index * shards + i;
      for (Nanos* t : {&r.t_sched, &r.t_send, &r.t_first_token, &r.t_end}) *t = onto(*t, i);
      if (r.t_first_answer_token) r.t_first_answer_token = onto(*r.t_first_answer_token, i);
      for (auto& e : r.event_times) e = onto(e, i);
      m.records.push_back(std::move(r));
    }
    all_records = all_records && measured == p.summary.sent;
    const auto& q = p.summary;
    s.sent += q.sent, s.successful += q.successful, s.failed += q.failed, s.interrupted += q.interrupted;
    for (const auto& [kind, n] : q.failed_by_kind) s.failed_by_kind[kind] += n;
    s.total_output_tokens += q.total_output_tokens;
    s.peak_in_flight += q.peak_in_flight;
    if (q.sent && q.last_end) {
      const Nanos a = onto(q.first_send, i), b = onto(q.last_end, i);
      first = first ? std::min(first, a) : a;
      last = std::max(last, b);
    }
    if (q.goodput_req_per_sec) good += std::round(*q.goodput_req_per_sec * q.wall_s);
    merge_histogram(s.histograms.latency, q.histograms.latency);
    merge_histogram(s.histograms.ttft, q.histograms.ttft);
    merge_histogram(s.histograms.tpot, q.histograms.tpot);
    merge_histogram(s.histograms.itl, q.histograms.itl);
  }
  std::stable_sort(m.records.begin(), m.records.end(),
                   [](const RequestRecord& a, const RequestRecord& b) { return a.t_sched < b.t_sched; });
  m.late_send_share = s.sent ? static_cast<double>(m.late_sends) / static_cast<double>(s.sent) : 0.0;
  if (all_records) {
    // Every request is here: the summary one process would have computed, exactly.
    m.summary = summarize(m.records, SummarizeOptions{m.config.percentile_method, m.config.slo});
  } else {
    s.first_send = first, s.last_end = last;
    s.wall_s = last > first ? ns_to_s(last - first) : 0.0;
    if (s.wall_s > 0) {
      s.throughput_req_per_sec = static_cast<double>(s.successful) / s.wall_s;
      s.output_tokens_per_sec = static_cast<double>(s.total_output_tokens) / s.wall_s;
      if (m.config.slo.any()) s.goodput_req_per_sec = good / s.wall_s;
    }
    const auto from = [](const std::optional<LogHistogram>& h) {
      return h && h->count() ? std::optional<Summary>(summary_of(*h)) : std::nullopt;
    };
    s.latency = from(s.histograms.latency), s.ttft = from(s.histograms.ttft), s.tpot = from(s.histograms.tpot);
    s.itl = from(s.histograms.itl);
    m.summary = s;
    m.warnings.push_back("merged without every shard's records: percentiles from the merged histograms "
                         "(within 1%), standard deviations unknown, in-flight peak the shards' sum");
  }
  m.summary.level = m.config.level();
  return m;
}

inline int merge_command(const MergeOptions& o, std::ostream& out) {
  std::vector<Artifact> shards;
  for (const auto& path : o.inputs) shards.push_back(read_artifact(path));
  const auto shard_of = [&](std::size_t i) -> std::pair<std::uint64_t, std::uint64_t> {
    const auto& c = shards[i].metadata.configuration;
    if (!c.is_object() || !c.contains("shard") || !c.contains("run") || !shards[i].metadata.wall_anchor)
      throw std::runtime_error(o.inputs[i] + " is not a shard of a servebench run (no shard, run or wall anchor in " +
                               "its metadata); write shards with servebench run --shard I/N");
    return {c["shard"].at("index").get<std::uint64_t>(), c["shard"].at("count").get<std::uint64_t>()};
  };
  const std::uint64_t count = shard_of(0).second;
  std::vector<std::size_t> by_index(count, shards.size());
  const nlohmann::json identity = run_identity(recorded_run(shards[0]));
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const auto [index, n] = shard_of(i);
    if (n != count)
      throw std::runtime_error(o.inputs[i] + " is shard " + std::to_string(index) + "/" + std::to_string(n) + ", " +
                               o.inputs[0] + " one of " + std::to_string(count) + ": not parts of the same run");
    const nlohmann::json mine = run_identity(recorded_run(shards[i]));
    if (mine != identity) {
      std::string key;
      for (const auto& [k, v] : identity.items())
        if (!mine.contains(k) || mine[k] != v) key = k;
      throw std::runtime_error(o.inputs[i] + " is not part of the same run as " + o.inputs[0] + " (--" + key +
                               " differs: " + mine.value(key, nlohmann::json()).dump() + " vs " +
                               identity.value(key, nlohmann::json()).dump() + "); merge only one run's shards");
    }
    if (by_index[index] != shards.size())
      throw std::runtime_error(o.inputs[i] + " and " + o.inputs[by_index[index]] + " are both shard " +
                               std::to_string(index) + "/" + std::to_string(count) + "; give each shard once");
    by_index[index] = i;
    if (shards[i].levels.size() != shards[0].levels.size())
      throw std::runtime_error(o.inputs[i] + " has " + std::to_string(shards[i].levels.size()) + " levels, " +
                               o.inputs[0] + " " + std::to_string(shards[0].levels.size()) +
                               " (an interrupted shard?): rerun it");
  }
  for (std::uint64_t k = 0; k < count; ++k)
    if (by_index[k] == shards.size())
      throw std::runtime_error("shard " + std::to_string(k) + "/" + std::to_string(count) +
                               " is missing; give every shard's results.json");
  std::vector<WallAnchor> anchors;
  for (std::size_t i : by_index) anchors.push_back(*shards[i].metadata.wall_anchor);
  Artifact merged;
  merged.metadata = shards[by_index[0]].metadata;
  merged.metadata.command_line.clear();
  merged.metadata.configuration["shard"] = {{"index", 0}, {"count", 1}, {"merged_from", count}};
  auto run = recorded_run(merged);
  run["shard"] = "0/1";
  merged.metadata.configuration["run"] = run;
  for (std::size_t l = 0; l < shards[0].levels.size(); ++l) {
    std::vector<const LevelResult*> parts;
    for (std::size_t i : by_index) {
      const auto& level = shards[i].levels[l];
      if (level.target.label != shards[by_index[0]].levels[l].target.label)
        throw std::runtime_error(o.inputs[i] + " ran its levels in another order; not the same run");
      parts.push_back(&level);
    }
    merged.levels.push_back(merge_level(parts, anchors, count));
  }
  bool records = true;
  for (const auto& l : merged.levels) records = records && !l.records.empty();
  write_artifact(o.output, merged, records);
  print_comparison(out, merged.levels);
  out << "\nmerged " << count << " shards into " << o.output << "\n";
  return 0;
}

}  // namespace command
}  // namespace servebench
