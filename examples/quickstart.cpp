// The README's first example: ten concurrent streamed requests against an embedded vLLM-like server, a summary
// line, and a full artifact. Point base_url at a real server instead of starting the simulated one.
#include <iostream>

#include <servebench.hpp>
#include <servebench/sim.hpp>  // only for the embedded server

int main() {
  using namespace servebench;
  sim::Server vllm(sim::preset(sim::measured_pair.vllm).time_scale(20));  // or point at a real server instead
  vllm.start();

  const Target target = make_target<api::openai_completions>(
      DriverOptions().label("vllm").base_url(vllm.url()).model("meta-llama/Meta-Llama-3-8B-Instruct").stream(true));
  const LevelResult result = to_modelled_time(
      run_closed_loop(ClosedLoop().concurrency(10).requests(50).warmup(2),
                      template_prompts("Question {i}: Explain concept {i} briefly.", 50), target),
      20);  // in the modelled GPU's time: a simulated server runs 20x faster than it

  const LevelSummary& s = result.summary;
  std::cout << s.successful << " ok, " << s.failed << " failed, " << s.throughput_req_per_sec << " req/s";
  if (s.ttft) std::cout << ", TTFT p95 " << s.ttft->p95 * 1e3 << " ms";
  std::cout << " (modelled time of a simulated H200 server)\n";
  write_artifact("artifacts/quickstart.json", Artifact{RunMetadata{}, {result}});
  std::cout << "artifact: artifacts/quickstart.json\n";
}
