// servebench bench — the simulator against the file it was calibrated on: the lab's concurrency levels (1, 5, 10, 20
// requests of 50 tokens, all sent at once) through servebench's own client against the measured H200 pair
// (hf-transformers-h200 and transformers-cb-h200, warmed as in the measurement), in modelled time, beside
// h200-transformers-batching-vs-lab-server.json: throughput, mean latency and the throughput ratio per level, with
// each one's deviation. At --time-scale 1 (the default) the servers run at the modelled GPUs' own speed.
//
//   bench_sim_pair [--time-scale X] [--levels 1,5,10,20] [--out DIR]
//
// Exit status 0 when every figure is within 15% of the measured one, 1 otherwise, 2 on a usage error.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <servebench.hpp>
#include <servebench/sim.hpp>

#include "bench_support.hpp"

namespace {

// h200-transformers-batching-vs-lab-server.json, "lab_concurrent_50_tokens".
struct Measured {
  double hf_req_per_s, hf_latency_s, cb_req_per_s, cb_latency_s, ratio;
};
const std::map<int, Measured> measured = {{1, {0.301, 3.32, 0.549, 1.82, 1.82}},
                                          {5, {0.546, 9.09, 0.94, 5.30, 1.72}},
                                          {10, {0.494, 19.93, 1.553, 6.42, 3.14}},
                                          {20, {0.511, 38.55, 3.351, 5.95, 6.56}}};

// One level of `n` requests at once through servebench's client, in modelled time.
template <class Dialect>
servebench::LevelResult run_level(const std::string& url, const char* label, int n, double time_scale) {
  using namespace servebench;
  const auto workload = template_prompts("Question {i}: Explain concept {i} briefly.", 50);
  const auto options = DriverOptions().base_url(url).label(label);
  auto level = run_closed_loop(
      ClosedLoop().concurrency(static_cast<std::size_t>(n)).requests(n).quiet(true).handle_signals(false), workload,
      [&] { return Driver<Dialect>(options); });
  return to_modelled_time(std::move(level), time_scale);
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "bench_sim_pair: %s\nusage: bench_sim_pair [--time-scale X] [--levels 1,5,10,20] [--out DIR]\n",
               message.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace servebench;
  namespace sim = servebench::sim;
  bench::Options out;
  double time_scale = 1;
  std::vector<int> levels = {1, 5, 10, 20};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage_error(arg + " needs a value");
    const std::string value = argv[++i];
    try {
      if (arg == "--time-scale") {
        time_scale = std::stod(value);
      } else if (arg == "--out") {
        out.out_dir = value;
      } else if (arg == "--levels") {
        levels.clear();
        std::stringstream list(value);
        std::string item;
        while (std::getline(list, item, ',')) levels.push_back(std::stoi(item));
      } else {
        usage_error("unknown argument '" + arg + "'");
      }
    } catch (const std::logic_error&) {
      usage_error(arg + ": not a number: '" + value + "'");
    }
  }
  if (!(time_scale > 0)) usage_error("--time-scale must be > 0");
  for (int l : levels)
    if (!measured.count(l)) usage_error("--levels: the file has levels 1, 5, 10 and 20 only");

  sim::Server hf(sim::preset(sim::measured_pair.hf).time_scale(time_scale).first_request_extra_ms(0));
  sim::Server cb(sim::preset(sim::measured_pair.vllm).time_scale(time_scale).first_request_extra_ms(0));
  hf.start();
  cb.start();
  wait_until_ready(hf.url(), std::chrono::seconds(5), nullptr);  // the process's first connection, untimed
  wait_until_ready(cb.url(), std::chrono::seconds(5), nullptr);

  std::vector<std::vector<std::string>> rows;
  nlohmann::json result = {{"time_scale", time_scale},
                           {"presets", {sim::measured_pair.hf, sim::measured_pair.vllm}},
                           {"source", "h200-transformers-batching-vs-lab-server.json"},
                           {"levels", nlohmann::json::array()}};
  double worst = 0;
  const auto deviation = [&](double got, double want) {
    const double d = got / want - 1;
    worst = std::max(worst, std::fabs(d));
    return d;
  };
  for (int n : levels) {
    const auto h = run_level<api::hf_simple>(hf.url(), "hf", n, time_scale);
    const auto v = run_level<api::openai_completions>(cb.url(), "vllm", n, time_scale);
    const Measured& m = measured.at(n);
    const double h_rps = h.summary.throughput_req_per_sec, v_rps = v.summary.throughput_req_per_sec;
    const double h_lat = h.summary.latency ? h.summary.latency->mean : 0,
                 v_lat = v.summary.latency ? v.summary.latency->mean : 0;
    const double ratio = h_rps > 0 ? v_rps / h_rps : 0;
    const double d[] = {deviation(h_rps, m.hf_req_per_s), deviation(h_lat, m.hf_latency_s),
                        deviation(v_rps, m.cb_req_per_s), deviation(v_lat, m.cb_latency_s), deviation(ratio, m.ratio)};
    const auto cell = [](double got, double want, double dev) {
      return bench::fmt(got, 2) + " / " + bench::fmt(want, 2) + " (" + (dev >= 0 ? "+" : "") +
             bench::fmt(dev * 100, 0) + "%)";
    };
    rows.push_back({std::to_string(n), cell(h_rps, m.hf_req_per_s, d[0]), cell(h_lat, m.hf_latency_s, d[1]),
                    cell(v_rps, m.cb_req_per_s, d[2]), cell(v_lat, m.cb_latency_s, d[3]), cell(ratio, m.ratio, d[4])});
    result["levels"].push_back({{"concurrency", n},
                                {"hf", {{"req_per_s", h_rps}, {"mean_latency_s", h_lat}}},
                                {"vllm", {{"req_per_s", v_rps}, {"mean_latency_s", v_lat}}},
                                {"ratio", ratio},
                                {"measured",
                                 {{"hf_req_per_s", m.hf_req_per_s},
                                  {"hf_mean_latency_s", m.hf_latency_s},
                                  {"vllm_req_per_s", m.cb_req_per_s},
                                  {"vllm_mean_latency_s", m.cb_latency_s},
                                  {"ratio", m.ratio}}}});
  }
  char title[160];
  std::snprintf(title, sizeof title,
                "measured H200 pair in modelled time (servers ran %gx), simulated / measured (deviation)", time_scale);
  bench::print_table(title, {"concurrency", "HF req/s", "HF mean s", "batching req/s", "batching mean s", "ratio"},
                     rows);
  result["worst_deviation"] = worst;
  std::printf("worst deviation: %.1f%% (limit 15%%)\n", worst * 100);
  bench::write_result(out, "bench_sim_pair", result);
  return worst <= 0.15 ? 0 : 1;
}
