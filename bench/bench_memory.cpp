// Benchmark 5 — memory: resident memory per in-flight request at 256 and 1,000 in flight (--levels 10000 on a large
// host; the descriptor limit is raised). Each request is a stream of 64 events 30 ms apart (about 2 s), served by
// bench_target in its own process, so all are in flight together; (peak RSS during the level - RSS before it) / in
// flight. Targets: <= 64 KiB per request at 1,000 (met), <= 16 KiB per stream at the largest level.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_common.hpp"

using namespace servebench;
using namespace servebench::bench;

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  raise_fd_limit();
  const std::vector<int> levels = o.levels_or<int>({256, 1000});
  const int most = *std::max_element(levels.begin(), levels.end());
  TargetProcess target({"stream", std::to_string(most + 100), "64", "30000"});
  const auto options = DriverOptions().base_url(target.url()).stream(true).keep_text(false);

  nlohmann::json points = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  nlohmann::json at_1000, at_most;
  for (const int n : levels) {
    const long before = rss_kib();
    const long threads_before = thread_count();
    const MemoryBreakdown at_start = memory_breakdown();
    RssSampler sampler(true);
    auto result = run_closed_loop(ClosedLoop()
                                      .concurrency(static_cast<std::size_t>(n))
                                      .requests(static_cast<std::uint64_t>(n))
                                      .quiet(true)
                                      .handle_signals(false),
                                  bench_workload(), transport_target<api::openai_completions>(options, o));
    const long peak = sampler.stop();
    const double per = static_cast<double>(peak - before) / n;
    // Threads the level added, per stream: 1 is a thread per stream (the worker); 2 was the worker and a watchdog.
    const double threads_per = static_cast<double>(sampler.peak_threads() - threads_before) / n;
    nlohmann::json point = {{"in_flight", n},
                            {"rss_before_kib", before},
                            {"rss_peak_kib", peak},
                            {"kib_per_request", per},
                            {"threads_before", threads_before},
                            {"threads_peak", sampler.peak_threads()},
                            {"threads_per_stream", threads_per},
                            {"successful", result.summary.successful},
                            {"failed", result.summary.failed},
                            {"failures", failures_by_kind(result.records)},
                            {"breakdown_before", at_start},
                            {"breakdown_at_peak", sampler.breakdown()}};
    // Per stream, by where it is: the growth of each part from before the level to its highest RSS.
    const MemoryBreakdown& b = sampler.breakdown();
    auto per_stream = [n](double grown) { return grown / n; };
    point["kib_per_stream_by_part"] = {
        {"thread_stacks", per_stream(static_cast<double>(b.thread_stacks_kib - at_start.thread_stacks_kib))},
        {"main_heap", per_stream(static_cast<double>(b.heap_kib - at_start.heap_kib))},
        {"other_anonymous", per_stream(static_cast<double>(b.other_anon_kib - at_start.other_anon_kib))},
        {"malloc_in_use", per_stream(static_cast<double>(b.malloc_in_use - at_start.malloc_in_use) / 1024)},
        {"malloc_free", per_stream(static_cast<double>(b.malloc_free - at_start.malloc_free) / 1024)}};
    if (n == 1000) at_1000 = point;
    if (n == most) at_most = point;
    points.push_back(point);
    const auto& parts = point["kib_per_stream_by_part"];
    rows.push_back({std::to_string(n), std::to_string(before), std::to_string(peak), fmt(per, 1),
                    std::to_string(sampler.peak_threads()), fmt(threads_per, 2),
                    fmt(parts["thread_stacks"].get<double>(), 1),
                    fmt(parts["main_heap"].get<double>() + parts["other_anonymous"].get<double>(), 1),
                    fmt(parts["malloc_in_use"].get<double>(), 1), fmt(parts["malloc_free"].get<double>(), 1),
                    std::to_string(result.summary.failed)});
  }
  print_table("Resident memory per in-flight request (KiB)",
              {"in flight", "RSS before", "RSS peak", "KiB/request", "threads peak", "threads/stream", "stacks/stream",
               "heaps/stream", "malloc used/stream", "malloc free/stream", "failed"},
              rows);
  nlohmann::json result = {{"benchmark", "memory"}, {"points", points}};
  if (!at_1000.is_null())
    result["targets"] = {{"kib_per_request_at_1000", at_1000["kib_per_request"]},
                         {"met", at_1000["kib_per_request"].get<double>() <= 64}};
  result["stream_target"] = {{"in_flight", most},
                             {"kib_per_stream", at_most["kib_per_request"]},
                             {"met", at_most["kib_per_request"].get<double>() <= 16}};
  write_result(o, "memory", result);
  return 0;
}
