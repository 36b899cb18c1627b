// Benchmark 4 — open-loop fidelity: Poisson arrivals at rising rates against the trivial server (its own process);
// the share of requests sent more than 1 ms after their scheduled time and the p99 send lag (t_send - t_sched), until
// the share passes 1% (with --levels, every rate given). The highest rate within 1% is the client's ceiling on this
// machine. Target: >= 99% within 1 ms at 2,000 req/s.
#include <chrono>
#include <cstdio>

#include <sys/resource.h>

#include "bench_common.hpp"

using namespace servebench;
using namespace servebench::bench;

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  raise_fd_limit();
  // One server thread per keep-alive connection (cpp-httplib): far more than the client's connections, or a
  // connection past the pool waits unserved and its worker with it (docs/performance.md).
  TargetProcess target({"completion", "4000"});
  const auto options = DriverOptions().base_url(target.url()).keep_text(false);

  nlohmann::json points = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  double ceiling = 0;
  nlohmann::json at_2000;
  for (const double rate : o.levels_or<double>({500, 1000, 2000, 4000, 8000, 16000})) {
    rusage usage_before{};
    getrusage(RUSAGE_SELF, &usage_before);
    const auto wall_before = std::chrono::steady_clock::now();
    RssSampler sampler;
    auto result = run_open_loop(OpenLoop()
                                    .rate(rate)
                                    .distribution(Arrival::poisson)
                                    .seed(1)
                                    .duration(std::chrono::duration<double>(o.seconds))
                                    .warmup(8)
                                    .keep_warmup_records(false)
                                    .quiet(true)
                                    .handle_signals(false),
                                bench_workload(), transport_target<api::openai_completions>(options, o));
    sampler.stop();
    rusage usage_after{};
    getrusage(RUSAGE_SELF, &usage_after);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
    // The client's CPU over the level (all its threads, in cores) and its involuntary context switches: the signs
    // of a client short of CPU.
    const double cores = (seconds_of(usage_after.ru_utime) + seconds_of(usage_after.ru_stime) -
                          seconds_of(usage_before.ru_utime) - seconds_of(usage_before.ru_stime)) /
                         wall;
    const long preempted = usage_after.ru_nivcsw - usage_before.ru_nivcsw;
    const auto& s = result.summary;
    const double lag_p50 = s.client_queue ? s.client_queue->p50 * 1e3 : 0;
    const double lag_p99 = s.client_queue ? s.client_queue->p99 * 1e3 : 0;
    const double lag_max = s.client_queue ? s.client_queue->max * 1e3 : 0;
    nlohmann::json point = {{"rate", rate},
                            {"sent", s.sent},
                            {"failed", s.failed},
                            {"not_sent", result.not_sent},
                            {"late_share", result.late_send_share},
                            {"send_lag_p50_ms", lag_p50},
                            {"send_lag_p99_ms", lag_p99},
                            {"send_lag_max_ms", lag_max},
                            {"achieved_req_per_s", s.throughput_req_per_sec},
                            {"client_cpu_cores", cores},
                            {"client_involuntary_switches", preempted},
                            {"client_threads_peak", sampler.peak_threads()},
                            {"failures", failures_by_kind(result.records)}};
    points.push_back(point);
    if (rate == 2000) at_2000 = point;
    rows.push_back({fmt(rate), std::to_string(s.sent), fmt(100.0 * result.late_send_share, 2), fmt(lag_p50, 3),
                    fmt(lag_p99, 3), fmt(lag_max, 2), fmt(s.throughput_req_per_sec), fmt(cores, 2),
                    std::to_string(sampler.peak_threads()), std::to_string(s.failed)});
    if (result.late_send_share <= 0.01) ceiling = rate;
    if (result.late_send_share > 0.01 && o.levels.empty()) break;  // --levels: every rate asked for
  }
  print_table("Open-loop fidelity, Poisson arrivals (send lag = t_send - t_sched)",
              {"rate/s", "sent", "late >1ms %", "lag p50 ms", "lag p99 ms", "lag max ms", "done req/s", "client cores",
               "threads", "failed"},
              rows);
  nlohmann::json result = {
      {"benchmark", "open_loop"}, {"seconds_per_point", o.seconds}, {"points", points}, {"ceiling_req_per_s", ceiling}};
  if (!at_2000.is_null())
    result["targets"] = {{"on_time_share_at_2000", 1.0 - at_2000["late_share"].get<double>()},
                         {"met", at_2000["late_share"].get<double>() <= 0.01}};
  write_result(o, "open_loop", result);
  return 0;
}
