// servebench — the lab's programs' shared parts: the two servers under test (real ones by URL, or the embedded
// simulated HF-like and vLLM-like pair), the flags every lab program takes, the lab's exact file formats
// (single_request_comparison.json, concurrent_benchmark.json) and the tables printed in the terminal.
// examples/lab2_*.cpp put these together; they are the toolkit's documentation for the lab.
#pragma once

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "artifact.hpp"
#include "chart.hpp"
#include "cli.hpp"
#include "driver.hpp"
#include "record.hpp"
#include "scheduler.hpp"
#include "sim.hpp"
#include "workload.hpp"

namespace servebench {
namespace lab {

inline constexpr const char* lab_model = "meta-llama/Meta-Llama-3-8B-Instruct";
// The embedded servers run this much faster than the GPUs they model, so the whole lab takes seconds.
inline constexpr double default_time_scale = 20;
inline constexpr const char* hf_preset = "hf-transformers-h200";
inline constexpr const char* vllm_preset = "vllm-h100";

// Something outside the command line stops the program before or after the run: a server that does not answer, an
// output directory that cannot be written. Programs exit with 2 and print the one-line message.
struct SetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What every lab program may be asked. Defaults are the lab's.
struct Options {
  std::string hf_url, vllm_url;          // both empty: start the embedded simulated servers
  std::string model = lab_model;
  std::string api = "openai";            // the vLLM side's dialect: hf | openai | chat (the HF side is the lab's)
  bool stream = false;                   // stream the vLLM side's replies (TTFT and TPOT); the lab's HF server cannot
  double time_scale = default_time_scale;
  double wait_s = 10;                    // how long to wait for real servers to answer
  std::string out_dir = "artifacts";
  std::vector<std::size_t> concurrency = lab_concurrency_levels;
  int max_tokens = 0;                    // 0: the lab's (100 for single requests, 50 for the concurrent runs)
  bool quiet = false;

