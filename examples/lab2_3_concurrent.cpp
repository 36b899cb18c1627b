// Lab task 2.3: 1, 5, 10 and 20 requests at once against the HF baseline and vLLM; per level and engine the total
// time, successes, failures, throughput, mean and p95 latency, and vLLM's throughput over HF's.
//
//   lab2_3_concurrent                                  # embedded simulated servers, no GPU needed
//   lab2_3_concurrent --hf http://127.0.0.1:8001 --vllm http://127.0.0.1:8000 --stream
//   lab2_3_concurrent --repeat 5                       # every level 5 times, interleaved: means and 95% intervals
//
// Writes artifacts/concurrent_benchmark.json (the lab's format, so its plotting script reads it),
// artifacts/concurrent_benchmark.full.json (every request, every metric; lab2_4_visualize draws from both) and
// artifacts/concurrent_benchmark.html (the report: tables, charts, and per level the timeline of every request
// beside the server's running and waiting counts, scraped from its /metrics: the embedded servers' always, a real
// server's with --metrics).
#include <iostream>

#include "lab/lab.hpp"

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
  if (auto exit_code = examples::parse(args, argc, argv)) return *exit_code;
  try {
    lab::check(options);
    lab::check_output_dir(options.out_dir);  // fail now, not after the run
    lab::Servers servers(options, options.quiet ? nullptr : &std::cerr);
    // The lab's prompts: "Question {i}: Explain concept {i} briefly.", 50 tokens.
    const auto workload = template_prompts(lab::question_template,
                                           options.max_tokens ? options.max_tokens : lab::question_max_tokens);

    // Each level sends as many requests as it has workers, all at once, like the lab's asyncio.gather; level by
    // level HF then vLLM, the whole sweep --repeat times.
    auto sweep = Sweep()
                     .concurrency_levels(options.concurrency)
                     .order(TargetOrder::interleaved)
                     .requests_per_worker(1)
                     .closed_loop(ClosedLoop().quiet(options.quiet).watch(lab::metrics_watcher(options, servers)))
                     .repeat(options.repeat);
    if (options.repeat > 1) sweep.target_warmup(options.concurrency.front());
    SweepResult result = run_sweep(sweep, workload, servers.targets());
    for (auto& level : result.levels) level = servers.modelled(std::move(level));
    const std::vector<LevelResult>& runs = result.levels;
    const bool interrupted = result.interrupted;

    std::cout << "\n";
    print_comparison(std::cout, runs, lab::report_options());

    Artifact full;
    full.metadata = servers.metadata(argc, argv);
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
