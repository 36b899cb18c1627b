// Benchmark 4 — open-loop fidelity: Poisson arrivals at rising rates against a trivial server in its own process;
// the share of requests sent more than 1 ms after their scheduled time and the p99 send lag (t_send - t_sched), until
// the share passes 1% (with --levels, every rate given). The highest rate within 1% is the client's ceiling on this
// machine — where the server keeps up. Target: >= 99% within 1 ms at 2,000 req/s.
//
// The server is bench_target (cpp-httplib, thread per connection, `target_threads` threads) or, with
// --target-server nginx, nginx (event loops). An open loop past the rate a server holds opens a connection for
// every arrival that finds none free, and cpp-httplib 0.11 polls each idle keep-alive connection (select for 10 ms,
// then sleep 1 ms, in its thread), so the more connections, the less the server serves: past its rate it collapses,
// and a connection past its threads waits unserved (keep-alive: 30 s). The client's requests in flight are therefore
// capped below bench_target's threads (`cap`), and each level is bounded in time (its seconds + 20 s, requests
// still in flight then ending as deadline_exceeded). At a rate the server holds neither acts and the level measures
// the client; at one it does not, the row says "server bound": the peak in flight reached the cap, a new
// connection took over 100 ms (the server's accept queue was full: the kernel sends a dropped SYN again after 1 s),
// or requests were completed at under 90% of the rate; "host bound": 90% of the host's cores were busy (client, server
// and the kernel's loopback together). CPU (client, server, the whole host) is over the measured phase.
#include <chrono>
#include <cstdio>
#include <thread>

#include <sys/resource.h>

#include "bench_common.hpp"

using namespace servebench;
using namespace servebench::bench;

