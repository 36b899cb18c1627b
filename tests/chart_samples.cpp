// Writes one SVG per chart kind (plus edge cases) into the directory given as argv[1], and report.html, the HTML
// report of a made-up 2.3 run; tests/browser_check.py opens each in headless Chromium. The data mirror the lab's
// shapes: 2.4's throughput bars, latency lines, TTFT/TPOT panels, a latency CDF, and the 2.3 timeline (HF's
// requests all ending together, vLLM's batched, with the server's running and waiting counts).
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <servebench/chart.hpp>
#include <servebench/html_report.hpp>

namespace chart = servebench::chart;

// One level of the lab's 2.3 run, made up: `n` requests sent at once; HF's end together (one after another per
// token), vLLM's each after its own time; vLLM's server counts scraped every 0.25 s.
static servebench::LevelResult lab_level(const std::string& label, int n, bool batched) {
  using servebench::Nanos;
  constexpr Nanos s = 1'000'000'000;
  const Nanos t0 = 50 * s;
  servebench::LevelResult l;
  l.target.label = label;
  l.target.url = "http://127.0.0.1:800" + std::to_string(batched ? 0 : 1);
  l.config.concurrency = static_cast<std::size_t>(n);
  for (int i = 0; i < n; ++i) {
    servebench::RequestRecord r;
    r.index = static_cast<std::uint64_t>(i);
    r.t_sched = r.t_send = t0 + i * s / 200;
    r.n_out = 50;
    r.streamed = batched;
    r.t_end = batched ? r.t_send + s + i * s / 20 : t0 + static_cast<Nanos>(3.2 * n * 0.55 * s);
    r.t_first_token = r.t_send + (batched ? s / 20 : static_cast<Nanos>(0.06 * n * s));
    if (!batched && i == n - 1 && n > 1) {
      r.error_kind = servebench::ErrorKind::read_timeout;
      r.error_message = "no data for 30 s";
    }
    l.records.push_back(r);
  }
  l.summary = servebench::summarize(l.records);
  l.summary.level = n;
  l.summary.target = label;
  if (batched) {
    servebench::ServerMetrics m;
    m.url = l.target.url + "/metrics";
    m.interval_s = 0.25;
    servebench::MetricSeries running{"vllm:num_requests_running", "", "gauge", {}, {}, 0};
    servebench::MetricSeries waiting{"vllm:num_requests_waiting", "", "gauge", {}, {}, 0};
    for (int k = 0; k * s / 4 <= s + n * s / 20; ++k) {
      const Nanos t = t0 + k * s / 4;
      int in = 0;
      for (const auto& r : l.records) in += r.t_send <= t && t < r.t_end;
      running.t.push_back(t);
      running.values.push_back(std::min(in, 8));
      waiting.t.push_back(t);
      waiting.values.push_back(std::max(0, in - 8));
      ++m.scrapes;
    }
    m.series = {running, waiting};
    l.server_metrics = m;
  }
  return l;
}

