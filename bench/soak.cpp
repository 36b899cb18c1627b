// Soak run (not a CI test): 100,000 streamed requests at concurrency 256, one closed-loop level, against an
// in-process servebench::sim server with 1% injected faults (0.25% each of HTTP 500, HTTP 503, malformed JSON and a
// connection dropped mid-stream). Prints resident memory at the start, at every 10% of the requests and at the end,
// then the accounting totals, and checks them: sent = successful + failed + interrupted, every index once, and the
// failures of each kind equal to the faults the server planted. Exit 1 when an invariant fails.
//   soak [REQUESTS=100000] [CONCURRENCY=256]
// Records are kept (as every run keeps them), so memory grows by about one record per request by design; what must
// stay flat is the rest: compare the growth with records * bytes-per-record printed at the end.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <servebench.hpp>

using namespace servebench;

namespace {

long rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t requests = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const std::size_t concurrency = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 256;
  if (requests == 0 || concurrency == 0) {
    std::fprintf(stderr, "usage: soak [REQUESTS > 0] [CONCURRENCY > 0]\n");
    return 2;
  }
  raise_fd_limit();

  sim::FaultConfig faults;
  faults.http_500_rate = faults.http_503_rate = faults.malformed_json_rate = faults.drop_mid_stream_rate = 0.0025;
  sim::Server server(sim::preset("vllm-h100")
                         .time_scale(200)
                         .threads(concurrency + 16)
                         .listen_backlog(1024)
                         .keep_alive_max_count(1000)
                         .keep_alive_timeout_s(2)
                         .faults(faults)
                         .seed(11));
  server.start();
  const auto options = DriverOptions()
                           .base_url(server.url())
                           .stream(true)
                           .keep_text(false)
                           .read_timeout(std::chrono::seconds(30))
                           .deadline(std::chrono::seconds(60));

  const long rss_start = rss_kib();
  std::printf("soak: %llu requests, concurrency %zu, 1%% faults, sim vllm-h100 x200\n",
              static_cast<unsigned long long>(requests), concurrency);
  std::printf("RSS at start: %ld KiB\n", rss_start);
  std::fflush(stdout);

  std::atomic<bool> done{false};
  std::vector<long> rss_marks;
  std::thread monitor([&] {
    std::uint64_t next = requests / 10;
    while (!done) {
      const auto received = server.stats().requests;
      if (received >= next && next <= requests) {
        const long rss = rss_kib();
        rss_marks.push_back(rss);
        std::printf("RSS at %3llu%% (%llu requests received): %ld KiB\n",
                    static_cast<unsigned long long>(100 * next / requests),
                    static_cast<unsigned long long>(received), rss);
        std::fflush(stdout);
        next += requests / 10;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  const auto start = std::chrono::steady_clock::now();
  const RunResult result = run_closed_loop(
      ClosedLoop().concurrency(concurrency).requests(requests).quiet(true).handle_signals(false).target("sim"),
      template_prompts("Question {i}: Explain concept {i} briefly.", 16),
      [&] { return Driver<api::openai_completions>(options); });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done = true;
  monitor.join();
  const long rss_end = rss_kib();
  const auto stats = server.stats();
  server.stop();

  // Recount from the records, independently of summarize().
  std::vector<char> seen(requests, 0);
  std::size_t ok = 0, interrupted = 0, duplicates = 0, out_of_range = 0, event_times = 0;
  std::map<std::string, std::size_t> by_kind;
  for (const auto& r : result.records) {
    if (r.warmup) continue;
    if (r.index >= requests) ++out_of_range;
    else if (seen[r.index]++) ++duplicates;
    event_times += r.event_times.capacity();
    if (r.ok()) ++ok;
    else if (r.interrupted()) ++interrupted;
    else ++by_kind[to_string(r.error_kind)];
  }
  std::size_t missing = 0;
  for (char s : seen) missing += s == 0;
  const auto& s = result.summary;
  auto planted = [&](const char* kind) {
    const auto it = stats.faults.find(kind);
    return it == stats.faults.end() ? std::uint64_t{0} : it->second;
  };
  const std::uint64_t planted_status = planted(sim::fault_http_500) + planted(sim::fault_http_503);
  const std::uint64_t planted_json = planted(sim::fault_malformed_json);
  const std::uint64_t planted_drop = planted(sim::fault_drop_mid_stream);
  auto count = [&](const char* kind) { return by_kind.count(kind) ? by_kind[kind] : 0; };

  std::printf("RSS at end: %ld KiB (growth %ld KiB; %zu records, about %zu bytes of event times in them)\n", rss_end,
              rss_end - rss_start, result.records.size(), event_times * sizeof(Nanos));
  std::printf("wall %.1f s, %.0f requests/s\n", wall, static_cast<double>(s.sent) / wall);
  std::printf("sent %zu = successful %zu + failed %zu + interrupted %zu; failed by kind %s\n", s.sent, s.successful,
              s.failed, s.interrupted, nlohmann::json(s.failed_by_kind).dump().c_str());
  std::printf("server: received %llu, completed %llu, cancelled %llu, faults planted %s\n",
              static_cast<unsigned long long>(stats.requests), static_cast<unsigned long long>(stats.completed),
              static_cast<unsigned long long>(stats.cancelled), nlohmann::json(stats.faults).dump().c_str());
  std::printf("indices: %zu missing, %zu duplicates, %zu out of range\n", missing, duplicates, out_of_range);

  bool good = s.sent == requests && s.sent == s.successful + s.failed + s.interrupted && s.successful == ok &&
              s.interrupted == interrupted && s.failed_by_kind == by_kind && missing == 0 && duplicates == 0 &&
              out_of_range == 0 && count("http_status") == planted_status && count("invalid_json") == planted_json &&
              count("closed_mid_stream") == planted_drop && s.failed == planted_status + planted_json + planted_drop;
  std::printf("accounting: %s\n", good ? "every request accounted for" : "MISMATCH");
  return good ? 0 : 1;
}
