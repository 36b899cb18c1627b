// Runs the two simulated servers of the lab until Ctrl-C: the HF-like sequential server on 8001 and the vLLM-like
// continuous-batching server on 8000, so the lab's own Python scripts (or any OpenAI client) can be pointed at them
// without a GPU.
//
//   sim_server                      # 8001: hf-transformers-h200 (lab HF API), 8000: vllm-h100 (OpenAI API)
//   sim_server --time-scale 10      # ten times faster than the real GPUs
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <pthread.h>

#include <servebench/sim.hpp>

namespace {

void usage(std::ostream& out) {
  out << "usage: sim_server [--hf-port N] [--vllm-port N] [--time-scale X] [--host ADDR] [--vllm-preset NAME]\n"
         "  --hf-port N         port of the HF-like sequential server (default 8001; 0: any free port)\n"
         "  --vllm-port N       port of the vLLM-like continuous-batching server (default 8000; 0: any free port)\n"
         "  --time-scale X      run X times faster than the modelled GPUs (default 1)\n"
         "  --host ADDR         address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)\n"
         "  --vllm-preset NAME  preset of the port-8000 server: vllm-h100 (default) or transformers-cb-h200\n"
         "  --help              this text\n";
}

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "sim_server: " << message << "\n";
  usage(std::cerr);
  std::exit(2);
}

int parse_port(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  int port = -1;
  try {
    port = std::stoi(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || port < 0 || port > 65535) fail(flag + " needs a port number 0-65535, got '" + text + "'");
  return port;
}

double parse_scale(const std::string& text) {
  std::size_t used = 0;
  double scale = 0;
  try {
    scale = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || !(scale > 0)) fail("--time-scale needs a number > 0, got '" + text + "'");
  return scale;
}

}  // namespace

int main(int argc, char** argv) {
  int hf_port = 8001, vllm_port = 8000;
  double time_scale = 1.0;
  std::string host = "127.0.0.1", vllm_preset = "vllm-h100";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      return 0;
    } else if (arg == "--hf-port") {
      hf_port = parse_port(arg, value());
    } else if (arg == "--vllm-port") {
      vllm_port = parse_port(arg, value());
    } else if (arg == "--time-scale") {
      time_scale = parse_scale(value());
    } else if (arg == "--host") {
      host = value();
    } else if (arg == "--vllm-preset") {
      vllm_preset = value();
    } else {
      fail("unknown argument '" + arg + "'");
    }
  }

  // Block Ctrl-C and SIGTERM in every thread (the servers' threads inherit the mask) and wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    namespace sim = servebench::sim;
    sim::ServerOptions vllm_options;
    try {
      vllm_options = sim::preset(vllm_preset);
    } catch (const std::invalid_argument& e) {
      fail(std::string("--vllm-preset: ") + e.what());
    }
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
    std::cerr << "sim_server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
