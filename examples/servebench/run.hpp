// `servebench run`: its flags (kept as JSON under the flags' own names, so `run --from` can repeat a run and
// override any flag), the targets NAME=DIALECT@URL, the workload, this process's shard of the run, the levels and
// repetitions, the progress lines, and the files --out writes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <servebench.hpp>
#include <servebench/event_loop.hpp>
#include <servebench/html_report.hpp>
#include <servebench/metrics.hpp>
#include <servebench/workloads.hpp>

#include "../common/cli.hpp"
#include "../lab/lab.hpp"
#include "../lab/workload_flags.hpp"

namespace servebench {
namespace command {

inline constexpr int exit_interrupted = 130;

// Every flag of `run`. visit_recorded_flags() names them, so a recorded run reads back flag by flag.
struct RunOptions {
  std::vector<std::string> target;
  std::string model = lab::lab_model;
  bool stream = false;
  std::string concurrency, rate;  // comma-separated levels; exactly one of them
  std::string arrival = "poisson";
  double burstiness = 1;
  std::uint64_t seed = 0;
  std::uint64_t requests = 0;
  double duration = 0;
  std::uint64_t warmup = 0;
  int repeat = 1;
  std::string slo;
  std::string prompts;  // a JSONL file of {"prompt": ..., "max_tokens": ...}
  std::string prompt_template = lab::question_template;
  int max_tokens = lab::question_max_tokens;
  double wait = 30;
  std::string shard = "0/1";
  std::string start_at;
  bool no_records = false;
  std::string transport = "threads";  // "threads" (cpp-httplib, a thread per stream) or "event-loop"
  std::size_t loop_threads = 0;       // event loop: its threads (0: one per core)
  lab::Options endpoint;  // --api-key-env, --header, --ca-cert, --insecure, --metrics... (the lab programs' flags)
  lab::WorkloadFlags workload;  // --dataset and its flags (the lab programs' spelling); its seed is --seed
  // How the run is shown and where it goes: not part of what a run is (merge and compare ignore them).
  std::string out;
  bool quiet = false;
  double progress_interval = 10;
};

// The flags that describe what a run does, each named once: `visit(name, member)` for every flag that `run` records
// and `run --from` reads back, the name the flag's own without "--". `out`, `quiet`, progress and the shard index are
// how one process ran it, not recorded. `Options` is RunOptions or const RunOptions.
template <class Options, class Visit>
void visit_recorded_flags(Options& o, Visit&& visit) {
  visit("target", o.target), visit("model", o.model), visit("stream", o.stream);
  visit("concurrency", o.concurrency), visit("rate", o.rate), visit("arrival", o.arrival);
  visit("burstiness", o.burstiness), visit("seed", o.seed), visit("requests", o.requests);
  visit("duration", o.duration), visit("warmup", o.warmup), visit("repeat", o.repeat), visit("slo", o.slo);
  visit("prompts", o.prompts), visit("prompt-template", o.prompt_template), visit("max-tokens", o.max_tokens);
  visit("wait", o.wait), visit("shard", o.shard), visit("start-at", o.start_at), visit("no-records", o.no_records);
  visit("transport", o.transport), visit("loop-threads", o.loop_threads);
  visit("api-key-env", o.endpoint.api_key_env), visit("header", o.endpoint.headers);
  visit("ca-cert", o.endpoint.tls.ca_cert_file), visit("insecure", o.endpoint.tls.insecure);
  visit("deadline", o.endpoint.deadline_s), visit("metrics", o.endpoint.metrics);
  visit("metrics-url", o.endpoint.metrics_url), visit("metrics-interval", o.endpoint.metrics_interval_s);
  visit("dataset", o.workload.dataset), visit("dataset-path", o.workload.dataset_path);
  visit("input-tokens", o.workload.input_tokens), visit("output-tokens", o.workload.output_tokens);
  visit("range-ratio", o.workload.range_ratio), visit("prefix-tokens", o.workload.prefix_tokens);
  visit("groups", o.workload.groups), visit("turns", o.workload.turns), visit("ramp-up", o.workload.ramp_up);
  visit("sample-with-replacement", o.workload.with_replacement);
}

inline nlohmann::json to_json(const RunOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  visit_recorded_flags(o, [&j](const char* name, const auto& member) { j[name] = member; });
  return j;
}

// A recorded run's flags (configuration.run); a flag it lacks keeps its default.
inline RunOptions run_options_from_json(const nlohmann::json& j) {
  RunOptions o;
  visit_recorded_flags(o, [&j](const char* name, auto& member) {
    if (j.contains(name)) j.at(name).get_to(member);
  });
  o.workload.seed = o.seed;
  return o;
}

// The part of the recorded flags that must agree between shards of one run (everything but the shard index).
inline nlohmann::json run_identity(nlohmann::json run) {
  if (run.contains("shard") && run["shard"].is_string()) {
    const std::string s = run["shard"].get<std::string>();
    run["shard"] = s.substr(s.find('/') == std::string::npos ? 0 : s.find('/') + 1);  // the count alone
  }
  return run;
}

// --target NAME=DIALECT@URL.
struct TargetSpec {
  std::string name, dialect, url;
};

inline const std::vector<std::string>& dialects() {
  static const std::vector<std::string> names = {"hf", "openai", "chat", "tgi"};
  return names;
}

// Throws UsageError naming what is wrong and the fix.
inline TargetSpec parse_target(const std::string& text) {
  const std::string example = " (expected NAME=DIALECT@URL, e.g. vllm=openai@http://127.0.0.1:8000)";
  const auto eq = text.find('=');
  const auto at = eq == std::string::npos ? std::string::npos : text.find('@', eq);
  if (eq == std::string::npos || at == std::string::npos || eq == 0)
    throw examples::UsageError("--target '" + text + "' is malformed" + example);
  TargetSpec t{text.substr(0, eq), text.substr(eq + 1, at - eq - 1), text.substr(at + 1)};
  if (t.name.find_first_of(" ,/") != std::string::npos)
    throw examples::UsageError("--target '" + text + "': the name may not hold spaces, commas or slashes" + example);
  if (std::find(dialects().begin(), dialects().end(), t.dialect) == dialects().end())
    throw examples::UsageError("--target '" + text + "': unknown dialect '" + t.dialect +
                               "' (use hf, openai, chat or tgi)");
  if (t.url.rfind("http://", 0) != 0 && t.url.rfind("https://", 0) != 0)
    throw examples::UsageError("--target '" + text + "': the URL must start with http:// or https://" + example);
  return t;
}

// The target of --target's dialect over --transport: the default one (a thread per stream), or the event loop.
template <class Api>
Target make_transport_target(const DriverOptions& d, const RunOptions& o) {
  if (o.transport == "event-loop") return make_event_loop_target<Api>(d, EventLoopOptions{o.loop_threads});
  return make_target<Api>(d);
}

// Throws UsageError when --transport cannot carry the target: checked with the command line, before any probe.
inline void check_transport(const TargetSpec& t, const RunOptions& o) {
  if (o.transport == "event-loop" && t.url.rfind("https://", 0) == 0)
    throw examples::UsageError("--target " + t.name + ": --transport event-loop speaks plain http only (" + t.url +
                               "); drop --transport for https");
}

inline Target make_dialect_target(const TargetSpec& t, const DriverOptions& d, const RunOptions& o) {
  if (t.dialect == "hf") return make_transport_target<api::hf_simple>(d, o);
  if (t.dialect == "chat") return make_transport_target<api::openai_chat>(d, o);
  if (t.dialect == "tgi") return make_transport_target<api::tgi>(d, o);
  return make_transport_target<api::openai_completions>(d, o);
}

// --slo ttft=S,tpot=S,latency=S (any of them).
inline Slo parse_slo(const std::string& text) {
  Slo slo;
  if (text.empty()) return slo;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto eq = item.find('=');
    double value = -1;
    std::size_t used = 0;
    try {
      value = std::stod(item.substr(eq == std::string::npos ? item.size() : eq + 1), &used);
    } catch (const std::exception&) {
    }
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos || used != item.size() - eq - 1 || !(value > 0) ||
        (key != "ttft" && key != "tpot" && key != "latency"))
      throw examples::UsageError("--slo '" + text + "': expected ttft=S,tpot=S,latency=S with seconds > 0 (e.g. " +
                                 "ttft=0.5,tpot=0.05)");
    (key == "ttft" ? slo.ttft_s : key == "tpot" ? slo.tpot_s : slo.latency_s) = value;
    if (comma == std::string::npos) return slo;
    start = comma + 1;
  }
}

