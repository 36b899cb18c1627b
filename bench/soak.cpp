// Soak run (not a CI test): 100,000 streamed requests at concurrency 256 against an in-process servebench::sim
// server with 1% injected faults (0.25% each of HTTP 500, HTTP 503, malformed JSON and a connection dropped
// mid-stream), as ten closed-loop levels of 10,000 whose records are checked, summarised and dropped — what a long
// run does that writes each level's artifact and moves on. Resident memory after each level must stay flat
// (a run keeps one record per request while its level lasts: about 430 bytes each). Prints memory at the start,
// after each level and at the end, then the accounting totals, and checks them per level: sent = successful +
// failed + interrupted, every index once, and the failures of each kind equal to the faults the server planted.
// Exit 1 when an invariant fails.
//   soak [REQUESTS=100000] [CONCURRENCY=256] [LEVELS=10]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <malloc.h>
#include <sys/resource.h>

#include <servebench.hpp>
#include <servebench/sim.hpp>

using namespace servebench;

namespace {

// Resident memory after returning the allocator's free pages to the system: what is still in use. (glibc keeps
// freed memory in per-thread arenas, and each level starts fresh worker threads, so plain RSS creeps up while
// nothing leaks; without malloc_trim the figure mixes the two.)
long rss_kib() {
  ::malloc_trim(0);
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
                           .label("sim")
                           .base_url(server.url())
                           .stream(true)
                           .keep_text(false)
                           .read_timeout(std::chrono::seconds(30))
                           .deadline(std::chrono::seconds(60));

  const std::size_t levels = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 10;
  if (levels == 0 || requests % levels != 0) {
    std::fprintf(stderr, "soak: LEVELS must divide REQUESTS\n");
    return 2;
  }
  const std::uint64_t per_level = requests / levels;

  const long rss_start = rss_kib();
  std::printf("soak: %llu requests, concurrency %zu, %zu levels, 1%% faults, sim vllm-h100 x200\n",
              static_cast<unsigned long long>(requests), concurrency, levels);
  std::printf("RSS at start: %ld KiB\n", rss_start);
  std::fflush(stdout);

  const auto start = std::chrono::steady_clock::now();
  std::size_t sent = 0, successful = 0, failed = 0, interrupted = 0, missing = 0, duplicates = 0;
  std::map<std::string, std::size_t> by_kind, summary_by_kind;
  bool summaries_agree = true;
  long rss_middle = 0;
  for (std::size_t level = 0; level < levels; ++level) {
    const LevelResult result = run_closed_loop(
        ClosedLoop().concurrency(concurrency).requests(per_level).quiet(true).handle_signals(false),
        template_prompts("Question {i}: Explain concept {i} briefly.", 16),
        [&] { return Driver<api::openai_completions>(options); });
    // Recount from the records, independently of summarize().
    std::vector<char> seen(per_level, 0);
    std::size_t ok = 0, cut = 0;
    for (const auto& r : result.records) {
      if (r.warmup) continue;
      if (r.index >= per_level || seen[r.index]++) ++duplicates;
      if (r.ok())
        ++ok;
      else if (r.interrupted())
        ++cut;
      else
        ++by_kind[to_string(r.error_kind)];
    }
    for (char v : seen) missing += v == 0;
    const auto& s = result.summary;
    summaries_agree = summaries_agree && s.successful == ok && s.interrupted == cut &&
                      s.sent == s.successful + s.failed + s.interrupted && s.sent == per_level;
    for (const auto& [kind, n] : s.failed_by_kind) summary_by_kind[kind] += n;
    sent += s.sent;
    successful += s.successful;
    failed += s.failed;
    interrupted += s.interrupted;
    const long rss = rss_kib();
    if (level + 1 == (levels + 1) / 2) rss_middle = rss;
    std::printf("RSS after level %zu (%llu requests done): %ld KiB\n", level + 1,
                static_cast<unsigned long long>((level + 1) * per_level), rss);
    std::fflush(stdout);
  }  // each level's records are dropped here
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long rss_end = rss_kib();
  const auto stats = server.stats();
  server.stop();

  auto planted = [&](const char* kind) {
    const auto it = stats.faults.find(kind);
    return it == stats.faults.end() ? std::uint64_t{0} : it->second;
  };
  const std::uint64_t planted_status = planted(sim::fault_http_500) + planted(sim::fault_http_503);
  const std::uint64_t planted_json = planted(sim::fault_malformed_json);
  const std::uint64_t planted_drop = planted(sim::fault_drop_mid_stream);
  auto count = [&](const char* kind) { return by_kind.count(kind) ? by_kind[kind] : 0; };

  std::printf("RSS: start %ld KiB, middle %ld KiB, end %ld KiB (end - middle: %ld KiB)\n", rss_start, rss_middle,
              rss_end, rss_end - rss_middle);
  std::printf("wall %.1f s, %.0f requests/s\n", wall, static_cast<double>(sent) / wall);
  std::printf("sent %zu = successful %zu + failed %zu + interrupted %zu; failed by kind %s\n", sent, successful, failed,
              interrupted, nlohmann::json(by_kind).dump().c_str());
  std::printf("server: received %llu, completed %llu, cancelled %llu, faults planted %s\n",
              static_cast<unsigned long long>(stats.requests), static_cast<unsigned long long>(stats.completed),
              static_cast<unsigned long long>(stats.cancelled), nlohmann::json(stats.faults).dump().c_str());
  std::printf("indices: %zu missing, %zu duplicated or out of range\n", missing, duplicates);

  const bool good = sent == requests && sent == successful + failed + interrupted && summaries_agree &&
                    summary_by_kind == by_kind && missing == 0 && duplicates == 0 &&
                    count("http_status") == planted_status && count("invalid_json") == planted_json &&
                    count("closed_mid_stream") == planted_drop &&
                    failed == planted_status + planted_json + planted_drop;
  std::printf("accounting: %s\n", good ? "every request accounted for" : "MISMATCH");
  return good ? 0 : 1;
}
