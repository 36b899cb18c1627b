// Benchmark 3 — timing accuracy against the simulator's ground truth. The simulated server runs in this process,
// or with --server-process in a process of its own (this program again, with --serve), so that its threads are not
// the client's: its sim_timing (when it wrote the first and the last token) is on the steady clock either way
// (CLOCK_MONOTONIC is one clock for every process of a Linux host), the same as the client's timestamps. Error =
// measured arrival - ground truth, for TTFT (t_first_token - server_timing.first_token) and for latency (t_end -
// server_timing.last_token), at 1, 64, 512 and 2,000 concurrent streams. Target: p99 < 1 ms at 512. Beside them the
// ground truth's own error: how long each reply's last write took from its stamp to its return ("srv last write"),
// the window in which its bytes left, and the client's own error, how far each arrival lies past that window ("past
// write": 0 inside it), matched to its reply by the stamp.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <servebench/sim.hpp>
#include <servebench/stats.hpp>

#include "bench_common.hpp"
#include "bench_sim.hpp"

using namespace servebench;
using namespace servebench::bench;

namespace {
// p in [0, 1], the linear (numpy default) percentile of stats.hpp; 0 for no samples.
double percentile_of(const std::vector<double>& v, double p) { return v.empty() ? 0 : percentile(v, p * 100); }
constexpr int tokens = 16;
constexpr double step_ms = 20.0;

// A flat 20 ms step that admits every stream at once; 16 tokens per stream. Connections opened before the level stay
// open while the rest are opened (10,000 take ~10 s in the preconnect turns), not the simulator's default 1 s.
// One request a connection: cpp-httplib 0.11 waits on a kept-alive connection by polling it (a 10 ms select, then
// a 1 ms sleep, again), so each stream that ended would wake its server thread 90 times a second, 900,000 wake-ups
// a second at 10,000 streams, on the cores of the server threads still writing: their clocks, not the client's,
// would make the error. Closed after its reply, a connection's thread waits on the pool's queue instead.
sim::ServerOptions server_options(int streams) {
  return sim::ServerOptions()
      .engine_config(flat_step_engine(step_ms))
      .api(sim::ApiFlavour::openai)
      .threads(static_cast<std::size_t>(streams) + 16)
      .keep_alive_timeout_s(60)
      .keep_alive_max_count(1);
}

// --serve STREAMS: the server alone, until killed (the client side's --server-process).
// With NICE, the server's threads run at that nice value (set before they start, so each inherits it): a
// thread-per-connection server whose 10,000 threads all wake at each engine step otherwise takes most of the CPU
// from a client of 16 event-loop threads for the length of the burst (the kernel shares CPU by thread, not by
// process), which an asyncio server (one thread) never does.
[[noreturn]] void serve(int streams, int nice_value) {
  raise_fd_limit();
  if (nice_value != 0 && ::setpriority(PRIO_PROCESS, 0, nice_value) != 0) std::perror("setpriority");
  sim::Server server(server_options(streams));
  server.start();
  std::printf("port %d\n", server.port());
  std::fflush(stdout);
  for (;;) pause();
}

// The server's side of one level, wherever it runs.
struct LevelServer {
  std::unique_ptr<sim::Server> in_process;
  std::unique_ptr<TargetProcess> process;
  std::string url() const { return in_process ? in_process->url() : process->url(); }
  double cpu_seconds() const { return in_process ? -1 : process->cpu_seconds(); }
  // The ground truth's own error: each streamed reply's first and last token write, its sim_timing stamp and the
  // time to the write's return (sim::Server::take_write_windows). Empty when the server could not be asked.
  sim::WriteWindows write_windows() const {
    if (in_process) return in_process->take_write_windows();
    httplib::Client client(url());
    if (auto res = client.Get("/sim/write_windows"); res && res->status == 200)
      return sim::write_windows_from_json(nlohmann::json::parse(res->body));
    return {};
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--serve") serve(std::atoi(argv[2]), argc > 3 ? std::atoi(argv[3]) : 0);
  const Options o = parse_options(argc, argv);
  raise_fd_limit();

  nlohmann::json points = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  nlohmann::json target_point;
  for (const int streams : o.levels_or<int>({1, 64, 512, 2000})) {
    LevelServer server;
    if (o.server_process) {
      server.process = std::make_unique<TargetProcess>(std::vector<std::string>{"--serve", std::to_string(streams),
                                                                                std::to_string(o.server_nice)},
                                                       "bench_timing_accuracy");
    } else {
      server.in_process = std::make_unique<sim::Server>(server_options(streams));
      server.in_process->start();
    }
    const double server_cpu_before = server.cpu_seconds();
    const auto level_start = std::chrono::steady_clock::now();
    const auto options = DriverOptions().base_url(server.url()).stream(true).keep_text(false);
    const std::uint64_t requests = static_cast<std::uint64_t>(streams) * (streams >= 512 ? 1 : 3);
    auto result = run_closed_loop(ClosedLoop()
                                      .concurrency(static_cast<std::size_t>(streams))
                                      .requests(requests)
                                      .quiet(true)
                                      .handle_signals(false),
                                  template_prompts("Question {i}: Explain concept {i} briefly.", tokens),
                                  transport_target<sim::openai_completions>(options, o));
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - level_start).count();
    // The server's headroom: the cores its process used over the level, out of the machine's (own process only).
    const double server_cores = o.server_process ? (server.cpu_seconds() - server_cpu_before) / wall : -1;
    // A server thread notes its last write once the write returned, which can be just after the client read it.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const sim::WriteWindows windows = server.write_windows();
    server = LevelServer{};
    // Each write's window by its stamp (the stamp is the reply's sim_timing time, to the nanosecond).
    const auto by_stamp = [](const std::vector<sim::WriteWindow>& v) {
      std::unordered_map<Nanos, Nanos> lag;
      for (const auto& w : v) lag[w.stamp_ns] = std::max(lag[w.stamp_ns], w.lag_ns);
      return lag;
    };
    const auto first_lag = by_stamp(windows.first), last_lag = by_stamp(windows.last);
    // The client's own error: how far the arrival lies outside the window in which the bytes left the server
    // ([stamp, stamp + lag]): after its end, or (never, on one clock) before the stamp; 0 inside it.
    const auto past_window = [](Nanos arrival, Nanos stamp, const std::unordered_map<Nanos, Nanos>& lags,
                                std::vector<double>& into) {
      const auto it = lags.find(stamp);
      if (it == lags.end()) return false;
      const Nanos end = stamp + it->second;
      into.push_back(ns_to_s(arrival < stamp ? arrival - stamp : std::max<Nanos>(0, arrival - end)) * 1e3);
      return true;
    };
    std::vector<double> ttft_err, latency_err, ttft_past, latency_past, first_lags, last_lags;
    std::size_t missing = 0, no_window = 0;
    for (const auto& r : result.records) {
      if (!r.ok() || !r.server_timing) {
        ++missing;
        continue;
      }
      ttft_err.push_back(ns_to_s(r.t_first_token - r.server_timing->first_token) * 1e3);
      latency_err.push_back(ns_to_s(r.t_end - r.server_timing->last_token) * 1e3);
      const bool first_found = past_window(r.t_first_token, r.server_timing->first_token, first_lag, ttft_past);
      const bool last_found = past_window(r.t_end, r.server_timing->last_token, last_lag, latency_past);
      if (!first_found || !last_found) ++no_window;
    }
    for (const auto& w : windows.first) first_lags.push_back(ns_to_s(w.lag_ns) * 1e3);
    for (const auto& w : windows.last) last_lags.push_back(ns_to_s(w.lag_ns) * 1e3);
    auto stats = [](const std::vector<double>& v) {
      // The tail's shape too: p99.9 and how many samples passed 1 ms (a few late streams or a slow share).
      return nlohmann::json{{"p50_ms", percentile_of(v, 0.5)},
                            {"p99_ms", percentile_of(v, 0.99)},
                            {"p999_ms", percentile_of(v, 0.999)},
                            {"over_1ms", std::count_if(v.begin(), v.end(), [](double x) { return x > 1.0; })},
                            {"max_ms", v.empty() ? 0.0 : *std::max_element(v.begin(), v.end())},
                            {"min_ms", v.empty() ? 0.0 : *std::min_element(v.begin(), v.end())}};
    };
    nlohmann::json point = {{"streams", streams},
                            {"requests", result.records.size()},
                            {"without_ground_truth_or_failed", missing},
                            {"ttft_error", stats(ttft_err)},
                            {"latency_error", stats(latency_err)},
                            {"server_first_write_lag", stats(first_lags)},
                            {"server_last_write_lag", stats(last_lags)},
                            {"ttft_error_past_write", stats(ttft_past)},
                            {"latency_error_past_write", stats(latency_past)},
                            {"without_write_window", no_window},
                            {"server", o.server_process ? "own process" : "in process"},
                            {"server_nice", o.server_nice},
                            {"server_cpu_cores", server_cores},
                            {"failures", failures_by_kind(result.records)}};
    if (!point["failures"].empty()) std::printf("%d streams: failed %s\n", streams, point["failures"].dump().c_str());
    if (streams == 512) target_point = point;
    points.push_back(point);
    rows.push_back(
        {std::to_string(streams), std::to_string(ttft_err.size()), fmt(point["ttft_error"]["p50_ms"].get<double>(), 3),
         fmt(point["ttft_error"]["p99_ms"].get<double>(), 3), fmt(point["ttft_error"]["max_ms"].get<double>(), 3),
         fmt(point["latency_error"]["p50_ms"].get<double>(), 3), fmt(point["latency_error"]["p99_ms"].get<double>(), 3),
         fmt(point["latency_error"]["max_ms"].get<double>(), 3), point["ttft_error"]["over_1ms"].dump(),
         point["latency_error"]["over_1ms"].dump(), fmt(point["server_last_write_lag"]["p99_ms"].get<double>(), 3),
         point["server_last_write_lag"]["over_1ms"].dump(),
         fmt(point["ttft_error_past_write"]["p99_ms"].get<double>(), 3),
         fmt(point["latency_error_past_write"]["p99_ms"].get<double>(), 3),
         fmt(point["latency_error_past_write"]["max_ms"].get<double>(), 3), std::to_string(missing),
         o.server_process ? fmt(server_cores, 2) : "-"});
  }
  print_table("Timing error vs simulator ground truth (ms; measured arrival - server write)",
              {"streams", "samples", "TTFT p50", "TTFT p99", "TTFT max", "lat p50", "lat p99", "lat max", "TTFT >1ms",
               "lat >1ms", "srv last write p99", "srv last write >1ms", "TTFT past write p99", "lat past write p99",
               "lat past write max", "failed", "server cores"},
              rows);
  nlohmann::json result = {
      {"benchmark", "timing_accuracy"}, {"tokens_per_stream", tokens}, {"engine_step_ms", step_ms}, {"points", points}};
  if (!target_point.is_null())
    result["targets"] = {{"ttft_p99_ms_at_512", target_point["ttft_error"]["p99_ms"]},
                         {"latency_p99_ms_at_512", target_point["latency_error"]["p99_ms"]},
                         {"met", target_point["ttft_error"]["p99_ms"].get<double>() < 1.0 &&
                                     target_point["latency_error"]["p99_ms"].get<double>() < 1.0}};
  write_result(o, "timing_accuracy", result);
  return 0;
}
