// Benchmark 1 — client overhead, non-streaming, closed loop at concurrency 1, 8, 64, 256: requests/s and client CPU
// microseconds per request, servebench against wrk and against a Python asyncio client, in the same run, against
// the same trivial server (bench_target completion, its own process). Target: at 64, >= 0.6x wrk, >= 8x asyncio.
#include <cstdio>

#include <servebench/stats.hpp>

#include "bench_common.hpp"

using namespace servebench;
using namespace servebench::bench;

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  raise_fd_limit();
  TargetProcess target({"completion", "300"});
  const std::string body = completion_request_body();

  nlohmann::json points = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows, pair_rows;
  for (const int c : o.levels_or<int>({1, 8, 64, 256})) {
    Reference sb = run_servebench(o, target.url(), static_cast<std::size_t>(c), o.seconds, false);
    const Reference bare = run_bare_httplib(target.port(), static_cast<std::size_t>(c), o.seconds, body);
    const Reference driver = run_driver_only(target.url(), static_cast<std::size_t>(c), o.seconds);
    Reference wrk, py;
    if (o.references) {
      wrk = run_wrk(o, target.url(), c, body);
      // Enough requests for about o.seconds at asyncio's pace (roughly 1,000 req/s; less at concurrency 1).
      if (o.asyncio) py = run_asyncio(o, target.url(), c, static_cast<long>((c == 1 ? 250 : 1000) * o.seconds), false);
    }
    const double vs_wrk = wrk.per_s > 0 ? sb.per_s / wrk.per_s : 0;
    const double vs_py = py.per_s > 0 ? sb.per_s / py.per_s : 0;
    rows.push_back({std::to_string(c), fmt(sb.per_s), fmt(wrk.per_s), fmt(py.per_s), fmt(vs_wrk, 2), fmt(vs_py, 1),
                    fmt(sb.cpu_us_per, 1), fmt(sb.steady_cpu_us_per, 1), fmt(wrk.cpu_us_per, 1), fmt(py.cpu_us_per, 1),
                    fmt(bare.per_s), fmt(bare.cpu_us_per, 1), fmt(driver.per_s), fmt(driver.cpu_us_per, 1)});
    points.push_back({{"concurrency", c},
                      {"servebench", sb},
                      {"wrk", wrk},
                      {"asyncio", py},
                      {"bare_httplib", bare},
                      {"driver_without_scheduler", driver},
                      {"ratio_vs_wrk", vs_wrk},
                      {"ratio_vs_asyncio", vs_py}});
    for (const auto* r : {&sb, &wrk, &py})
      if (!r->ok && (r == &sb || (o.references && (r != &py || o.asyncio))))
        std::fprintf(stderr, "c=%d: a point is invalid: %s\n", c, r->note.substr(0, 300).c_str());
    if (o.references && o.repeat > 1) {
      // Pairs run one after the other, servebench then wrk, so that a drift of the host's rate meets both.
      nlohmann::json pairs = nlohmann::json::array();
      std::vector<double> ratios, sb_us, sb_steady, wrk_us;
      for (int r = 0; r < o.repeat; ++r) {
        const Reference a = run_servebench(o, target.url(), static_cast<std::size_t>(c), o.seconds, false);
        const Reference b = run_wrk(o, target.url(), c, body);
        if (!a.ok || !b.ok || b.per_s <= 0) continue;
        ratios.push_back(a.per_s / b.per_s);
        sb_us.push_back(a.cpu_us_per);
        sb_steady.push_back(a.steady_cpu_us_per);
        wrk_us.push_back(b.cpu_us_per);
        pairs.push_back({{"servebench", a}, {"wrk", b}, {"ratio_vs_wrk", ratios.back()}});
      }
      auto median = [](const std::vector<double>& v) { return v.empty() ? 0.0 : servebench::percentile(v, 50); };
      const double mid = median(ratios);
      points.back()["pairs"] = pairs;
      points.back()["ratio_vs_wrk_median"] = mid;
      std::string each;
      for (double x : ratios) each += (each.empty() ? "" : " ") + fmt(x, 2);
      pair_rows.push_back({std::to_string(c), std::to_string(ratios.size()), fmt(mid, 2), each, fmt(median(sb_us), 1),
                           fmt(median(sb_steady), 1), fmt(median(wrk_us), 1)});
    }
  }
  print_table("Client overhead, non-streaming closed loop (req/s; client CPU us/req)",
              {"conc", "servebench", "wrk", "asyncio", "x wrk", "x asyncio", "sb us/req", "sb steady", "wrk us/req",
               "py us/req", "bare httplib", "bare us/req", "driver only", "drv us/req"},
              rows);
  if (!pair_rows.empty())
    print_table("servebench against wrk in " + std::to_string(o.repeat) + " pairs a level, one after the other",
                {"conc", "pairs", "x wrk median", "x wrk each", "sb us/req median", "sb steady median",
                 "wrk us/req median"},
                pair_rows);
  nlohmann::json result = {{"benchmark", "client_overhead"}, {"seconds_per_point", o.seconds}, {"points", points}};
  for (const auto& p : points)
    if (p["concurrency"] == 64)
      result["targets"] = {{"ratio_vs_wrk_at_64", p["ratio_vs_wrk"]},
                           {"ratio_vs_asyncio_at_64", p["ratio_vs_asyncio"]},
                           {"met", p["ratio_vs_wrk"].get<double>() >= 0.6 && p["ratio_vs_asyncio"].get<double>() >= 8}};
  write_result(o, "client_overhead", result);
  return 0;
}
