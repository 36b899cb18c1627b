// Lab task 2.3: 1, 5, 10 and 20 requests at once against the HF baseline and vLLM; per level and engine the total
// time, successes, failures, throughput, mean and p95 latency, and vLLM's throughput over HF's.
//
//   lab2_3_concurrent                                  # embedded simulated servers, no GPU needed
//   lab2_3_concurrent --hf http://127.0.0.1:8001 --vllm http://127.0.0.1:8000 --stream
//   lab2_3_concurrent --dataset prefix --prefix-tokens 1024 --groups 2 --input-tokens 32 --stream   # prefix cache
//   lab2_3_concurrent --repeat 5                       # every level 5 times, interleaved: means and 95% intervals
//
// Writes artifacts/concurrent_benchmark.json (the lab's format, so its plotting script reads it),
// artifacts/concurrent_benchmark.full.json (every request, every metric; lab2_4_visualize draws from both) and
// artifacts/concurrent_benchmark.html (the report: tables, charts, and per level the timeline of every request
// beside the server's running and waiting counts, scraped from its /metrics: the embedded servers' always, a real
// server's with --metrics).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include <servebench/html_report.hpp>

#include "lab/lab.hpp"
#include "lab/workload_flags.hpp"

using namespace servebench;

int main(int argc, char** argv) {
  lab::Options options;
  options.warmed = true;  // in the lab, task 2.3 runs on the servers task 2.2 has warmed
  CLI::App args("Lab task 2.3: concurrent requests, HF baseline vs vLLM.", "lab2_3_concurrent");
  lab::add_server_flags(args, options);
  lab::add_workload_flags(args, options, /*concurrency_levels=*/true);
  lab::add_repeat_flag(args, options);
  lab::add_metrics_flags(args, options);
  lab::add_output_flags(args, options);
  lab::WorkloadFlags dataset;
  lab::add_dataset_flags(args, dataset);
  if (auto exit_code = examples::parse(args, argc, argv)) return *exit_code;
  try {
    lab::check(options);
    lab::check_dataset_flags(dataset);
    lab::check_output_dir(options.out_dir);  // fail now, not after the run
    options.force_output_length = dataset.output_tokens > 0;
    lab::Servers servers(options, options.quiet ? nullptr : &std::cerr);
    // The lab's prompts: "Question {i}: Explain concept {i} briefly.", 50 tokens; or --dataset's, the same for both
    // sides, counted by the vLLM side's tokenizer (the lab's HF server has none).
    const int max_tokens = options.max_tokens ? options.max_tokens : lab::question_max_tokens;
    Workload workload = template_prompts(lab::question_template, max_tokens);
    nlohmann::json workload_json = {{"dataset", "lab questions"}};
    if (!dataset.dataset.empty()) {
      const auto& url = servers.vllm_url().empty() ? servers.hf_url() : servers.vllm_url();
      const auto counted_by = DriverOptions().base_url(url).model(options.model).tls(options.tls);
      auto built = lab::build_dataset(dataset, counted_by, options.api == "chat",
                                      *std::max_element(options.concurrency.begin(), options.concurrency.end()),
                                      max_tokens);
      if (!options.quiet) std::cerr << "Workload: " << built.workload.name() << "; " << built.note << "\n";
      workload = built.workload;
      workload_json = built.description;
    }

    // Each level sends as many requests as it has workers, all at once, like the lab's asyncio.gather; level by
    // level HF then vLLM, the whole sweep --repeat times.
    // Multi-turn: as many concurrent sessions as workers, of --turns turns each.
    const std::size_t turns = dataset.dataset == "multiturn" ? static_cast<std::size_t>(dataset.turns) : 1;
    auto sweep = Sweep()
                     .concurrency_levels(options.concurrency)
                     .order(TargetOrder::interleaved)
                     .requests_per_worker(turns)
                     .closed_loop(ClosedLoop()
                                      .sessions(turns, std::chrono::milliseconds(0))
                                      .quiet(options.quiet)
                                      .watch(lab::metrics_watcher(options, servers)))
                     .repeat(options.repeat);
    if (options.repeat > 1) sweep.target_warmup(options.concurrency.front());
    SweepResult result = run_sweep(sweep, workload, servers.targets());
    for (auto& level : result.levels) level = servers.modelled(std::move(level));
    const std::vector<LevelResult>& runs = result.levels;
    const bool interrupted = result.interrupted;

    std::cout << "\n";
    print_comparison(std::cout, runs, lab::report_options());
    for (const auto& run : runs) {
      const auto& s = run.summary;
      if (s.input_length_checked || (s.prefix_hit_rate && *s.prefix_hit_rate > 0))  // lines for --dataset runs
        std::cout << s.target << " @ " << run.config.concurrency << ": " << s.total_input_tokens << " input tokens"
                  << (s.input_length_checked ? ", " + std::to_string(s.input_length_mismatches) + " of " +
                                                   std::to_string(s.input_length_checked) + " off their exact length"
                                             : std::string())
                  << (s.prefix_hit_rate
                          ? ", prefix cache hits " + std::to_string(std::lround(100 * *s.prefix_hit_rate)) + "% of them"
                          : std::string())
                  << (s.ttft ? ", mean TTFT " + std::to_string(std::lround(s.ttft->mean * 1e3)) + " ms" : std::string())
                  << "\n";
    }

    Artifact full;
    full.metadata = servers.metadata(argc, argv, {{"workload", workload_json}});
    full.levels = runs;
    const auto lab_file = options.path("concurrent_benchmark.json");
    const auto full_file = options.path("concurrent_benchmark.full.json");
    lab::write_json(lab_file, lab::concurrent_benchmark_json(lab::concurrency_levels(runs)));
    lab::write_json(full_file, artifact_to_json(full));
    const auto report_file = options.path("concurrent_benchmark.html");
    write_html_report(report_file, full, lab::report_options());
    lab::print_paths(std::cout, {{lab_file, "lab format (p95 by the lab's rule)"},
                                 {full_file, "full artifact: metadata and every request"},
                                 {report_file, "report: open in a browser (tables, charts, request timelines)"}});
    if (interrupted) {
      std::cerr << "lab2_3_concurrent: interrupted; the files hold the levels that ran\n";
      return 130;
    }
    return 0;
  } catch (const examples::UsageError& e) {
    return examples::usage_error(args, e.what());
  } catch (const std::exception& e) {  // lab::SetupError and anything unexpected: one line, exit 2
    return lab::failed(args, e);
  }
}
