// The lab's programs' shared parts: the lab's constants (prompts, levels, model, colours, its percentile rule), the
// two servers under test (real ones by URL, or the embedded simulated HF-like and vLLM-like pair), the flags every
// lab program takes, the lab's exact file formats (single_request_comparison.json, concurrent_benchmark.json) and
// the tables printed in the terminal. Course material, so it lives beside the lab's programs, not in the library;
// examples/lab2_*.cpp put these together.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <servebench.hpp>
#include <servebench/metrics.hpp>
#include <servebench/sim.hpp>

#include "../common/cli.hpp"

namespace servebench {
namespace lab {

inline constexpr const char* lab_model = "meta-llama/Meta-Llama-3-8B-Instruct";
// The embedded servers run this much faster than the GPUs they model, so the whole lab takes seconds.
inline constexpr double default_time_scale = 20;
// The embedded pair: one provenance (the two servers measured side by side on one H200), so its ratios are the
// measured ones. --hf-preset / --vllm-preset pick others (each labelled with its provenance in --help).
inline constexpr const char* hf_preset = sim::measured_pair.hf;
inline constexpr const char* vllm_preset = sim::measured_pair.vllm;

// The lab's target labels and chart colours.
inline constexpr const char* hf_label = "hf";
inline constexpr const char* vllm_label = "vllm";
inline constexpr const char* hf_color = "#ff6b6b";
inline constexpr const char* vllm_color = "#4ecdc4";

// Part 2.2 (single-request comparison): three prompts, 100 tokens each.
inline constexpr std::array<const char*, 3> prompts{
    "Write a detailed explanation of how transformers work:",
    "Explain the concept of attention mechanism in neural networks:",
    "What are the key differences between GPT and BERT architectures?",
};
inline constexpr int prompt_max_tokens = 100;
// Part 2.3 (concurrency experiment): f"Question {i}: Explain concept {i} briefly." for i in range(n), 50 tokens.
inline constexpr const char* question_template = "Question {i}: Explain concept {i} briefly.";
inline constexpr int question_max_tokens = 50;
inline const std::vector<std::size_t> default_levels{1, 5, 10, 20};
// The lab's scripts report p95 as sorted(latencies)[int(len * 0.95)].
inline constexpr PercentileMethod lab_percentile = PercentileMethod::floor_rank;

// Something outside the command line stops the program before or after the run: a server that does not answer, an
// output directory that cannot be written. Programs exit with 2 and print the one-line message.
struct SetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Ctrl-C (or SIGTERM) while waiting for a real server: programs exit 130, as after an interrupted run.
struct Interrupted : SetupError {
  using SetupError::SetupError;
};

// What a lab program's main returns for an exception past the command line: 130 and a line for Interrupted, else
// the error line and 2.
inline int failed(const CLI::App& app, const std::exception& e) {
  if (dynamic_cast<const Interrupted*>(&e)) {
    std::cerr << app.get_name() << ": " << e.what() << "\n";
    return 130;
  }
  return examples::error(app, e.what());
}

// What every lab program may be asked. Defaults are the lab's.
struct Options {
  std::string hf_url, vllm_url;  // a side without a URL is an embedded simulated server (or skipped, in task 2.1)
  std::string model = lab_model;
  std::string api = "openai";     // the vLLM side's dialect: hf | openai | chat (the HF side is the lab's)
  bool stream = false;            // stream the vLLM side's replies (TTFT and TPOT); the lab's HF server cannot
  bool continuous_usage = false;  // ask the vLLM side for usage in every chunk (per-token ITL; vLLM accepts it)
  double time_scale = default_time_scale;
  std::string hf_preset = lab::hf_preset, vllm_preset = lab::vllm_preset;  // the embedded servers
  // The embedded servers have served before (task 2.3 follows 2.2 in the lab): no first-request warm-up.
  bool warmed = false;
  double run_variability = 0;  // the batching server's, off unless asked for (--variability)
  double wait_s = 10;          // how long to wait for real servers to answer
  double deadline_s = -1;      // each request's whole deadline; < 0: the driver's, derived from max_tokens; 0: none
  std::string out_dir = "artifacts";
  std::vector<std::size_t> concurrency = default_levels;
  std::size_t repeat = 1;            // repetitions of every level (task 2.3), interleaved across the servers
  int max_tokens = 0;                // 0: the lab's (100 for single requests, 50 for the concurrent runs)
  bool force_output_length = false;  // ask for exactly max_tokens where the API can (--output-tokens)
  bool quiet = false;
  bool skip_missing_side = false;
  // For real servers: hosted or internal endpoints.
  std::string api_key_env;           // the API key is read from this environment variable
  std::vector<std::string> headers;  // "Name: value"
  // The servers' own metrics (task 2.3): the embedded servers' always; a real server's with --metrics.
  bool metrics = false;
  std::string metrics_url;        // another address than the servers' /metrics (for every side)
  double metrics_interval_s = 0;  // 0: 1 s; embedded servers: 0.1 s of modelled time
  TlsOptions
      tls;  // --ca-cert, --insecure  // with one real server given, leave the other side out (task 2.1 checks one)