// --shard I/N.
struct Shard {
  std::uint64_t index = 0, count = 1;
  // This shard's part of `total`: total / count, the first total % count shards one more.
  std::uint64_t share(std::uint64_t total) const { return total / count + (index < total % count ? 1 : 0); }
};

inline Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  const auto count = examples::whole_number(text.substr(slash == std::string::npos ? 0 : slash + 1), 1, 100000);
  const auto index = slash == std::string::npos ? std::nullopt
                                                : examples::whole_number(text.substr(0, slash), 0, 100000);
  if (!index || !count || *index >= *count)
    throw examples::UsageError("--shard '" + text + "': expected I/N with 0 <= I < N (e.g. 2/4 for the third of four)");
  return {static_cast<std::uint64_t>(*index), static_cast<std::uint64_t>(*count)};
}

// --start-at 2026-12-01T22:40:00Z (UTC, optional fraction of a second): nanoseconds since 1970.
inline std::int64_t parse_utc_time(const std::string& text) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0;
  double second = 0;
  char zone = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%c", &year, &month, &day, &hour, &minute, &second, &zone) !=
          7 ||
      zone != 'Z' || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second < 0 ||
      second >= 61)
    throw examples::UsageError("--start-at '" + text + "': expected a UTC time like 2026-12-01T22:40:00Z " +
                               "(e.g. $(date -u -d '+10 seconds' +%Y-%m-%dT%H:%M:%SZ))");
  tm.tm_year = year - 1900, tm.tm_mon = month - 1, tm.tm_mday = day, tm.tm_hour = hour, tm.tm_min = minute;
  const auto whole = static_cast<std::int64_t>(timegm(&tm));
  return whole * 1'000'000'000 + static_cast<std::int64_t>(second * 1e9);
}

