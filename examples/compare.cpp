// Two servers side by side at 1, 5, 10 and 20 concurrent requests: a table with each one's throughput relative to
// the first, the full artifact and the throughput chart. The README's first example.
//
//   compare                                               # two embedded simulated servers (no GPU needed)
//   compare http://127.0.0.1:8001 http://127.0.0.1:8000   # two OpenAI-compatible servers of yours
#include <iostream>
#include <string>
#include <vector>

#include <servebench.hpp>
#include <servebench/sim.hpp>  // only for the embedded servers

int main(int argc, char** argv) {
  using namespace servebench;
  sim::Server plain(sim::preset("hf-transformers-h200").api(sim::ApiFlavour::openai).time_scale(20));
  sim::Server batching(sim::preset("vllm-h100").time_scale(20));
  if (argc < 3) plain.start(), batching.start();
  const auto options = DriverOptions().model("meta-llama/Meta-Llama-3-8B-Instruct");
  const std::vector<Target> targets = {
      make_target<api::openai_completions>(
          DriverOptions(options).label("plain").base_url(argc < 3 ? plain.url() : argv[1])),
      make_target<api::openai_completions>(
          DriverOptions(options).label("batching").base_url(argc < 3 ? batching.url() : argv[2]))};

  const SweepResult sweep = run_sweep(Sweep().concurrency_levels({1, 5, 10, 20}).closed_loop(ClosedLoop().requests(20)),
                                      template_prompts("Question {i}: Explain concept {i} briefly.", 50), targets);
  print_comparison(std::cout, sweep.levels);  // "vs plain": each level's throughput over the first target's
  write_artifact("artifacts/compare.json", Artifact{RunMetadata{}, sweep.levels});
  chart::write_svg("artifacts/compare_throughput.svg", chart::render_grouped_bars(throughput_chart(sweep.levels)));
  std::cout << "\nartifact: artifacts/compare.json\nchart:    artifacts/compare_throughput.svg\n";
}
