// Benchmark 2 — streaming: parsed events/s and client CPU per event at 1, 64, 256 and 1,000 concurrent streams of
// 64 SSE text events each (bench_target stream, its own process), servebench against the Python asyncio client.
// Target: >= 150,000 parsed events/s, judged where the client is the limit (the server writes whole streams).
#include <cstdio>

#include "bench_common.hpp"

using namespace servebench;
using namespace servebench::bench;

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  raise_fd_limit();
  // Two servers: one writes every event separately (a token server; on two shared cores it takes half the CPU and
  // limits the rate), one writes each stream in one piece, so the rate measures the client's parsing alone.
  TargetProcess per_event({"stream", "1100", "64", "0", "each"});
  TargetProcess coalesced({"stream", "1100", "64", "0", "all"});

  nlohmann::json points = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  double best = 0;
  for (const int c : o.levels_or<int>({1, 64, 256, 1000})) {
    for (const auto* target : {&per_event, &coalesced}) {
      const bool whole = target == &coalesced;
      Reference sb = run_servebench(o, target->url(), static_cast<std::size_t>(c), o.seconds, true);
      // asyncio parses roughly 20,000-40,000 events/s: size the request count for about o.seconds.
      const long py_requests = std::max<long>(c, static_cast<long>(400 * o.seconds));
      Reference py;
      if (o.references) py = run_asyncio(o, target->url(), c, py_requests, true);
      const double vs_py = py.per_s > 0 ? sb.per_s / py.per_s : 0;
      if (whole) best = std::max(best, sb.per_s);
      const char* writes = whole ? "whole stream" : "per event";
      rows.push_back({std::to_string(c), writes, fmt(sb.per_s), fmt(py.per_s), fmt(vs_py, 1), fmt(sb.cpu_us_per, 2),
                      fmt(py.cpu_us_per, 2)});
      points.push_back({{"streams", c},
                        {"server_writes", writes},
                        {"servebench", sb},
                        {"asyncio", py},
                        {"ratio_vs_asyncio", vs_py}});
      for (const auto* r : {&sb, &py})
        if (!r->ok && (r == &sb || o.references))
          std::fprintf(stderr, "streams=%d (%s): a point is invalid: %s\n", c, writes, r->note.substr(0, 300).c_str());
    }
  }
  print_table("Streaming, 64 text events per request (parsed text events/s; client CPU us/event)",
              {"streams", "server writes", "servebench ev/s", "asyncio ev/s", "x asyncio", "sb us/ev", "py us/ev"},
              rows);
  write_result(o, "streaming",
               {{"benchmark", "streaming"},
                {"seconds_per_point", o.seconds},
                {"events_per_request", 64},
                {"points", points},
                {"targets", {{"best_events_per_s_client_limited", best}, {"met", best >= 150000}}}});
  return 0;
}