// Counts finished requests for the plain progress line.
struct Counters {
  std::atomic<std::uint64_t> done{0}, failed{0}, levels_done{0};
  // Each measured record as its level keeps it (RunOptions::record_sink), whichever transport sent it.
  void count(const RequestRecord& r) {
    ++done;
    if (!r.ok() && !r.interrupted()) ++failed;
  }
};

// When stderr is not a terminal (a log, a CI job, mpirun), a plain line every `interval` seconds.
class PlainProgress {
 public:
  PlainProgress(const Counters& counters, std::size_t levels, double interval_s, std::string prefix)
      : counters_(counters), levels_(levels), interval_(interval_s), prefix_(std::move(prefix)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~PlainProgress() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::duration<double>(interval_), [this] { return stop_; })) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "%s%.0f s: %llu/%zu levels done, %llu requests done, %llu failed\n", prefix_.c_str(),
                   elapsed, static_cast<unsigned long long>(counters_.levels_done.load()), levels_,
                   static_cast<unsigned long long>(counters_.done.load()),
                   static_cast<unsigned long long>(counters_.failed.load()));
      std::fflush(stderr);
    }
  }
  const Counters& counters_;
  std::size_t levels_;
  double interval_;
  std::string prefix_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// This shard's workload: request k of shard I of N is request k * N + I of the whole run.
inline Workload shard_workload(const Workload& whole, Shard shard) {
  if (shard.count == 1) return whole;
  return Workload([whole, shard](std::uint64_t k) { return whole.at(k * shard.count + shard.index); }, std::nullopt,
                  whole.name());
}

}  // namespace command
}  // namespace servebench