  bool simulated() const noexcept { return hf_url.empty() && vllm_url.empty(); }
  std::string path(const std::string& file) const { return out_dir + (out_dir.back() == '/' ? "" : "/") + file; }
};

// The dialect names --api takes, and what the artifact calls them.
inline std::string dialect_name(const std::string& api) {
  if (api == "hf") return "hf_simple";
  if (api == "chat") return "openai_chat";
  return "openai_completions";
}

// --hf, --vllm, --model, --api, --stream, --time-scale, --wait.
inline void add_server_flags(cli::ArgParser& args, Options& o) {
  args.option("--hf", "URL", "the HF baseline server (lab API); default: an embedded simulated one", o.hf_url)
      .option("--vllm", "URL", "the vLLM server; default: an embedded simulated one", o.vllm_url)
      .option("--model", "NAME", "model name sent to the vLLM server (default " + std::string(lab_model) + ")",
              o.model)
      .option("--api", "hf|openai|chat", "the vLLM side's API: lab-style, /v1/completions, /v1/chat/completions",
              [&o](const std::string& v) { o.api = cli::parse_choice("--api", v, {"hf", "openai", "chat"}); })
      .flag("--stream", "stream the vLLM side's replies (records TTFT and TPOT)", o.stream)
      .option("--time-scale", "X", "embedded servers run X times faster than real time (default 20)", o.time_scale,
              0.01, 10000)
      .option("--wait", "SECONDS", "how long to wait for --hf/--vllm servers to answer (default 10)", o.wait_s, 0,
              86400);
}

// --out, --quiet.
inline void add_output_flags(cli::ArgParser& args, Options& o) {
  args.option("--out", "DIR", "where the JSON files go (default artifacts/)",
              [&o](const std::string& v) {
                if (v.empty()) throw cli::UsageError("--out needs a directory name");
                o.out_dir = v;
              })
      .flag("--quiet", "print only the table and the file paths", o.quiet);
}

// --max-tokens, and --concurrency when the program runs concurrency levels.
inline void add_workload_flags(cli::ArgParser& args, Options& o, bool concurrency_levels) {
  args.option("--max-tokens", "N", "tokens per reply (default: the lab's)", o.max_tokens, 1, 100000);
  if (concurrency_levels)
    args.option("--concurrency", "LIST", "concurrency levels, e.g. 1,5,10,20 (the lab's, the default)",
                [&o](const std::string& v) { o.concurrency = cli::parse_size_list("--concurrency", v, 1, 10000); });
}

// The flags that only make sense together. Throws cli::UsageError.
inline void check(const Options& o) {
  if (o.hf_url.empty() != o.vllm_url.empty())
    throw cli::UsageError("give both --hf URL and --vllm URL, or neither to use the embedded simulated servers");
  if (o.out_dir.empty()) throw cli::UsageError("--out needs a directory name");
}

// Makes sure `dir` exists and a file can be created in it, before a run that would otherwise end with nowhere to
// put its results. Throws SetupError naming the directory.
inline void check_output_dir(const std::string& dir) {
  const std::string probe = dir + (dir.back() == '/' ? "" : "/") + ".servebench-write-test";
  try {
    write_file_atomic(probe, "");
  } catch (const std::exception& e) {
    throw SetupError(std::string(e.what()));
  }
  std::remove(probe.c_str());
}

// Writes JSON atomically (never half a file); SetupError naming the path when it cannot.
template <class Json>
void write_json(const std::string& path, const Json& value) {
  try {
    write_file_atomic(path, value.dump(2) + "\n");
  } catch (const std::exception& e) {
    throw SetupError(e.what());
  }
}

// Writes an SVG chart atomically; SetupError naming the path when it cannot.
inline void write_svg(const std::string& path, const std::string& svg) {
  try {
    chart::write_svg(path, svg);
  } catch (const std::exception& e) {
    throw SetupError(e.what());
  }
}

// The two servers under test. Real ones are waited for (wait_until_ready); otherwise the embedded simulated pair
// starts on free ports of 127.0.0.1: the HF-like sequential server (the lab's API) and the vLLM-like continuous
// batching one, both calibrated on GPU measurements and run `time_scale` times faster than real time.
class Servers {
 public:
  // Throws SetupError when a real server does not answer within options.wait_s.
  explicit Servers(Options options, std::ostream* log = nullptr) : options_(std::move(options)) {
    if (options_.simulated()) {
      hf_ = std::make_unique<sim::Server>(
          sim::preset(hf_preset).time_scale(options_.time_scale).model(options_.model));
      vllm_ = std::make_unique<sim::Server>(sim::preset(vllm_preset)
                                                .time_scale(options_.time_scale)
                                                .model(options_.model)
                                                .api(options_.api == "hf" ? sim::ApiFlavour::hf : sim::ApiFlavour::openai));
      hf_->start();
      vllm_->start();
      hf_url_ = hf_->url();
      vllm_url_ = vllm_->url();
      if (log) {
        char factor[32];
        std::snprintf(factor, sizeof factor, "%g", options_.time_scale);
        *log << "Embedded simulated servers (no GPU needed): HF-like " << hf_preset << " at " << hf_url_
             << ", vLLM-like " << vllm_preset << " at " << vllm_url_ << "\n"
             << "simulated servers running " << factor
             << "x faster than real time (times below are real; multiply by " << factor << " for the modelled GPU)\n";
      }
      return;
    }
    hf_url_ = options_.hf_url;
    vllm_url_ = options_.vllm_url;
    const auto wait = std::chrono::milliseconds(static_cast<long long>(options_.wait_s * 1000));
    for (const auto& [name, url] : {std::pair<std::string, std::string>{"HF", hf_url_}, {"vLLM", vllm_url_}}) {
      if (log) *log << "Waiting for the " << name << " server at " << url << " ...\n";
      const auto ready = wait_until_ready(url, wait, nullptr);
      if (!ready)
        throw SetupError("the " + name + " server at " + url + " did not answer within " +
                         cli_seconds(options_.wait_s) + " (" + ready.reason + "); start it, check the URL, or raise --wait");
    }
  }

  bool simulated() const noexcept { return static_cast<bool>(hf_); }
  const std::string& hf_url() const noexcept { return hf_url_; }
  const std::string& vllm_url() const noexcept { return vllm_url_; }
  std::optional<double> time_scale() const {
    return simulated() ? std::optional<double>(options_.time_scale) : std::nullopt;
  }

  // One Driver per worker: "hf" speaks the lab's API; "vllm" speaks --api, streaming if --stream.
  std::vector<Target> targets() const {
    const auto base = [this](const std::string& label, const std::string& url, bool stream) {
      return DriverOptions().base_url(url).target(label).model(options_.model).stream(stream);
    };
    Target hf{"hf", [o = base("hf", hf_url_, false)] { return AnySender(Driver<api::hf_simple>(o)); }, hf_url_,
              "hf_simple", options_.model};
    const auto v = base("vllm", vllm_url_, options_.stream);
    std::function<AnySender()> make;
    if (options_.api == "hf")
      make = [v] { return AnySender(Driver<api::hf_simple>(v)); };
    else if (options_.api == "chat")
      make = [v] { return AnySender(Driver<api::openai_chat>(v)); };
    else
      make = [v] { return AnySender(Driver<api::openai_completions>(v)); };
    return {hf, Target{"vllm", make, vllm_url_, dialect_name(options_.api), options_.model}};
  }