static bool write(const std::string& dir, const std::string& name, const std::string& svg) {
  try {
    chart::write_svg(dir + "/" + name, svg);
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return false;
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::vector<std::string> levels = {"1", "5", "10", "20"};
  const std::string subtitle = "meta-llama/Meta-Llama-3-8B-Instruct on NVIDIA H100 80GB HBM3";
  bool ok = true;

  chart::BarChart bars;
  bars.title = "Throughput: HuggingFace vs vLLM";
  bars.subtitle = subtitle;
  bars.x_label = "concurrent requests";
  bars.y_label = "throughput (requests/s)";
  bars.categories = levels;
  bars.series = {{"HF", {0.52, 1.31, 1.33, 1.35}, "#ff6b6b", false},
                 {"vLLM", {0.61, 3.9, 6.2, 8.91}, "#4ecdc4", false}};
  ok = write(dir, "throughput_bars.svg", chart::render_grouped_bars(bars)) && ok;

  chart::LineChart lines;
  lines.title = "Latency per concurrency level";
  lines.subtitle = subtitle;
  lines.x_label = "concurrent requests";
  lines.y_label = "latency (s)";
  lines.categories = levels;
  lines.series = {{"HF mean", {1.9, 3.6, 7.1, 14.2}, "#ff6b6b", false},
                  {"HF p95", {1.9, 3.8, 7.5, 14.8}, "#ff6b6b", true},
                  {"vLLM mean", {1.6, 1.2, 1.5, 2.1}, "#4ecdc4", false},
                  {"vLLM p95", {1.6, 1.4, 1.7, 2.4}, "#4ecdc4", true}};
  ok = write(dir, "latency_lines.svg", chart::render_lines(lines)) && ok;

  chart::TtftTpotChart timing;
  timing.title = "Streaming: time to first token and per output token";
  timing.subtitle = subtitle;
  timing.categories = levels;
  timing.ttft = {{"HF", {120, 610, 1250, 2600}, "#ff6b6b", false}, {"vLLM", {35, 48, 70, 115}, "#4ecdc4", false}};
  timing.tpot = {{"HF", {18, 21, 22, 23}, "#ff6b6b", false}, {"vLLM", {11, 13, 15, 19}, "#4ecdc4", false}};
  ok = write(dir, "ttft_tpot.svg", chart::render_ttft_tpot(timing)) && ok;

  chart::CdfChart cdf;
  cdf.title = "Latency distribution at 20 concurrent requests";
  cdf.subtitle = subtitle;
  std::vector<double> hf, vllm;
  for (int i = 0; i < 200; ++i) {
    hf.push_back(2.0 + 12.0 * (i / 199.0) + 0.4 * std::sin(i));
    vllm.push_back(1.5 + 0.9 * std::pow(i / 199.0, 2.0));
  }
  cdf.series = {{"HF", hf, "#ff6b6b", false}, {"vLLM", vllm, "#4ecdc4", false}};
  ok = write(dir, "latency_cdf.svg", chart::render_cdf(cdf)) && ok;

  // Edge cases must still be valid, non-blank pictures.
  chart::BarChart zeros = bars;
  zeros.title = "All zeros <&> \"quoted\"";
  zeros.series = {{"HF", {0, 0, 0, 0}, "#ff6b6b", false}, {"vLLM", {0, 0, 0, 0}, "#4ecdc4", false}};
  ok = write(dir, "edge_all_zeros.svg", chart::render_grouped_bars(zeros)) && ok;

  chart::BarChart one = bars;
  one.title = "One category, three series";
  one.categories = {"20"};
  one.series = {{"HF", {1.35}, "#ff6b6b", false}, {"SGLang", {7.2}, "", false}, {"vLLM", {8.91}, "#4ecdc4", false}};
  ok = write(dir, "edge_one_category.svg", chart::render_grouped_bars(one)) && ok;

  chart::BarChart crowded;  // narrow bars drop value labels; long names rotate; a long title shrinks to fit
  crowded.title = "A very long title naming model meta-llama/Meta-Llama-3-8B-Instruct and GPU NVIDIA H100 80GB HBM3";
  crowded.x_label = "workload";
  crowded.y_label = "tokens/s";
  for (int i = 0; i < 10; ++i) crowded.categories.push_back("prompt set " + std::to_string(i + 1) + " (long)");
  crowded.series = {{"HF", {}, "#ff6b6b", false}, {"TGI", {}, "", false}, {"vLLM", {}, "#4ecdc4", false}};
  for (int i = 0; i < 10; ++i) {
    crowded.series[0].values.push_back(100 + 10 * i);
    crowded.series[1].values.push_back(300 + 40 * i);
    crowded.series[2].values.push_back(450 + 95 * i);
  }
  ok = write(dir, "edge_crowded.svg", chart::render_grouped_bars(crowded)) && ok;

  chart::LineChart empty;
  empty.title = "No series";
  ok = write(dir, "edge_no_data.svg", chart::render_lines(empty)) && ok;

  servebench::Artifact run;
  run.metadata.command_line = {"lab2_3_concurrent", "--concurrency", "1,5,20"};
  run.metadata.configuration = {{"levels", {1, 5, 20}}};
  for (int n : {1, 5, 20})
    for (bool batched : {false, true}) run.levels.push_back(lab_level(batched ? "vllm" : "hf", n, batched));
  servebench::ReportOptions options;
  options.baseline = "hf";
  options.colors = {{"hf", "#ff6b6b"}, {"vllm", "#4ecdc4"}};
  ok = write(dir, "timeline.svg", chart::render_timeline(servebench::timeline_chart(run.levels, 20, options))) && ok;
  try {
    servebench::write_html_report(dir + "/report.html", run, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    ok = false;
  }
  return ok ? 0 : 1;
}
