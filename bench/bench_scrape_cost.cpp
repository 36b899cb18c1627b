// Benchmark — what scraping the server's /metrics costs the measurement. The same closed-loop level against the
// simulator, in one run, alternately without and with a scraper (metrics/scrape.hpp) polling every 10 ms (100x
// more often than the default 1 s): TTFT error against the simulator's ground truth (the client's t_first_token
// minus the server's sim_timing.first_token, both on this process's steady clock), and what one scrape costs.
// Levels: 1, 64 and 256 concurrent streams; three repetitions of each pair, interleaved so drift hits both alike.
#include <cstdio>

#include <servebench/metrics.hpp>
#include <servebench/sim.hpp>
#include <servebench/stats.hpp>

#include "bench_common.hpp"
#include "bench_sim.hpp"

using namespace servebench;
using namespace servebench::bench;

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  raise_fd_limit();
  constexpr int tokens = 16;
  constexpr double scrape_interval_s = 0.01;
  constexpr int repetitions = 3;
  nlohmann::json points = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  for (const int streams : o.levels_or<int>({1, 64, 256})) {
    // The timing-accuracy benchmark's engine: a flat 20 ms step admitting every stream, so the client is measured.
    const sim::EngineConfig engine = flat_step_engine(20.0);
    sim::Server server(sim::ServerOptions()
                           .engine_config(engine)
                           .api(sim::ApiFlavour::openai)
                           .threads(static_cast<std::size_t>(streams) + 16));
    server.start();
    const auto driver = DriverOptions().base_url(server.url()).stream(true).keep_text(false);
    std::vector<double> error_ms[2];
    ServerMetrics scraped;
    double scrape_ms_sum = 0;
    for (int rep = 0; rep < repetitions; ++rep) {
      for (int with = 0; with < 2; ++with) {
        auto loop = ClosedLoop()
                        .concurrency(static_cast<std::size_t>(streams))
                        .requests(static_cast<std::uint64_t>(streams) * 3)
                        .quiet(true)
                        .handle_signals(false);
        if (with) {
          ScrapeOptions scrape;
          scrape.url = metrics_url(server.url());  // a sender factory's level has no target URL
          scrape.interval_s = scrape_interval_s;
          loop.watch(scrape_each_level(scrape));
        }
        const auto result = run_closed_loop(loop,
                                            template_prompts("Question {i}: Explain concept {i} briefly.", tokens),
                                            [&] { return Driver<sim::openai_completions>(driver); });
        for (const auto& r : result.records)
          if (r.ok() && r.server_timing)
            error_ms[with].push_back(ns_to_s(r.t_first_token - r.server_timing->first_token) * 1e3);
        if (result.server_metrics) {
          scraped.scrapes += result.server_metrics->scrapes;
          scraped.failed += result.server_metrics->failed;
          scrape_ms_sum += result.server_metrics->scrape_ms_mean * static_cast<double>(result.server_metrics->scrapes);
          scraped.scrape_ms_max = std::max(scraped.scrape_ms_max, result.server_metrics->scrape_ms_max);
        }
      }
    }
    server.stop();
    const auto off = summarize_samples(error_ms[0]), on = summarize_samples(error_ms[1]);
    const double scrape_ms_mean = scraped.scrapes ? scrape_ms_sum / static_cast<double>(scraped.scrapes) : 0;
    points.push_back({{"streams", streams},
                      {"samples_without", off.count},
                      {"samples_with", on.count},
                      {"ttft_error_without_ms", {{"p50", off.p50}, {"p99", off.p99}, {"max", off.max}}},
                      {"ttft_error_with_ms", {{"p50", on.p50}, {"p99", on.p99}, {"max", on.max}}},
                      {"scrapes", scraped.scrapes},
                      {"failed_scrapes", scraped.failed},
                      {"scrape_ms_mean", scrape_ms_mean},
                      {"scrape_ms_max", scraped.scrape_ms_max}});
    rows.push_back({std::to_string(streams), fmt(off.p50, 3), fmt(on.p50, 3), fmt(off.p99, 3), fmt(on.p99, 3),
                    std::to_string(scraped.scrapes), std::to_string(scraped.failed), fmt(scrape_ms_mean, 3),
                    fmt(scraped.scrape_ms_max, 3)});
  }
  print_table("TTFT error vs simulator ground truth without / with scraping /metrics every 10 ms (ms)",
              {"streams", "p50 off", "p50 on", "p99 off", "p99 on", "scrapes", "failed", "scrape mean", "scrape max"},
              rows);
  write_result(o, "scrape_cost",
               {{"benchmark", "scrape_cost"},
                {"tokens_per_stream", tokens},
                {"scrape_interval_s", scrape_interval_s},
                {"repetitions", repetitions},
                {"points", points}});
  return 0;
}