namespace servebench {
namespace command {

// "1,4,16" or "2.5,5": the levels, checked.
inline std::vector<double> parse_rates(const std::string& text) {
  std::vector<double> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !(v > 0) || v > 1e6)
      throw examples::UsageError("--rate '" + text + "': expected positive request rates like 2,5,10");
    out.push_back(v);
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// DIR/results.json, DIR/report.md, DIR/report.html and the charts (means over the repetitions), each written whole
// or not at all.
inline void write_run_files(const std::string& dir, const Artifact& artifact, bool records, const ReportOptions& report,
                            std::ostream& out) {
  const auto path = [&dir](const char* file) { return dir + (dir.back() == '/' ? "" : "/") + file; };
  const std::vector<LevelResult>& levels = artifact.levels;
  std::vector<std::pair<std::string, std::string>> files;
  try {
    write_artifact(path("results.json"), artifact, records);
    files.push_back({path("results.json"), "the full artifact"});
    std::ostringstream md;
    print_markdown_report(md, artifact, report);
    write_file_atomic(path("report.md"), md.str());
    files.push_back({path("report.md"), "the report"});
    write_html_report(path("report.html"), artifact, report);
    files.push_back({path("report.html"), "the report for a browser: tables, charts, request timelines"});
    if (!levels.empty()) {
      chart::write_svg(path("throughput.svg"), chart::render_grouped_bars(throughput_chart(levels, report)));
      files.push_back({path("throughput.svg"), "throughput per level"});
      chart::write_svg(path("latency.svg"), chart::render_lines(latency_chart(levels, report)));
      files.push_back({path("latency.svg"), "latency per level"});
      if (const auto streaming = ttft_tpot_chart(levels, report)) {
        chart::write_svg(path("ttft_tpot.svg"), chart::render_ttft_tpot(*streaming));
        files.push_back({path("ttft_tpot.svg"), "TTFT and TPOT per level"});
      }
    }
  } catch (const std::exception& e) {
    throw lab::SetupError(e.what());
  }
  lab::print_paths(out, files);
}

// Checks the options, runs, prints the table and writes --out. Returns the exit code.
inline int run_command(const RunOptions& o, int argc, char** argv, std::ostream& out) {
  // Everything that can be wrong with the command line, before anything runs or is written.
  if (o.target.empty())
    throw examples::UsageError("no --target: give at least one NAME=DIALECT@URL, e.g. --target "
                               "vllm=openai@http://127.0.0.1:8000");
  std::vector<TargetSpec> specs;
  for (const auto& t : o.target) {
    specs.push_back(parse_target(t));
    check_transport(specs.back(), o);
    for (std::size_t i = 0; i + 1 < specs.size(); ++i)
      if (specs[i].name == specs.back().name)
        throw examples::UsageError("--target name '" + specs.back().name + "' is used twice; give each its own name");
  }
  if (o.concurrency.empty() == o.rate.empty())
    throw examples::UsageError("give either --concurrency LIST (closed loop) or --rate LIST (open loop)");
  if (o.requests && o.duration > 0) throw examples::UsageError("give either --requests or --duration, not both");
  const bool closed = !o.concurrency.empty();
  const Shard shard = parse_shard(o.shard);
  const Slo slo = parse_slo(o.slo);
  const std::int64_t start_at = o.start_at.empty() ? 0 : parse_utc_time(o.start_at);  // 0: start now
  lab::check_dataset_flags(o.workload, !closed);
  if (!o.workload.dataset.empty() && !o.prompts.empty())
    throw examples::UsageError("give either --prompts FILE or --dataset, not both");
  if (!o.workload.ramp_up.empty() && o.workload.dataset == "trace")
    throw examples::UsageError("--ramp-up and --dataset trace both set the arrival times; give one");
  Workload whole = o.prompts.empty() ? template_prompts(o.prompt_template, o.max_tokens)
                                     : jsonl_prompts(o.prompts, o.max_tokens);
  const auto level_requests = [&](std::uint64_t fallback) {
    return o.requests ? o.requests : o.duration > 0 ? 0 : fallback;
  };
  std::uint64_t total_requests = level_requests(whole.size().value_or(100));
  if (!o.workload.ramp_up.empty() && !o.requests && !(o.duration > 0)) total_requests = 0;  // the run lasts the ramp
  if (total_requests && shard.share(total_requests) == 0)
    throw examples::UsageError("--shard " + o.shard + ": " + std::to_string(total_requests) +
                               " requests leave this shard none; use fewer shards or more --requests");
  std::vector<std::size_t> concurrency;
  std::vector<double> rates;
  if (closed) {
    for (std::size_t c : examples::split_sizes(o.concurrency)) {
      if (shard.share(c) == 0)
        throw examples::UsageError("--concurrency " + std::to_string(c) + " is below the shard count " +
                                   std::to_string(shard.count) + "; give every shard at least one worker");
      concurrency.push_back(static_cast<std::size_t>(shard.share(c)));
    }
  } else {
    for (double r : parse_rates(o.rate)) rates.push_back(r / static_cast<double>(shard.count));
  }
  const std::string api_key = lab::endpoint_api_key(o.endpoint);

  // The targets, each waited for.
  std::vector<Target> targets;
  Counters counters;
  for (const auto& spec : specs) {
    const auto ready = wait_until_ready(spec.url, std::chrono::milliseconds(static_cast<long long>(o.wait * 1000)),
                                        nullptr, o.endpoint.tls);
    if (!ready)
      throw lab::SetupError("target " + spec.name + " at " + spec.url + " did not become ready within " +
                            detail::fixed(o.wait, 0) + " s (" + ready.reason +
                            "); start it, check the URL, or raise --wait");
    Target t = make_dialect_target(
        spec,
        lab::with_endpoint(
            DriverOptions().label(spec.name).base_url(spec.url).model(o.model).stream(o.stream).force_output_length(
                o.workload.output_tokens > 0),
            o.endpoint, api_key),
        o);
    targets.push_back(std::move(t));
  }
  if (!o.out.empty()) lab::check_output_dir(o.out);  // fail now, not after the run

  // --dataset: the prompts, the same for every target, counted by the tokenizer (POST /tokenize) of the first target
  // that has one; with none, by the first target's approximation, and the artifact says so.
  nlohmann::json workload_description = {{"dataset", o.prompts.empty() ? "template" : "jsonl"}};
  std::vector<Nanos> schedule;
  std::size_t turns = 1;
  if (!o.workload.dataset.empty()) {
    const TargetSpec* counter = &specs.front();
    for (const auto& spec : specs) {
      ServerTokenizer probe(lab::with_endpoint(DriverOptions().base_url(spec.url).model(o.model), o.endpoint, api_key),
                            spec.dialect == "chat");
      if (probe.available()) {
        counter = &spec;
        break;
      }
    }
    lab::WorkloadFlags flags = o.workload;
    flags.seed = o.seed;  // one --seed: the arrivals' and the prompts'
    if (flags.dataset == "trace" && shard.count > 1)
      throw examples::UsageError("--dataset trace with --shard: every shard would replay the whole trace; run it "
                                 "from one process");
    const auto counted_by = lab::with_endpoint(DriverOptions().base_url(counter->url).model(o.model), o.endpoint,
                                               api_key);
    const bool chat = counter->dialect == "chat";
    std::optional<BuiltWorkload> built;
    if (o.workload.dataset == "trace") {
      auto trace = lab::build_trace(flags, counted_by, chat);
      built = std::move(trace.built);
      schedule = std::move(trace.offsets);
      if (!o.requests && !(o.duration > 0)) total_requests = schedule.size();
    } else {
      turns = flags.dataset == "multiturn" ? static_cast<std::size_t>(flags.turns) : 1;
      const std::uint64_t needed = total_requests ? (total_requests + turns - 1) / turns : 100;
      built = lab::build_dataset(flags, counted_by, chat, needed, o.max_tokens, !closed);
      if (turns > 1 && total_requests) total_requests = needed * turns;
    }
    const bool wants_exact = flags.dataset == "random" || flags.dataset == "prefix" || flags.dataset == "trace";
    if (wants_exact && !built->exact)  // said even with --quiet: the prompts are not the lengths asked for
      std::cerr << "servebench: warning: " << built->note
                << "; for exact lengths give a --target whose server answers POST /tokenize with {\"tokens\": [...]} "
                   "(vLLM, SGLang, llama.cpp)\n";
    else if (!o.quiet)
      std::cerr << "servebench: workload " << built->workload.name() << "; " << built->note << "\n";
    whole = built->workload;
    workload_description = built->description;
  }

  const SummarizeOptions summarize{PercentileMethod::linear, slo};
  const bool quiet = o.quiet || !detail::stderr_is_terminal();  // the library's live line: terminals only
  Sweep sweep;
  if (closed) {
    ClosedLoop base;
    base.warmup(o.warmup).summarize_options(summarize).quiet(quiet).watch(lab::metrics_watcher(o.endpoint, false));
    base.record_sink([&counters](const RequestRecord& r) { counters.count(r); });
    if (turns > 1) base.sessions(turns);
    if (total_requests) base.requests(shard.share(total_requests));
    if (o.duration > 0) base.duration(std::chrono::duration<double>(o.duration));
    sweep.concurrency_levels(concurrency).closed_loop(base);
  } else {
    OpenLoop base;
    base.distribution(enum_from_string<Arrival>(o.arrival))
        .burstiness(o.burstiness)
        .seed(o.seed * shard.count + shard.index)  // each shard its own arrivals; together the whole rate
        .warmup(o.warmup)
        .summarize_options(summarize)
        .quiet(quiet)
        .watch(lab::metrics_watcher(o.endpoint, false))
        .record_sink([&counters](const RequestRecord& r) { counters.count(r); });
    if (!schedule.empty()) base.schedule(schedule);
    if (!o.workload.ramp_up.empty()) {
      const auto ramp = lab::parse_ramp_up(o.workload.ramp_up);
      base.ramp_up(ramp.from / static_cast<double>(shard.count), ramp.to / static_cast<double>(shard.count),
                   std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(ramp.seconds)));
    }
    if (total_requests) base.requests(shard.share(total_requests));
    if (o.duration > 0) base.duration(std::chrono::duration<double>(o.duration));
    sweep.rates(rates).open_loop(base);
  }
  sweep.repeat(static_cast<std::size_t>(o.repeat));
  sweep.on_level_done([&counters](const LevelResult&) { ++counters.levels_done; });