namespace {

// The levels against `target` (TargetProcess or NginxProcess); `server` says which, for the JSON.
template <class Target>
int run(const Options& o, Target& target, std::size_t cap, const nlohmann::json& server) {
  const auto options = DriverOptions().base_url(target.url()).keep_text(false);

  nlohmann::json points = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  double ceiling = 0, server_bound_from = 0;
  nlohmann::json at_2000;
  for (const double rate : o.levels_or<double>({500, 1000, 2000, 4000, 8000, 16000})) {
    rusage usage_before{};
    getrusage(RUSAGE_SELF, &usage_before);
    const auto wall_before = std::chrono::steady_clock::now();
    RssSampler sampler;
    CpuSampler cpu([&target] { return target.cpu_seconds(); });
    auto result = run_open_loop(OpenLoop()
                                    .rate(rate)
                                    .distribution(Arrival::poisson)
                                    .seed(1)
                                    .max_in_flight(cap)
                                    .timeout(std::chrono::duration<double>(o.seconds + 20))
                                    .duration(std::chrono::duration<double>(o.seconds))
                                    .warmup(8)
                                    .keep_warmup_records(false)
                                    .keep_records(o.keep_records)
                                    .quiet(true)
                                    .handle_signals(false),
                                bench_workload(), transport_target<api::openai_completions>(options, o));
    sampler.stop();
    cpu.stop();
    rusage usage_after{};
    getrusage(RUSAGE_SELF, &usage_after);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
    // The client's CPU (all its threads), the server's and the host's, in cores, over the measured phase; the
    // client's involuntary context switches over the level: the signs of a client short of CPU.
    const auto cores = cpu.between(result.summary.first_send, result.summary.last_end);
    const long preempted = usage_after.ru_nivcsw - usage_before.ru_nivcsw;
    const auto& s = result.summary;
    // The slowest new connection (from the records; 0 with --no-records): a full accept queue drops the SYN,
    // which the kernel sends again after 1 s.
    double connect_max_ms = 0;
    for (const auto& r : result.records)
      if (const auto c = r.connect_s()) connect_max_ms = std::max(connect_max_ms, *c * 1e3);
    const bool server_bound = s.peak_in_flight >= cap || connect_max_ms > 100 || s.throughput_req_per_sec < 0.9 * rate;
    // The host's cores nearly all busy (client, server and the kernel's loopback together): late sends then wait
    // for a core, whoever takes them.
    const bool host_bound = cores.host >= 0.9 * static_cast<double>(std::thread::hardware_concurrency());
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
                            {"client_cpu_cores", cores.client},
                            {"host_busy_cores", cores.host},
                            {"host_bound", host_bound},
                            {"client_involuntary_switches", preempted},
                            {"client_threads_peak", sampler.peak_threads()},
                            {"peak_in_flight", s.peak_in_flight},
                            {"connects", s.connects},
                            {"connect_max_ms", connect_max_ms},
                            {"server_bound", server_bound},
                            {"server_cpu_cores", cores.server},
                            {"seconds", wall},
                            {"failures", failures_by_kind(result.records)}};
    points.push_back(point);
    if (rate == 2000) at_2000 = point;
    rows.push_back({fmt(rate), std::to_string(s.sent), fmt(100.0 * result.late_send_share, 2), fmt(lag_p50, 3),
                    fmt(lag_p99, 3), fmt(lag_max, 2), fmt(s.throughput_req_per_sec), fmt(cores.client, 2),
                    std::to_string(sampler.peak_threads()),
                    std::to_string(s.peak_in_flight) + (server_bound ? " server bound" : ""),
                    std::to_string(s.connects) + " / " + fmt(connect_max_ms, 1), fmt(cores.server, 2),
                    fmt(cores.host, 1), std::to_string(s.failed)});
    // Progress: each level's row as it ends (a sweep runs for minutes; the table comes at the end).
    std::fprintf(stderr, "rate %s/s: %.2f%% late, peak in flight %zu%s%s, %zu failed, %.1f s\n", fmt(rate).c_str(),
                 100.0 * result.late_send_share, s.peak_in_flight, server_bound ? ", server bound" : "",
                 host_bound ? ", host bound" : "", static_cast<std::size_t>(s.failed), wall);
    if (result.late_send_share <= 0.01) ceiling = rate;
    if (server_bound && !server_bound_from) server_bound_from = rate;
    if (result.late_send_share > 0.01 && o.levels.empty()) break;  // --levels: every rate asked for
  }
  print_table("Open-loop fidelity, Poisson arrivals (send lag = t_send - t_sched)",
              {"rate/s", "sent", "late >1ms %", "lag p50 ms", "lag p99 ms", "lag max ms", "done req/s", "client cores",
               "threads", "peak in flight", "connects / slowest ms", "server cores", "host busy cores", "failed"},
              rows);
  std::printf("highest rate held (<= 1%% late): %s/s%s\n", fmt(ceiling).c_str(),
              server_bound_from ? (", the server the limit from " + fmt(server_bound_from) + "/s").c_str() : "");
  nlohmann::json result = {{"benchmark", "open_loop"},
                           {"seconds_per_point", o.seconds},
                           {"points", points},
                           {"ceiling_req_per_s", ceiling},
                           {"server_bound_from_req_per_s", server_bound_from},
                           {"in_flight_cap", cap}};
  result.update(server);
  if (!at_2000.is_null())
    result["targets"] = {{"on_time_share_at_2000", 1.0 - at_2000["late_share"].get<double>()},
                         {"met", at_2000["late_share"].get<double>() <= 0.01}};
  write_result(o, "open_loop", result);
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse_options(argc, argv);
  raise_fd_limit();
  constexpr std::size_t target_threads = 4000, cap = target_threads / 2;
  if (o.target_server == "nginx") {
    NginxProcess target(o.nginx, 0);
    return run(o, target, cap, {{"target_server", "nginx"}});
  }
  // One server thread per keep-alive connection (cpp-httplib): more than the client's connections may reach (the
  // cap), or a connection past the pool waits unserved and its worker with it (docs/performance.md).
  TargetProcess target({"completion", std::to_string(target_threads)});
  return run(o, target, cap, {{"target_server", "bench_target"}, {"target_threads", target_threads}});
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
  return 1;
}