  // The artifact's metadata: command line, targets, model, and the time scale when simulated.
  RunMetadata metadata(int argc, const char* const* argv, nlohmann::json configuration = nlohmann::json::object()) const {
    RunMetadata m;
    m.command_line.assign(argv, argv + argc);
    configuration["stream"] = options_.stream;
    configuration["api"] = options_.api;
    m.configuration = std::move(configuration);
    for (const auto& t : targets()) m.targets.push_back({t.label, t.url, t.api, t.model});
    m.model = options_.model;
    if (simulated()) {
      m.time_scale = options_.time_scale;
      m.gpu = std::string("sim ") + hf_preset + " / " + vllm_preset;
    }
    return m;
  }

 private:
  static std::string cli_seconds(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", s);
    return text;
  }

  Options options_;
  std::unique_ptr<sim::Server> hf_, vllm_;
  std::string hf_url_, vllm_url_;
};

// ---------------------------------------------------------------------------------------------------------------
// Task 2.2: single requests, HF then vLLM, per prompt.

struct SingleRequest {
  std::string prompt;
  RequestRecord hf, vllm;
  // hf elapsed / vllm elapsed, as the lab computes it; 0 when either failed.
  double speedup() const {
    if (!hf.ok() || !vllm.ok() || vllm.latency_s() <= 0) return 0;
    return hf.latency_s() / vllm.latency_s();
  }
};

// Pairs the two runs' records by workload index (the measured ones; warm-ups skipped).
inline std::vector<SingleRequest> pair_single_requests(const RunResult& hf, const RunResult& vllm,
                                                       const Workload& workload) {
  std::vector<SingleRequest> out;
  for (const auto& h : hf.records) {
    if (h.warmup) continue;
    for (const auto& v : vllm.records)
      if (!v.warmup && v.index == h.index) out.push_back({workload.at(h.index).text, h, v});
  }
  return out;
}

namespace detail {
// Python's s[:n] on a UTF-8 string: the first n code points.
inline std::string first_code_points(const std::string& s, std::size_t n) {
  std::size_t i = 0;
  for (std::size_t count = 0; i < s.size() && count < n; ++count) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  }
  return s.substr(0, i);
}

inline nlohmann::ordered_json lab_engine(const char* engine, const RequestRecord& r) {
  const double elapsed = r.ok() ? r.latency_s() : 0.0;
  const auto tokens = r.ok() ? r.n_out : 0;
  return {{"engine", engine},
          {"elapsed", elapsed},
          {"tokens", tokens},
          {"tok_per_sec", elapsed > 0 ? static_cast<double>(tokens) / elapsed : 0.0}};
}

inline std::string fixed(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}
}  // namespace detail

// single_request_comparison.json exactly as the lab writes it: a list of
// {"prompt": prompt[:50], "hf": {engine, elapsed, tokens, tok_per_sec}, "vllm": {...}, "speedup"}.
// A failed request shows elapsed 0 and tokens 0 (the full artifact says why).
inline nlohmann::ordered_json single_request_json(const std::vector<SingleRequest>& rows) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& r : rows)
    out.push_back({{"prompt", detail::first_code_points(r.prompt, 50)},
                   {"hf", detail::lab_engine("HuggingFace", r.hf)},
                   {"vllm", detail::lab_engine("vLLM", r.vllm)},
                   {"speedup", r.speedup()}});
  return out;
}

inline std::string outcome(const RequestRecord& r, int decimals = 2) {
  return r.ok() ? detail::fixed(r.latency_s(), decimals) : std::string("FAILED ") + to_string(r.error_kind);
}

