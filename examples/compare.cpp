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
  // The pair measured side by side on one H200 (docs/simulator.md), 20x faster than real time.
  sim::Server plain(sim::preset(sim::measured_pair.hf).api(sim::ApiFlavour::openai).time_scale(20));
  sim::Server batching(sim::preset(sim::measured_pair.vllm).time_scale(20));
  const bool embedded = argc < 3;
  if (embedded) plain.start(), batching.start();
  const auto options = DriverOptions().model("meta-llama/Meta-Llama-3-8B-Instruct");
  const std::vector<Target> targets = {
      make_target<api::openai_completions>(
          DriverOptions(options).label("plain").base_url(embedded ? plain.url() : argv[1])),
      make_target<api::openai_completions>(
          DriverOptions(options).label("batching").base_url(embedded ? batching.url() : argv[2]))};

  const Nanos start = now_ns();
  SweepResult sweep = run_sweep(Sweep().concurrency_levels({1, 5, 10, 20}).closed_loop(ClosedLoop().requests(20)),
                                template_prompts("Question {i}: Explain concept {i} briefly.", 50), targets);
  if (embedded)  // tables, files and charts in the modelled GPU's time, not the 20x faster wall clock
    for (auto& level : sweep.levels) level = to_modelled_time(level, 20, start);
  print_comparison(std::cout, sweep.levels);  // "vs plain": each level's throughput over the first target's
  write_artifact("artifacts/compare.json", Artifact{RunMetadata{}, sweep.levels});
  chart::write_svg("artifacts/compare_throughput.svg", chart::render_grouped_bars(throughput_chart(sweep.levels)));
  std::cout << "\nartifact: artifacts/compare.json\nchart:    artifacts/compare_throughput.svg\n";
}
