// Lab task 2.1: check that the servers answer. Sends one request to the HF baseline and one to vLLM and prints
// what came back, how long it took and how many tokens it had.
//
//   lab2_1_check_server                                  # embedded simulated servers, no GPU needed
//   lab2_1_check_server --hf http://127.0.0.1:8001      # the HF server alone, as the lab's task 2.1 does
//   lab2_1_check_server --hf http://127.0.0.1:8001 --vllm http://127.0.0.1:8000 --model NAME
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "lab/lab.hpp"

using namespace servebench;

int main(int argc, char** argv) {
  lab::Options options;
  CLI::App args("Lab task 2.1: check that the HF baseline and vLLM servers answer.", "lab2_1_check_server");
  lab::add_server_flags(args, options);
  lab::add_workload_flags(args, options, /*concurrency_levels=*/false);
  args.add_flag("--quiet", options.quiet, "print only the result lines");
  if (auto exit_code = examples::parse(args, argc, argv)) return *exit_code;
  options.skip_missing_side = true;  // one real server given (the lab starts only the HF one): check it alone
  try {
    lab::check(options);
    lab::Servers servers(options, options.quiet ? nullptr : &std::cerr);
    const Prompt prompt{lab::prompts[0], options.max_tokens ? options.max_tokens : 20};

    std::cout << std::fixed << std::setprecision(3);
    int failures = 0;
    for (const auto& target : servers.targets()) {
      AnySender sender = target.make_sender();  // a Driver for this server's API
      const RequestRecord r = sender.send(prompt, 0, 0);
      if (!r.ok()) {
        std::cout << target.label() << " (" << target.info.url << "): FAILED " << to_string(r.error_kind) << ": "
                  << r.error_message << "\n";
        ++failures;
        continue;
      }
      std::cout << target.label() << " (" << target.info.url << ", " << target.info.dialect << "): OK in "
                << r.latency_s() << " s, " << r.n_out << " tokens";
      if (r.streamed) std::cout << ", first token after " << r.ttft_s() << " s";
      std::cout << "\n";
      if (!options.quiet)
        std::cout << "  reply: " << r.text.substr(0, 120) << (r.text.size() > 120 ? "..." : "") << "\n";
    }
    for (const char* side : {lab::hf_label, lab::vllm_label}) {
      const auto targets = servers.targets();
      if (std::none_of(targets.begin(), targets.end(), [&](const Target& t) { return t.label() == side; }))
        std::cout << side << ": skipped (no --" << side << " URL; checking the server given)\n";
    }
    if (servers.time_scale())
      std::cout << "(simulated servers run " << *servers.time_scale() << "x faster than real time)\n";
    return failures ? 1 : 0;
  } catch (const examples::UsageError& e) {
    return examples::usage_error(args, e.what());
  } catch (const std::exception& e) {
    return lab::failed(args, e);
  }
}