inline void print_single_requests(std::ostream& out, const std::vector<SingleRequest>& rows) {
  cli::Table table({"prompt", "HF s", "HF tok/s", "vLLM s", "vLLM tok/s", "speedup"});
  double sum = 0;
  std::size_t n = 0;
  for (const auto& r : rows) {
    auto rate = [](const RequestRecord& x) {
      return x.ok() && x.latency_s() > 0 ? detail::fixed(static_cast<double>(x.n_out) / x.latency_s(), 1) : "-";
    };
    table.row({detail::first_code_points(r.prompt, 40) + (r.prompt.size() > 40 ? "..." : ""), outcome(r.hf),
               rate(r.hf), outcome(r.vllm), rate(r.vllm),
               r.speedup() > 0 ? detail::fixed(r.speedup(), 1) + "x" : "-"});
    if (r.speedup() > 0) sum += r.speedup(), ++n;
  }
  if (n) table.separator().row({"average", "", "", "", "", detail::fixed(sum / static_cast<double>(n), 1) + "x"});
  table.print(out);
}

// ---------------------------------------------------------------------------------------------------------------
// Task 2.3: concurrency levels.

// One engine at one level, as the lab's concurrent_benchmark.json holds it.
struct EngineLevel {
  double total_time = 0;
  std::size_t successful = 0, failed = 0;
  double throughput_req_per_sec = 0;
  double mean_latency = 0;
  double p95_latency = 0;  // the lab's rule: sorted[int(n * 0.95)] for n > 1, else 0
};

struct ConcurrencyLevel {
  std::size_t concurrency = 0;
  EngineLevel hf, vllm;
  // vLLM throughput / HF throughput; 0 when HF had none.
  double throughput_ratio() const {
    return hf.throughput_req_per_sec > 0 ? vllm.throughput_req_per_sec / hf.throughput_req_per_sec : 0.0;
  }
};

// The lab's numbers for one run: latencies of the successful requests; failed counts interrupted ones too, so
// successful + failed is every request the level sent.
inline EngineLevel lab_engine_level(const RunResult& run) {
  EngineLevel e;
  std::vector<double> latency;
  for (const auto& r : run.records)
    if (!r.warmup && r.ok()) latency.push_back(r.latency_s());
  e.total_time = run.summary.wall_s;
  e.successful = run.summary.successful;
  e.failed = run.summary.failed + run.summary.interrupted;
  e.throughput_req_per_sec = run.summary.throughput_req_per_sec;
  if (!latency.empty()) {
    double sum = 0;
    for (double v : latency) sum += v;
    e.mean_latency = sum / static_cast<double>(latency.size());
  }
  if (latency.size() > 1) e.p95_latency = percentile(latency, 95, PercentileMethod::lab);
  return e;
}

// The levels where both "hf" and "vllm" ran, in the order of `levels`.
inline std::vector<ConcurrencyLevel> concurrency_levels(const std::vector<RunResult>& runs) {
  std::vector<ConcurrencyLevel> out;
  for (const auto& h : runs) {
    if (h.summary.target != "hf") continue;
    for (const auto& v : runs)
      if (v.summary.target == "vllm" && v.summary.level == h.summary.level)
        out.push_back({static_cast<std::size_t>(h.summary.level), lab_engine_level(h), lab_engine_level(v)});
  }
  return out;
}

// concurrent_benchmark.json exactly as the lab writes it: {"1": {"hf": {...}, "vllm": {...}}, "5": ...}, keys in
// run order, fields in the lab's order.
inline nlohmann::ordered_json concurrent_benchmark_json(const std::vector<ConcurrencyLevel>& levels) {
  auto engine = [](const EngineLevel& e) {
    return nlohmann::ordered_json{{"total_time", e.total_time},
                                  {"successful", e.successful},
                                  {"failed", e.failed},
                                  {"throughput_req_per_sec", e.throughput_req_per_sec},
                                  {"mean_latency", e.mean_latency},
                                  {"p95_latency", e.p95_latency}};
  };
  auto out = nlohmann::ordered_json::object();
  for (const auto& l : levels) out[std::to_string(l.concurrency)] = {{"hf", engine(l.hf)}, {"vllm", engine(l.vllm)}};
  return out;
}