  RunMetadata metadata;
  metadata.command_line.assign(argv, argv + argc);
  metadata.model = o.model;
  if (start_at) {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    if (start_at < now - 1'000'000'000)
      throw examples::UsageError("--start-at " + o.start_at + " has passed; give a time a little ahead");
    if (!o.quiet) std::cerr << "servebench: waiting until " << o.start_at << "\n";
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::max<std::int64_t>(0, start_at - now)));
  }
  metadata.wall_anchor = WallAnchor::now();
  metadata.utc_time = utc_now_iso8601();

  const std::size_t level_count = (closed ? concurrency.size() : rates.size()) * targets.size() *
                                  static_cast<std::size_t>(o.repeat);
  SweepResult result;
  {
    std::optional<PlainProgress> plain;
    if (!o.quiet && !detail::stderr_is_terminal())
      plain.emplace(counters, level_count, o.progress_interval,
                    shard.count > 1 ? "servebench shard " + o.shard + ": " : std::string("servebench: "));
    result = run_sweep(sweep, shard_workload(whole, shard), targets);
  }

  nlohmann::json configuration;
  configuration["run"] = to_json(o);
  configuration["shard"] = {{"index", shard.index}, {"count", shard.count}};
  configuration["workload"] = workload_description;
  configuration["repetition"] = nlohmann::json::array();
  for (const auto& l : result.levels) configuration["repetition"].push_back(l.repetition);
  metadata.configuration = configuration;
  Artifact artifact{metadata, result.levels};

  ReportOptions report;
  report.baseline = specs.front().name;
  print_comparison(out, result.levels, report);  // with --repeat: means and 95% intervals over the repetitions
  if (!o.out.empty()) write_run_files(o.out, artifact, !o.no_records, report, out);
  if (result.interrupted) {
    std::cerr << "servebench: interrupted; the levels that ran are written"
              << (o.out.empty() ? " nowhere (no --out)" : "") << "\n";
    return exit_interrupted;
  }
  return 0;
}

}  // namespace command
}  // namespace servebench
