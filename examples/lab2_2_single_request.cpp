// Lab task 2.2: the lab's three prompts, one request at a time, HF baseline then vLLM; per prompt the elapsed
// time, tokens, tokens per second and vLLM's speedup, and the average speedup.
//
//   lab2_2_single_request                                # embedded simulated servers, no GPU needed
//   lab2_2_single_request --hf http://127.0.0.1:8001 --vllm http://127.0.0.1:8000 --model NAME
//
// Writes artifacts/single_request_comparison.json (the lab's format) and single_request_comparison.full.json.
#include <iostream>

#include "lab/lab.hpp"

using namespace servebench;

int main(int argc, char** argv) {
  lab::Options options;
  CLI::App args("Lab task 2.2: single requests, HF baseline vs vLLM.", "lab2_2_single_request");
  lab::add_server_flags(args, options);
  lab::add_workload_flags(args, options, /*concurrency_levels=*/false);
  lab::add_output_flags(args, options);
  if (auto exit_code = examples::parse(args, argc, argv)) return *exit_code;
  try {
    lab::check(options);
    lab::check_output_dir(options.out_dir);
    lab::Servers servers(options, options.quiet ? nullptr : &std::cerr);
    const int max_tokens = options.max_tokens ? options.max_tokens : lab::prompt_max_tokens;
    const auto workload = fixed_prompts(std::vector<std::string>(lab::prompts.begin(), lab::prompts.end()), max_tokens);

    // One request at a time through each engine: a closed loop of one worker over the three prompts.
    std::vector<LevelResult> runs;
    for (const auto& target : servers.targets()) {
      runs.push_back(servers.modelled(
          run_closed_loop(ClosedLoop().concurrency(1).requests(3).quiet(options.quiet), workload, target)));
      if (runs.back().interrupted) break;
    }
    const bool interrupted = runs.back().interrupted;
    const auto rows = runs.size() == 2 ? lab::pair_single_requests(runs[0], runs[1], workload)
                                       : std::vector<lab::SingleRequest>{};

    std::cout << "\n";
    if (const auto note = modelled_time_note(runs); !note.empty()) std::cout << note << "\n";
    lab::print_single_requests(std::cout, rows);

    Artifact full;
    full.metadata = servers.metadata(argc, argv, {{"max_tokens", max_tokens}});
    full.levels = runs;
    const auto lab_file = options.path("single_request_comparison.json");
    const auto full_file = options.path("single_request_comparison.full.json");
    lab::write_json(lab_file, lab::single_request_json(rows));
    lab::write_json(full_file, artifact_to_json(full));
    lab::print_paths(std::cout, {{lab_file, "lab format"}, {full_file, "full artifact: metadata and every request"}});
    return interrupted ? 130 : 0;
  } catch (const examples::UsageError& e) {
    return examples::usage_error(args, e.what());
  } catch (const std::exception& e) {  // lab::SetupError and anything unexpected: one line, exit 2
    return lab::failed(args, e);
  }
}