// Reads a concurrent_benchmark.json (the lab's or ours), sorted by level. `origin` names it in errors. Throws
// std::runtime_error saying what is wrong: not JSON (truncated?), or not this file's shape.
inline std::vector<ConcurrencyLevel> parse_concurrent_benchmark(const std::string& text, const std::string& origin) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    throw std::runtime_error("'" + origin + "' is not valid JSON (truncated, or not a concurrent_benchmark.json?)");
  const std::string expected = " (expected the lab's concurrent_benchmark.json: {\"1\": {\"hf\": {...}, \"vllm\": "
                               "{...}}, ...})";
  if (!j.is_object() || j.empty()) throw std::runtime_error("'" + origin + "' is not a concurrency table" + expected);
  std::vector<ConcurrencyLevel> out;
  for (const auto& [key, level] : j.items()) {
    ConcurrencyLevel l;
    try {
      l.concurrency = static_cast<std::size_t>(cli::parse_integer("level", key, 1, 1000000));
    } catch (const cli::UsageError&) {
      throw std::runtime_error("'" + origin + "': key \"" + key + "\" is not a concurrency level" + expected);
    }
    for (const char* engine : {"hf", "vllm"}) {
      const auto it = level.is_object() ? level.find(engine) : level.end();
      if (it == level.end() || !it->is_object())
        throw std::runtime_error("'" + origin + "': level " + key + " has no \"" + engine + "\" object" + expected);
      EngineLevel& e = std::string(engine) == "hf" ? l.hf : l.vllm;
      try {
        e.throughput_req_per_sec = it->at("throughput_req_per_sec").get<double>();
        e.total_time = it->value("total_time", 0.0);
        e.successful = it->value("successful", std::size_t{0});
        e.failed = it->value("failed", std::size_t{0});
        e.mean_latency = it->value("mean_latency", 0.0);
        e.p95_latency = it->value("p95_latency", 0.0);
      } catch (const nlohmann::json::exception&) {
        throw std::runtime_error("'" + origin + "': level " + key + " " + engine +
                                 " lacks a numeric throughput_req_per_sec (or has a field of the wrong type)");
      }
      for (double v : {e.throughput_req_per_sec, e.total_time, e.mean_latency, e.p95_latency})
        if (!std::isfinite(v) || v < 0)
          throw std::runtime_error("'" + origin + "': level " + key + " " + engine + " has a negative or infinite value");
    }
    out.push_back(l);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.concurrency < b.concurrency; });
  return out;
}

inline std::vector<ConcurrencyLevel> read_concurrent_benchmark(const std::string& path) {
  return parse_concurrent_benchmark(read_file(path), path);
}

