// Lab task 2.4: charts from a concurrency run. Reads concurrent_benchmark.json (the lab's own, or
// lab2_3_concurrent's) and writes SVG charts: throughput per level with vLLM's speedup over HF, mean and p95
// latency per level, and, when the full artifact beside it holds streamed replies, TTFT and TPOT.
//
//   lab2_4_visualize                                     # reads artifacts/concurrent_benchmark.json
//   lab2_4_visualize --in results/concurrent_benchmark.json --out charts/
#include <fstream>
#include <iomanip>
#include <iostream>

#include "lab/lab.hpp"

using namespace servebench;

int main(int argc, char** argv) {
  std::string in, full_in, out = "artifacts";
  bool quiet = false;
  CLI::App args("Lab task 2.4: SVG charts from concurrent_benchmark.json.", "lab2_4_visualize");
  args.add_option("--in", in, "the lab-format results (default <out>/concurrent_benchmark.json)")->type_name("FILE");
  args.add_option("--full", full_in,
                  "the full artifact (default: concurrent_benchmark.full.json beside --in, if there)")
      ->type_name("FILE");
  args.add_option("--out", out, "where the charts go")->type_name("DIR")->capture_default_str();
  args.add_flag("--quiet", quiet, "print only the chart paths");
  if (auto exit_code = examples::parse(args, argc, argv)) return *exit_code;
  if (out.empty()) return examples::usage_error(args, "--out needs a directory name");
  if (in.empty()) in = out + "/concurrent_benchmark.json";
  if (full_in.empty()) full_in = in.substr(0, in.rfind(".json")) + ".full.json";
  try {
    const auto levels = lab::read_concurrent_benchmark(in);
    // The full artifact, when there, names the model and GPU and holds TTFT/TPOT; the lab's file alone has neither.
    std::optional<Artifact> full;
    if (std::ifstream(full_in).good()) full = read_artifact(full_in);
    const std::string subtitle = full ? lab::chart_subtitle(*full) : "from " + in;

    std::vector<std::pair<std::string, std::string>> written;
    auto write = [&](const std::string& name, const std::string& svg, const std::string& what) {
      const std::string path = out + "/" + name;
      lab::write_text(path, svg);
      written.push_back({path, what});
    };
    write("throughput.svg", chart::render_grouped_bars(lab::throughput_chart(levels, subtitle)),
          "throughput per level, vLLM's speedup over HF");
    write("latency.svg", chart::render_lines(lab::latency_chart(levels, subtitle)), "mean and p95 latency per level");
    if (full) {
      if (auto ttft = ttft_tpot_chart(full->levels, lab::report_options(subtitle)))
        write("ttft_tpot.svg", chart::render_ttft_tpot(*ttft), "TTFT and TPOT per level (streamed replies)");
      else if (!quiet)
        std::cout << "No TTFT/TPOT chart: nothing was streamed (run lab2_3_concurrent with --stream).\n";
    }
    if (!quiet) {
      std::cout << "Throughput from " << in << ":\n" << std::fixed << std::setprecision(2);
      for (const auto& l : levels)
        std::cout << "  " << std::setw(3) << l.concurrency << " concurrent: HF " << l.hf.throughput_req_per_sec
                  << " req/s, vLLM " << l.vllm.throughput_req_per_sec << " req/s, " << std::setprecision(1)
                  << l.throughput_ratio() << "x" << std::setprecision(2) << "\n";
    }
    lab::print_paths(std::cout, written);
    return 0;
  } catch (const std::exception& e) {  // a missing, truncated or foreign file; an unwritable --out
    return examples::error(args, e.what());
  }
}
