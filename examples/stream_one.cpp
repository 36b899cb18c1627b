// Sends one streamed request to a server and prints TTFT, TPOT, the token count and the reply.
//   stream_one --url http://127.0.0.1:8000 --api openai_completions --model meta-llama/Meta-Llama-3-8B-Instruct
#include <cstdlib>
#include <iostream>
#include <string>

#include <servebench/driver.hpp>

namespace {

const char* const usage =
    "usage: stream_one --url URL [--api openai_completions|openai_chat|tgi|hf_simple] [--model NAME]\n"
    "                  [--prompt TEXT] [--max-tokens N]\n"
    "Sends one streamed request (hf_simple cannot stream: it sends a plain one) and prints TTFT, TPOT, tokens and\n"
    "the reply text.\n";

int bad_args(const std::string& why) {
  std::cerr << "stream_one: " << why << "\n" << usage;
  return 2;
}

template <class Api>
int run(const servebench::DriverOptions& options, const servebench::Prompt& prompt) {
  servebench::Driver<Api> driver(options);
  const auto r = driver.send(prompt);
  if (!r.ok()) {
    std::cerr << "stream_one: " << servebench::to_string(r.error_kind) << ": " << r.error_message << "\n";
    if (!r.body_start.empty()) std::cerr << "reply began: " << r.body_start << "\n";
    return 1;
  }
  std::cout << "TTFT     " << (r.streamed ? std::to_string(r.ttft_s() * 1e3) + " ms" : "n/a (not streamed)") << "\n";
  const auto tpot = r.tpot_s();
  std::cout << "TPOT     " << (tpot ? std::to_string(*tpot * 1e3) + " ms" : "n/a (fewer than 2 tokens)") << "\n";
  std::cout << "latency  " << r.latency_s() * 1e3 << " ms\n";
  std::cout << "tokens   " << r.n_out << " (from " << servebench::to_string(r.token_source) << ")\n";
  std::cout << "reply    " << r.text << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, api = "openai_completions", model;
  servebench::Prompt prompt{"Write a detailed explanation of how transformers work:", 64};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    }
    if (i + 1 >= argc) return bad_args("missing value after " + arg);
    const std::string value = argv[++i];
    if (arg == "--url") {
      url = value;
    } else if (arg == "--api") {
      api = value;
    } else if (arg == "--model") {
      model = value;
    } else if (arg == "--prompt") {
      prompt.text = value;
    } else if (arg == "--max-tokens") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || n <= 0 || n > 1000000) return bad_args("bad --max-tokens '" + value + "'");
      prompt.max_tokens = static_cast<int>(n);
    } else {
      return bad_args("unknown option " + arg);
    }
  }
  if (url.empty()) return bad_args("--url is required");
  const auto options = servebench::DriverOptions().base_url(url).model(model).stream(true);
  try {
    if (api == "openai_completions") return run<servebench::api::openai_completions>(options, prompt);
    if (api == "openai_chat") return run<servebench::api::openai_chat>(options, prompt);
    if (api == "tgi") return run<servebench::api::tgi>(options, prompt);
    if (api == "hf_simple") return run<servebench::api::hf_simple>(options, prompt);
  } catch (const std::invalid_argument& e) {  // a URL the driver cannot parse
    return bad_args(e.what());
  }
  return bad_args("unknown --api '" + api + "'");
}
