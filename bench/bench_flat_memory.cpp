// Benchmark — flat memory over a long run: one closed-loop level of --requests short requests (default 2,000,000;
// 10,000,000 on a fast host) against bench_target's at-once completions, keeping no records
// (RunOptions::keep_records(false)): the summary comes from the running histograms, and with --records PATH every
// record streams to a JSONL file. Prints resident memory after each --every requests (default 1,000,000) and at the
// end. Target: RSS at the end within 10% of RSS after the first million.
//   bench_flat_memory [--requests N] [--concurrency C] [--every N] [--records PATH] [--out DIR]
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "bench_common.hpp"

using namespace servebench;
using namespace servebench::bench;

int main(int argc, char** argv) {
  std::uint64_t requests = 2'000'000, every = 1'000'000;
  std::size_t concurrency = 16;
  std::string records_path;
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: bench_flat_memory [--requests N] [--concurrency C] [--every N] [--records PATH] "
                           "[--out DIR] [--transport threads|event-loop] [--loop-threads N]\n");
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--requests")
      requests = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--concurrency")
      concurrency = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--every")
      every = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--records")
      records_path = v;
    else if (a == "--out")
      o.out_dir = v;
    else if (a == "--transport" && (v == "threads" || v == "event-loop"))
      o.transport = v;
    else if (a == "--loop-threads")
      o.loop_threads = std::strtoull(v.c_str(), nullptr, 10);
    else {
      std::fprintf(stderr, "bench_flat_memory: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (requests == 0 || concurrency == 0 || every == 0) {
    std::fprintf(stderr, "bench_flat_memory: --requests, --concurrency and --every must be > 0\n");
    return 2;
  }
  raise_fd_limit();
  TargetProcess target({"completion", std::to_string(concurrency + 8)});
  const auto options = DriverOptions().base_url(target.url()).keep_text(false);

  // RSS after every `every` records, read by the sink (it runs one record at a time).
  nlohmann::json marks = nlohmann::json::array();
  std::uint64_t seen = 0;
  const Nanos start = now_ns();
  const long rss_start = rss_kib();
  auto sink = [&](const RequestRecord& r) {
    if (r.warmup || ++seen % every != 0) return;
    const long rss = rss_kib();
    const double s = ns_to_s(now_ns() - start);
    marks.push_back({{"requests", seen}, {"rss_kib", rss}, {"seconds", s}});
    std::printf("after %llu requests: RSS %ld KiB (%.0f s)\n", static_cast<unsigned long long>(seen), rss, s);
    std::fflush(stdout);
  };
  auto result = run_closed_loop(ClosedLoop()
                                    .concurrency(concurrency)
                                    .requests(requests)
                                    .warmup(concurrency)
                                    .keep_warmup_records(false)
                                    .keep_records(false)
                                    .record_sink(sink)
                                    .stream_records_to(records_path)
                                    .quiet(true)
                                    .handle_signals(false),
                                bench_workload(), transport_target<api::openai_completions>(options, o));
  const long rss_end = rss_kib();
  const auto& s = result.summary;
  const long first = marks.empty() ? 0 : marks.front()["rss_kib"].get<long>();
  const double growth = first > 0 ? static_cast<double>(rss_end - first) / static_cast<double>(first) : 0;
  std::printf("RSS: start %ld KiB, after the first %llu %ld KiB, end %ld KiB (%+.1f%%)\n", rss_start,
              static_cast<unsigned long long>(every), first, rss_end, 100 * growth);
  std::printf("%zu sent, %zu failed, %.0f requests/s, latency p50 %.3f ms p99 %.3f ms\n", s.sent, s.failed,
              s.throughput_req_per_sec, s.latency ? s.latency->p50 * 1e3 : 0.0, s.latency ? s.latency->p99 * 1e3 : 0.0);
  nlohmann::json out = {{"benchmark", "flat_memory"},
                        {"requests", requests},
                        {"concurrency", concurrency},
                        {"records_file", records_path},
                        {"rss_start_kib", rss_start},
                        {"rss_end_kib", rss_end},
                        {"marks", marks},
                        {"summary", s}};
  if (first > 0) out["targets"] = {{"rss_growth_after_first_mark", growth}, {"met", growth <= 0.10}};
  write_result(o, "flat_memory", out);
  return s.failed == 0 && s.sent == requests ? 0 : 1;
}
