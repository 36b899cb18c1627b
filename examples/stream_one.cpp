// Sends one streamed request to a server and prints TTFT, TPOT, the token count and the reply.
//   stream_one --url http://127.0.0.1:8000 --api openai_completions --model meta-llama/Meta-Llama-3-8B-Instruct
#include <iostream>
#include <string>

#include <servebench/driver.hpp>
#include <servebench/ready.hpp>

#include "common/cli.hpp"

namespace {

template <class Api>
int run(const CLI::App& args, const servebench::DriverOptions& options, const servebench::Prompt& prompt) {
  servebench::Driver<Api> driver(options);
  const auto r = driver.send(prompt);
  if (!r.ok()) return examples::error(args, servebench::describe_failure(r, options.base_url()));
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
  using namespace servebench;
  std::string url, api = "openai_completions", model;
  Prompt prompt{"Write a detailed explanation of how transformers work:", 64};
  CLI::App args("Sends one streamed request and prints TTFT, TPOT, tokens and the reply text.", "stream_one");
  args.add_option("--url", url, "the server's base URL, e.g. http://127.0.0.1:8000")->required();
  args.add_option("--api", api, "openai_completions, openai_chat, tgi, or hf_simple (cannot stream)")
      ->check(CLI::IsMember({"openai_completions", "openai_chat", "tgi", "hf_simple"}))
      ->capture_default_str();
  args.add_option("--model", model, "the model to ask for (servers with one model need none)");
  args.add_option("--prompt", prompt.text, "the prompt");
  args.add_option("--max-tokens", prompt.max_tokens, "tokens to generate")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  if (auto exit_code = examples::parse(args, argc, argv)) return *exit_code;
  const auto options = DriverOptions().base_url(url).model(model).stream(true);
  try {
    if (api == "openai_chat") return run<api::openai_chat>(args, options, prompt);
    if (api == "tgi") return run<api::tgi>(args, options, prompt);
    if (api == "hf_simple") return run<api::hf_simple>(args, options, prompt);
    return run<api::openai_completions>(args, options, prompt);
  } catch (const std::invalid_argument& e) {  // a URL the driver cannot parse
    return examples::usage_error(args, e.what());
  }
}
