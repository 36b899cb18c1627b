// Lab task 2.3: 1, 5, 10 and 20 requests at once against the HF baseline and vLLM; per level and engine the total
// time, successes, failures, throughput, mean and p95 latency, and vLLM's throughput over HF's.
//
//   lab2_3_concurrent                                  # embedded simulated servers, no GPU needed
//   lab2_3_concurrent --hf http://127.0.0.1:8001 --vllm http://127.0.0.1:8000 --stream
//   lab2_3_concurrent --dataset prefix --prefix-tokens 1024 --groups 2 --input-tokens 32 --stream   # prefix cache
//
// Writes artifacts/concurrent_benchmark.json (the lab's format, so its plotting script reads it) and
// artifacts/concurrent_benchmark.full.json (every request, every metric; lab2_4_visualize draws from both).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "lab/lab.hpp"
#include "lab/workload_flags.hpp"

using namespace servebench;

int main(int argc, char** argv) {
  lab::Options options;
  CLI::App args("Lab task 2.3: concurrent requests, HF baseline vs vLLM.", "lab2_3_concurrent");
  lab::add_server_flags(args, options);
  lab::add_workload_flags(args, options, /*concurrency_levels=*/true);
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

    // Each level sends as many requests as it has workers, all at once, like the lab's asyncio.gather.
    std::vector<LevelResult> runs;
    bool interrupted = false;
    for (std::size_t n : options.concurrency) {
      for (const auto& target : servers.targets()) {
        // Multi-turn: n concurrent sessions of --turns turns each.
        const std::size_t turns = dataset.dataset == "multiturn" ? static_cast<std::size_t>(dataset.turns) : 1;
        runs.push_back(run_closed_loop(ClosedLoop()
                                           .concurrency(n)
                                           .requests(n * turns)
                                           .sessions(turns, std::chrono::milliseconds(0))
                                           .quiet(options.quiet),
                                       workload, target));
        interrupted = runs.back().interrupted;
        if (interrupted) break;
      }
      if (interrupted) break;
    }

    std::cout << "\n";
    print_comparison(std::cout, runs, lab::report_options());
    for (const auto& run : runs) {
      const auto& s = run.summary;
      if (s.input_length_checked || s.prefix_hit_rate)
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
    if (servers.time_scale())
      std::cout << "(simulated servers ran " << *servers.time_scale() << "x faster than real time)\n";
    lab::print_paths(std::cout, {{lab_file, "lab format (p95 by the lab's rule)"},
                                 {full_file, "full artifact: metadata and every request"}});
    if (interrupted) {
      std::cerr << "lab2_3_concurrent: interrupted; the files hold the levels that ran\n";
      return 130;
    }
    return 0;
  } catch (const examples::UsageError& e) {
    return examples::usage_error(args, e.what());
  } catch (const std::exception& e) {  // lab::SetupError and anything unexpected: one line, exit 2
    return examples::error(args, e.what());
  }
}
