// Sends one streamed request to a server and prints TTFT, TPOT, the token count and the reply.
//   stream_one --url http://127.0.0.1:8000 --api openai_completions --model meta-llama/Meta-Llama-3-8B-Instruct
#include <iostream>
#include <string>

#include <servebench/cli.hpp>
#include <servebench/driver.hpp>

namespace {

template <class Api>
int run(const servebench::cli::ArgParser& args, const servebench::DriverOptions& options,
        const servebench::Prompt& prompt) {
  servebench::Driver<Api> driver(options);
  const auto r = driver.send(prompt);
  if (!r.ok()) return args.error(servebench::describe_failure(r, options.base_url()));
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
  cli::ArgParser args("stream_one", "Sends one streamed request and prints TTFT, TPOT, tokens and the reply text.");
  args.option("--url", "URL", "the server's base URL (required), e.g. http://127.0.0.1:8000", url)
      .option("--api", "NAME", "openai_completions (default), openai_chat, tgi, or hf_simple (cannot stream)",
              [&](const std::string& v) {
                api = cli::parse_choice("--api", v, {"openai_completions", "openai_chat", "tgi", "hf_simple"});
              })
      .option("--model", "NAME", "the model to ask for (servers with one model need none)", model)
      .option("--prompt", "TEXT", "the prompt", prompt.text)
      .option("--max-tokens", "N", "tokens to generate (default 64)", prompt.max_tokens, 1, 1000000);
  if (auto exit_code = args.parse(argc, argv)) return *exit_code;
  if (url.empty()) return args.usage_error("--url is required, e.g. --url http://127.0.0.1:8000");
  const auto options = DriverOptions().base_url(url).model(model).stream(true);
  try {
    if (api == "openai_chat") return run<api::openai_chat>(args, options, prompt);
    if (api == "tgi") return run<api::tgi>(args, options, prompt);
    if (api == "hf_simple") return run<api::hf_simple>(args, options, prompt);
    return run<api::openai_completions>(args, options, prompt);
  } catch (const std::invalid_argument& e) {  // a URL the driver cannot parse
    return args.usage_error(e.what());
  }
}
