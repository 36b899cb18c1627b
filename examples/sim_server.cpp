// Runs the two simulated servers of the lab until Ctrl-C: the HF-like sequential server on 8001 and the vLLM-like
// continuous-batching server on 8000, so the lab's own Python scripts (or any OpenAI client) can be pointed at them
// without a GPU.
//
//   sim_server                      # 8001: hf-transformers-h200 (lab HF API), 8000: transformers-cb-h200 (OpenAI)
//   sim_server --time-scale 10      # ten times faster than the real GPUs
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <pthread.h>

#include <servebench/sim.hpp>

#include "common/cli.hpp"

int main(int argc, char** argv) {
  int hf_port = 8001, vllm_port = 8000;
  double time_scale = 1.0;
  std::string host = "127.0.0.1", vllm_preset = servebench::sim::measured_pair.vllm;
  CLI::App args("Runs the lab's two simulated servers until Ctrl-C.", "sim_server");
  args.add_option("--hf-port", hf_port, "port of the HF-like sequential server (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  args.add_option("--vllm-port", vllm_port, "port of the vLLM-like continuous-batching server (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  args.add_option("--time-scale", time_scale, "run X times faster than the modelled GPUs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  args.add_option("--host", host, "address to listen on (0.0.0.0 for every interface)")->capture_default_str();
  std::string presets = "preset of the --vllm-port server (default: the H200 pair's). Presets:";
  for (const auto& p : servebench::sim::preset_infos())
    presets += std::string("\n  ") + p.name + ": " + servebench::sim::provenance(p);
  args.add_option("--vllm-preset", vllm_preset, presets)
      ->check(CLI::IsMember(servebench::sim::preset_names()))
      ->capture_default_str();
  if (auto exit_code = examples::parse(args, argc, argv)) return *exit_code;

  // Block Ctrl-C and SIGTERM in every thread (the servers' threads inherit the mask) and wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    namespace sim = servebench::sim;
    sim::ServerOptions vllm_options = sim::preset(vllm_preset);
    sim::Server hf(sim::preset("hf-transformers-h200").host(host).port(hf_port).time_scale(time_scale));
    sim::Server vllm(vllm_options.host(host).port(vllm_port).time_scale(time_scale));
    hf.start();
    vllm.start();
    std::cout << "HF-like server (hf-transformers-h200, lab HF API):  " << hf.url() << "\n"
              << "vLLM-like server (" << vllm_preset << ", OpenAI API):        " << vllm.url() << "\n"
              << "time scale " << time_scale << "x; Ctrl-C to stop" << std::endl;
    int received = 0;
    sigwait(&signals, &received);
    std::cout << "\nstopping" << std::endl;
    const auto hf_stats = hf.stats(), vllm_stats = vllm.stats();
    hf.stop();
    vllm.stop();
    std::cout << "served: HF-like " << hf_stats.completed << " of " << hf_stats.requests << ", vLLM-like "
              << vllm_stats.completed << " of " << vllm_stats.requests << std::endl;
  } catch (const std::exception& e) {
    return examples::error(args, e.what());
  }
  return 0;
}