// The terminal table of a concurrency run: per level and engine the lab's columns (p95 here by linear
// interpolation, as in the full artifact) and the throughput ratio; then every failure, counted by kind.
inline void print_concurrency_runs(std::ostream& out, const std::vector<RunResult>& runs) {
  cli::Table table({"concurrency", "engine", "total s", "ok", "failed", "req/s", "mean s", "p95 s", "vLLM/HF"});
  const auto levels = concurrency_levels(runs);
  bool first = true;
  for (const auto& run : runs) {
    const auto& s = run.summary;
    if (s.target == "hf" && !first) table.separator();
    first = false;
    std::string ratio;
    if (s.target == "vllm")
      for (const auto& l : levels)
        if (static_cast<double>(l.concurrency) == s.level && l.throughput_ratio() > 0)
          ratio = detail::fixed(l.throughput_ratio(), 1) + "x";
    table.row({std::to_string(static_cast<long long>(s.level)), s.target == "hf" ? "HF" : "vLLM",
               detail::fixed(s.wall_s, 2), std::to_string(s.successful),
               std::to_string(s.failed + s.interrupted), detail::fixed(s.throughput_req_per_sec, 2),
               s.latency ? detail::fixed(s.latency->mean, 2) : "-", s.latency ? detail::fixed(s.latency->p95, 2) : "-",
               ratio});
  }
  table.print(out);
  for (const auto& run : runs) {
    const auto& s = run.summary;
    if (s.failed == 0 && s.interrupted == 0) continue;
    out << "  " << s.target << " at " << s.level << " concurrent:";
    if (s.failed) out << " " << s.failed << " failed";
    for (const auto& [kind, count] : s.failed_by_kind) out << ", " << count << " " << kind;
    if (s.interrupted) out << (s.failed ? ";" : "") << " " << s.interrupted << " interrupted (Ctrl-C)";
    for (const auto& r : run.records)
      if (!r.ok() && !r.interrupted()) {
        out << " (first: " << r.error_message << ")";
        break;
      }
    out << "\n";
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Task 2.4: charts.

// A chart subtitle from a full artifact's metadata: model, GPU (or the simulated presets) and the time scale.
inline std::string chart_subtitle(const RunMetadata& m) {
  // The model's name without its organisation keeps the subtitle on one line at 800 px.
  std::string s = m.model.substr(m.model.rfind('/') == std::string::npos ? 0 : m.model.rfind('/') + 1);
  if (!m.gpu.empty()) s += (s.empty() ? "" : " · ") + m.gpu;
  if (m.time_scale) {
    char factor[48];
    std::snprintf(factor, sizeof factor, "%gx speed", *m.time_scale);
    s += (s.empty() ? "" : " · ") + std::string(factor);
  }
  if (m.interrupted) s += (s.empty() ? "" : " · ") + std::string("interrupted run");
  return s;
}

inline chart::Series named_series(std::string name, bool dashed = false) {
  chart::Series s;
  s.name = std::move(name);
  s.dashed = dashed;
  return s;
}

inline std::vector<std::string> level_names(const std::vector<ConcurrencyLevel>& levels) {
  std::vector<std::string> out;
  for (const auto& l : levels) out.push_back(std::to_string(l.concurrency));
  return out;
}

// The lab's chart: throughput per level, HF beside vLLM, each pair labelled with vLLM's speedup.
inline chart::BarChart throughput_chart(const std::vector<ConcurrencyLevel>& levels, std::string subtitle = {}) {
  chart::BarChart c;
  c.title = "Throughput: HF baseline vs vLLM";
  c.subtitle = std::move(subtitle);
  c.x_label = "concurrent requests";
  c.y_label = "throughput (requests/s)";
  c.categories = level_names(levels);
  c.series = {named_series("HuggingFace"), named_series("vLLM")};
  for (const auto& l : levels) {
    c.series[0].values.push_back(l.hf.throughput_req_per_sec);
    c.series[1].values.push_back(l.vllm.throughput_req_per_sec);
  }
  return c;
}

// Mean (solid) and p95 (dashed) latency per level and engine, from the lab file's numbers.
inline chart::LineChart latency_chart(const std::vector<ConcurrencyLevel>& levels, std::string subtitle = {}) {
  chart::LineChart c;
  c.title = "Latency per request: mean and p95";
  c.subtitle = std::move(subtitle);
  c.x_label = "concurrent requests";
  c.y_label = "latency (s)";
  c.categories = level_names(levels);
  // The lab writes p95 = 0 for a single request; the p95 of one sample is that sample, which is the mean.
  const auto p95 = [](const EngineLevel& e) {
    return e.successful == 1 && e.p95_latency == 0 ? e.mean_latency : e.p95_latency;
  };
  c.series = {named_series("HF mean"), named_series("HF p95", true), named_series("vLLM mean"),
              named_series("vLLM p95", true)};
  for (const auto& l : levels) {
    c.series[0].values.push_back(l.hf.mean_latency);
    c.series[1].values.push_back(p95(l.hf));
    c.series[2].values.push_back(l.vllm.mean_latency);
    c.series[3].values.push_back(p95(l.vllm));
  }
  return c;
}

// Mean TTFT and TPOT (ms) per level for every engine whose replies were streamed; empty when none was.
inline std::optional<chart::TtftTpotChart> ttft_tpot_chart(const Artifact& full) {
  std::vector<double> levels;
  for (const auto& l : full.levels)
    if (l.summary.ttft && std::find(levels.begin(), levels.end(), l.summary.level) == levels.end())
      levels.push_back(l.summary.level);
  if (levels.empty()) return std::nullopt;
  std::sort(levels.begin(), levels.end());
  chart::TtftTpotChart c;
  c.title = "Streaming: time to first token and time per output token";
  c.subtitle = chart_subtitle(full.metadata);
  for (double level : levels) c.categories.push_back(std::to_string(static_cast<long long>(level)));
  for (const std::string target : {"hf", "vllm"}) {
    chart::Series ttft = named_series(target == "hf" ? "HF" : "vLLM"), tpot = ttft;
    bool any = false;
    for (double level : levels) {
      double t = 0, p = 0;
      for (const auto& l : full.levels)
        if (l.summary.target == target && l.summary.level == level) {
          if (l.summary.ttft) t = l.summary.ttft->mean * 1e3, any = true;
          if (l.summary.tpot) p = l.summary.tpot->mean * 1e3;
        }
      ttft.values.push_back(t);
      tpot.values.push_back(p);
    }
    if (any) c.ttft.push_back(ttft), c.tpot.push_back(tpot);
  }
  return c;
}

// Prints "Wrote:" and the paths, one per line.
inline void print_paths(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& files) {
  out << "\nWrote:\n";
  std::size_t width = 0;
  for (const auto& f : files) width = std::max(width, f.first.size());
  for (const auto& [path, what] : files) out << "  " << path << std::string(width - path.size() + 2, ' ') << what << "\n";
}

}  // namespace lab
}  // namespace servebench