  bool simulated() const noexcept { return hf_url.empty() && vllm_url.empty(); }
  // Exactly one real server was given: task 2.1 checks it alone.
  bool one_real_server() const noexcept { return hf_url.empty() != vllm_url.empty(); }
  std::string path(const std::string& file) const { return out_dir + (out_dir.back() == '/' ? "" : "/") + file; }
};

// --api-key-env, --header, --ca-cert, --insecure, --deadline: what a hosted or internal endpoint needs.
inline void add_endpoint_flags(CLI::App& app, Options& o) {
  app.add_option("--deadline", o.deadline_s,
                 "seconds one whole request may take (default: 60 + 1 per max token; 0: no deadline)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--api-key-env", o.api_key_env, "send the API key in this environment variable (Bearer)")
      ->type_name("VAR");
  app.add_option("--header", o.headers, "another header for every request, 'Name: value' (repeatable)")
      ->type_name("'NAME: VALUE'")
      ->check([](const std::string& v) {
        const auto colon = v.find(':');
        return colon == std::string::npos || colon == 0 ? std::string("needs 'Name: value'") : std::string();
      });
  app.add_option("--ca-cert", o.tls.ca_cert_file, "trust the https server's certificate signed by this PEM CA")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  app.add_flag("--insecure", o.tls.insecure, "https without verifying the server's certificate (marked as such)");
}

// The API key in the variable --api-key-env names ("" without the flag); SetupError when it is not set.
inline std::string endpoint_api_key(const Options& o) {
  if (o.api_key_env.empty()) return {};
  const char* key = std::getenv(o.api_key_env.c_str());
  if (!key || !*key)
    throw SetupError("--api-key-env " + o.api_key_env + ": the environment variable is not set (export " +
                     o.api_key_env + "=... first)");
  return key;
}

// `d` with the endpoint flags applied: the API key (from endpoint_api_key), the --header lines and TLS.
inline DriverOptions with_endpoint(DriverOptions d, const Options& o, const std::string& api_key) {
  d.tls(o.tls);
  if (!api_key.empty()) d.api_key(api_key);
  if (o.deadline_s >= 0) d.deadline(std::chrono::milliseconds(static_cast<long long>(o.deadline_s * 1000)));
  for (const auto& h : o.headers) {
    const auto colon = h.find(':');
    const auto value = h.find_first_not_of(' ', colon + 1);
    d.header(h.substr(0, colon), value == std::string::npos ? std::string() : h.substr(value));
  }
  return d;
}

// --hf, --vllm, --model, --api, --stream, --time-scale, --wait.
inline void add_server_flags(CLI::App& app, Options& o) {
  app.add_option("--hf", o.hf_url, "the HF baseline server (lab API); default: an embedded simulated one")
      ->type_name("URL");
  app.add_option("--vllm", o.vllm_url, "the vLLM server; default: an embedded simulated one")->type_name("URL");
  app.add_option("--model", o.model, "model name sent to the vLLM server")->capture_default_str();
  app.add_option("--api", o.api, "the vLLM side's API: hf (lab-style), openai (/v1/completions), chat")
      ->check(CLI::IsMember({"hf", "openai", "chat"}))
      ->capture_default_str();
  app.add_flag("--stream", o.stream, "stream the vLLM side's replies (records TTFT and TPOT)");
  app.add_flag("--continuous-usage", o.continuous_usage,
               "with --stream: ask for usage in every chunk (vLLM's continuous_usage_stats), for per-token ITL");
  app.add_option("--time-scale", o.time_scale, "embedded servers run X times faster than real time")
      ->check(CLI::Range(0.01, 10000.0))
      ->capture_default_str();
  app.add_option("--hf-preset", o.hf_preset, "the HF side's embedded server (presets below)")
      ->check(CLI::IsMember(sim::preset_names()))
      ->capture_default_str();
  app.add_option("--vllm-preset", o.vllm_preset, "the vLLM side's embedded server (presets below)")
      ->check(CLI::IsMember(sim::preset_names()))
      ->capture_default_str();
  std::string presets = "Presets of the embedded servers (the default pair was measured side by side on one H200; see "
                        "docs/simulator.md):";
  for (const auto& p : sim::preset_infos()) presets += std::string("\n  ") + p.name + ": " + sim::provenance(p);
  app.footer(presets);
  app.add_option("--variability", o.run_variability,
                 "run-to-run variability of an embedded batching server: sigma of a log-normal factor on each busy "
                 "period's step times (0: off; the measured H200 server's: " +
                     servebench::detail::fixed(sim::measured_run_variability, 2) + ")")
      ->check(CLI::Range(0.0, 2.0))
      ->capture_default_str();
  app.add_option("--wait", o.wait_s, "seconds to wait for --hf/--vllm servers to answer")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  add_endpoint_flags(app, o);
}

// --metrics, --metrics-url, --metrics-interval: scrape the servers' Prometheus /metrics while each level runs.
inline void add_metrics_flags(CLI::App& app, Options& o) {
  app.add_flag("--metrics", o.metrics,
               "scrape each real server's /metrics during every level (the embedded servers' always are)");
  app.add_option("--metrics-url", o.metrics_url,
                 "scrape this address instead of each server's /metrics (implies --metrics)")
      ->type_name("URL");
  app.add_option("--metrics-interval", o.metrics_interval_s,
                 "seconds between scrapes (default 1; embedded servers: 0.1 of modelled time)")
      ->check(CLI::Range(0.001, 3600.0))
      ->type_name("SECONDS");
}

// Watches a level of `target` by scraping its server's metrics, or nothing: an embedded server is always scraped
// (it serves /metrics; every 0.1 s of modelled time, or --metrics-interval seconds of modelled time), a real one
// with --metrics or --metrics-url (every second, or --metrics-interval).
inline LevelWatcher metrics_watcher(const Options& o, bool embedded) {
  if (!embedded && !o.metrics && o.metrics_url.empty()) return {};
  ScrapeOptions scrape;
  // The embedded vLLM-like server finishes a level in about a modelled second: 0.1 s shows its batch fill and drain.
  scrape.interval_s = o.metrics_interval_s > 0 ? o.metrics_interval_s : embedded ? 0.1 : 1.0;
  if (embedded) scrape.interval_s /= o.time_scale;
  scrape.url = o.metrics_url;  // empty: each server's own /metrics
  scrape.tls = o.tls;
  return scrape_each_level(scrape);
}

// --out, --quiet.
inline void add_output_flags(CLI::App& app, Options& o) {
  app.add_option("--out", o.out_dir, "where the JSON files go")
      ->check([](const std::string& v) { return v.empty() ? std::string("needs a directory name") : std::string(); })
      ->capture_default_str();
  app.add_flag("--quiet", o.quiet, "print only the table and the file paths");
}

// --max-tokens, and --concurrency when the program runs concurrency levels.
inline void add_workload_flags(CLI::App& app, Options& o, bool with_concurrency_levels) {
  app.add_option("--max-tokens", o.max_tokens, "tokens per reply (default: the lab's)")->check(CLI::Range(1, 100000));
  if (with_concurrency_levels)
    app.add_option_function<std::string>(
           "--concurrency", [&o](const std::string& v) { o.concurrency = examples::split_sizes(v); },
           "concurrency levels, e.g. 1,5,10,20 (the lab's, the default)")
        ->check(examples::distinct_list(1, 10000));
}

// --repeat: every level K times, the servers interleaved (hf vllm hf vllm ...), after a warm-up per server.
inline void add_repeat_flag(CLI::App& app, Options& o) {
  app.add_option("--repeat", o.repeat,
                 "run every level K times, the servers interleaved, after one warm-up level each; the table shows "
                 "means with 95% confidence intervals (default 1: one run, no warm-up)")
      ->check(CLI::Range(1, 1000))
      ->type_name("K")
      ->capture_default_str();
}

// The flags that only make sense together. Throws examples::UsageError.
inline void check(const Options& o) {
  if (o.out_dir.empty()) throw examples::UsageError("--out needs a directory name");
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

// Writes text atomically (never half a file); SetupError naming the path when it cannot.
inline void write_text(const std::string& path, const std::string& text) {
  try {
    write_file_atomic(path, text);
  } catch (const std::exception& e) {
    throw SetupError(e.what());
  }
}
template <class Json>
void write_json(const std::string& path, const Json& value) {
  write_text(path, value.dump(2) + "\n");
}

// The two servers under test. A side given by URL is a real server, waited for (wait_until_ready); a side without
// one is an embedded simulated server on a free port of 127.0.0.1, from its preset (by default the pair measured side
// by side on one H200: the lab's HF server and a continuous-batching one), run `time_scale` times faster than real
// time; modelled() restates its levels in modelled GPU time. The log says which side is which and where each
// preset's numbers come from.
class Servers {
 public:
  // Throws SetupError when a real server does not answer within options.wait_s.
  explicit Servers(Options options, std::ostream* log = nullptr) : options_(std::move(options)) {
    api_key_ = endpoint_api_key(options_);
    if (options_.tls.insecure && log)
      *log << "warning: --insecure: https servers' certificates are not verified (recorded in the artifact)\n";
    const bool skip = options_.skip_missing_side && options_.one_real_server();
    if (options_.hf_url.empty() && skip) {
      if (log) *log << "HF side: skipped (no --hf URL)\n";
    } else if (options_.hf_url.empty()) {
      hf_ = embedded(options_.hf_preset, sim::ApiFlavour::hf, "HF", log);
      hf_url_ = hf_->url();
    } else {
      hf_url_ = wait_for("HF", options_.hf_url, log);
    }
    if (options_.vllm_url.empty() && skip) {
      if (log) *log << "vLLM side: skipped (no --vllm URL)\n";
    } else if (options_.vllm_url.empty()) {
      vllm_ = embedded(options_.vllm_preset, options_.api == "hf" ? sim::ApiFlavour::hf : sim::ApiFlavour::openai,
                       "vLLM", log);
      vllm_url_ = vllm_->url();
    } else {
      vllm_url_ = wait_for("vLLM", options_.vllm_url, log);
    }
    // (The tables say once that their times are modelled GPU time, and at which time scale the servers ran.)
    if (log && hf_ && vllm_ &&
        std::string(sim::preset_info(options_.hf_preset).machine) != sim::preset_info(options_.vllm_preset).machine)
      *log << "warning: the two presets come from different machines; their ratio is not one that was measured\n";
  }

  // True when any side is an embedded simulated server.
  bool simulated() const noexcept { return hf_ || vllm_; }
  bool hf_simulated() const noexcept { return static_cast<bool>(hf_); }
  bool vllm_simulated() const noexcept { return static_cast<bool>(vllm_); }
  const std::string& hf_url() const noexcept { return hf_url_; }
  const std::string& vllm_url() const noexcept { return vllm_url_; }
  std::optional<double> time_scale() const {
    return simulated() ? std::optional<double>(options_.time_scale) : std::nullopt;
  }

  // A level as tables and files show it: in modelled GPU time when its target is an embedded server, as measured
  // when it is a real one. The one place the lab programs convert.
  LevelResult modelled(LevelResult level) const {
    const bool is_embedded = (level.target.label == hf_label && hf_simulated()) ||
                             (level.target.label == vllm_label && vllm_simulated());
    return is_embedded ? to_modelled_time(std::move(level), options_.time_scale, origin_) : level;
  }

  // "hf" speaks the lab's API; "vllm" speaks --api, streaming if --stream. Every worker gets its own Driver. A
  // skipped side has no target.
  std::vector<Target> targets() const {
    const auto options = [this](const char* label, const std::string& url, bool stream) {
      auto o = with_endpoint(DriverOptions().label(label).base_url(url).model(options_.model).stream(stream), options_,
                             api_key_);
      o.continuous_usage_stats(stream && options_.continuous_usage);
      o.force_output_length(options_.force_output_length);
      return o;
    };
    std::vector<Target> out;
    if (!hf_url_.empty()) out.push_back(make_target<api::hf_simple>(options(hf_label, hf_url_, false)));
    if (vllm_url_.empty()) return out;
    const auto v = options(vllm_label, vllm_url_, options_.stream);
    if (options_.api == "hf")
      out.push_back(make_target<api::hf_simple>(v));
    else if (options_.api == "chat")
      out.push_back(make_target<api::openai_chat>(v));
    else
      out.push_back(make_target<api::openai_completions>(v));
    return out;
  }

  // The artifact's metadata: command line, model, and the time scale and presets when simulated.
  RunMetadata metadata(int argc, const char* const* argv,
                       nlohmann::json configuration = nlohmann::json::object()) const {
    RunMetadata m;
    m.command_line.assign(argv, argv + argc);
    configuration["stream"] = options_.stream;
    configuration["api"] = options_.api;
    const auto side = [](const std::unique_ptr<sim::Server>& sim_server, const std::string& preset,
                         const std::string& url) {
      return sim_server ? "embedded " + preset : url.empty() ? std::string("skipped") : "real " + url;
    };
    configuration["hf_side"] = side(hf_, options_.hf_preset, hf_url_);
    configuration["vllm_side"] = side(vllm_, options_.vllm_preset, vllm_url_);
    // Each embedded server's provenance, and its parameters as run.
    for (const auto& [label, server, name] : {std::make_tuple(hf_label, hf_.get(), options_.hf_preset),
                                              std::make_tuple(vllm_label, vllm_.get(), options_.vllm_preset)}) {
      if (!server) continue;
      const auto& info = sim::preset_info(name);
      const auto& e = server->options().engine_config();
      configuration["presets"][label] = {{"preset", info.name},
                                         {"machine", info.machine},
                                         {"engine", info.engine},
                                         {"source", info.source},
                                         {"first_request_extra_ms", e.first_request_extra_ms},
                                         {"run_variability", e.run_variability}};
    }
    m.configuration = std::move(configuration);
    m.model = options_.model;
    if (simulated()) {
      m.time_scale = options_.time_scale;
      const std::string hf = hf_ ? options_.hf_preset : "real", vllm = vllm_ ? options_.vllm_preset : "real";
      m.gpu = "sim " + hf + " / " + vllm;
    }
    return m;
  }

 private:
  // Starts the embedded server of one side from its preset, at the time scale, and says which it is.
  std::unique_ptr<sim::Server> embedded(const std::string& name, sim::ApiFlavour api, const char* side,
                                        std::ostream* log) const {
    auto o = sim::preset(name).time_scale(options_.time_scale).model(options_.model).api(api);
    if (options_.warmed) o.first_request_extra_ms(0);
    if (o.engine() == sim::EngineKind::continuous_batching) o.run_variability(options_.run_variability);
    auto server = std::make_unique<sim::Server>(o);
    server->start();
    // One GET /health before anything is timed: a process's first connection pays for loading the resolver, ~0.1 s
    // that the time scale would multiply into seconds of modelled time on the first request. The engine is untouched.
    wait_until_ready(server->url(), std::chrono::seconds(5), nullptr);
    if (log)
      *log << side << " side: embedded simulated server " << name << " at " << server->url() << " (no --"
           << (side[0] == 'H' ? "hf" : "vllm") << " URL)\n  " << sim::provenance(sim::preset_info(name))
           << (options_.warmed ? "; warmed (no first-request delay)" : "") << "\n";
    return server;
  }

  // Waits for a real server; returns its URL or throws SetupError naming it and the fix.
  std::string wait_for(const std::string& name, const std::string& url, std::ostream* log) const {
    if (log) *log << "Waiting for the " << name << " server at " << url << " ...\n";
    const auto ready = wait_until_ready(url, std::chrono::milliseconds(static_cast<long long>(options_.wait_s * 1000)),
                                        nullptr, options_.tls);
    if (ready.interrupted) throw Interrupted("interrupted while waiting for the " + name + " server at " + url);
    if (!ready && ready.tls_failed) throw SetupError("the " + name + " server at " + url + ": " + ready.reason);
    if (!ready) {
      char waited[32];
      std::snprintf(waited, sizeof waited, "%g s", options_.wait_s);
      throw SetupError("the " + name + " server at " + url + " did not answer within " + waited + " (" + ready.reason +
                       "); start it, check the URL, or raise --wait");
    }
    if (log) *log << name << " side: " << url << " is up (" << ready.probe << ")\n";
    return url;
  }

  Options options_;
  Nanos origin_ = now_ns();  // every level stretched about one instant before the first: their order stays
  std::unique_ptr<sim::Server> hf_, vllm_;
  std::string hf_url_, vllm_url_;
  std::string api_key_;
};

// The lab programs' LevelWatcher: each side's metrics_watcher(), the embedded side scraped even without --metrics.
inline LevelWatcher metrics_watcher(const Options& o, const Servers& servers) {
  const LevelWatcher hf = metrics_watcher(o, servers.hf_simulated());
  const LevelWatcher vllm = metrics_watcher(o, servers.vllm_simulated());
  if (!hf && !vllm) return {};
  return [hf, vllm](const TargetInfo& target) -> std::function<void(LevelResult&)> {
    const LevelWatcher& side = target.label == hf_label ? hf : vllm;
    return side ? side(target) : std::function<void(LevelResult&)>();
  };
}

// The report options of every lab table and chart: baseline "hf", the lab's colours.
inline ReportOptions report_options(std::string subtitle = {}) {
  ReportOptions o;
  o.baseline = hf_label;
  o.colors = {{hf_label, hf_color}, {vllm_label, vllm_color}};
  o.subtitle = std::move(subtitle);
  return o;
}

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
inline std::vector<SingleRequest> pair_single_requests(const LevelResult& hf, const LevelResult& vllm,
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

using servebench::detail::fixed;
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
  Table table({"prompt", "HF s", "HF tok/s", "vLLM s", "vLLM tok/s", "speedup"});
  double sum = 0;
  std::size_t n = 0;
  for (const auto& r : rows) {
    auto rate = [](const RequestRecord& x) {
      return x.ok() && x.latency_s() > 0 ? detail::fixed(static_cast<double>(x.n_out) / x.latency_s(), 1) : "-";
    };
    table.row({detail::first_code_points(r.prompt, 40) + (r.prompt.size() > 40 ? "..." : ""), outcome(r.hf), rate(r.hf),
               outcome(r.vllm), rate(r.vllm), r.speedup() > 0 ? detail::fixed(r.speedup(), 1) + "x" : "-"});
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
inline EngineLevel lab_engine_level(const LevelResult& run) {
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
  if (latency.size() > 1) e.p95_latency = percentile(latency, 95, lab_percentile);
  return e;
}

// The levels where both "hf" and "vllm" ran, in the order of `levels`; of repeated levels the first repetition (the
// lab's file has one entry per level; the full artifact holds every repetition and their intervals).
inline std::vector<ConcurrencyLevel> concurrency_levels(const std::vector<LevelResult>& runs) {
  std::vector<ConcurrencyLevel> out;
  for (const auto& h : runs) {
    if (h.target.label != hf_label || h.repetition != 0) continue;
    for (const auto& v : runs)
      if (v.target.label == vllm_label && v.repetition == 0 && v.summary.level == h.summary.level)
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
    const auto number = examples::whole_number(key, 1, 1000000);
    if (!number)
      throw std::runtime_error("'" + origin + "': key \"" + key + "\" is not a concurrency level" + expected);
    l.concurrency = static_cast<std::size_t>(*number);
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
          throw std::runtime_error("'" + origin + "': level " + key + " " + engine +
                                   " has a negative or infinite value");
    }
    out.push_back(l);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.concurrency < b.concurrency; });
  return out;
}

inline std::vector<ConcurrencyLevel> read_concurrent_benchmark(const std::string& path) {
  return parse_concurrent_benchmark(read_file(path), path);
}

// ---------------------------------------------------------------------------------------------------------------
// Task 2.4: charts.

// A chart subtitle from a full artifact: model, GPU (or the simulated presets) and the time scale.
inline std::string chart_subtitle(const Artifact& full) {
  const RunMetadata& m = full.metadata;
  // The model's name without its organisation keeps the subtitle on one line at 800 px.
  std::string s = m.model.substr(m.model.rfind('/') == std::string::npos ? 0 : m.model.rfind('/') + 1);
  if (!m.gpu.empty()) s += (s.empty() ? "" : " · ") + m.gpu;
  if (m.time_scale) {
    char factor[48];
    std::snprintf(factor, sizeof factor, "modelled GPU time (sim %gx)", *m.time_scale);
    s += (s.empty() ? "" : " · ") + std::string(factor);
  }
  if (full.interrupted()) s += (s.empty() ? "" : " · ") + std::string("interrupted run");
  return s;
}

inline chart::Series named_series(std::string name, const char* color, bool dashed = false) {
  chart::Series s;
  s.name = std::move(name);
  s.color = color;
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
  c.series = {named_series("HuggingFace", hf_color), named_series("vLLM", vllm_color)};
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
  c.series = {named_series("HF mean", hf_color), named_series("HF p95", hf_color, true),
              named_series("vLLM mean", vllm_color), named_series("vLLM p95", vllm_color, true)};
  for (const auto& l : levels) {
    c.series[0].values.push_back(l.hf.mean_latency);
    c.series[1].values.push_back(p95(l.hf));
    c.series[2].values.push_back(l.vllm.mean_latency);
    c.series[3].values.push_back(p95(l.vllm));
  }
  return c;
}

// Prints "Wrote:" and the paths, one per line.
inline void print_paths(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& files) {
  out << "\nWrote:\n";
  std::size_t width = 0;
  for (const auto& f : files) width = std::max(width, f.first.size());
  for (const auto& [path, what] : files)
    out << "  " << path << std::string(width - path.size() + 2, ' ') << what << "\n";
}

}  // namespace lab
}  // namespace servebench
