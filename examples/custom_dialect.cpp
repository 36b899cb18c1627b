// A dialect for a server servebench does not ship one for: llama.cpp's `llama-server` native /completion endpoint.
// A dialect says how to build the request and how to read a reply or one stream event; the driver does the rest
// (timing, [DONE], invalid JSON and missing fields). Usage: custom_dialect --url http://127.0.0.1:8080
#include <iostream>
#include <string>

#include <servebench/driver.hpp>
#include <servebench/ready.hpp>

#ifndef SERVEBENCH_EXAMPLE_NO_MAIN
#include "common/cli.hpp"
#endif

namespace sb = servebench;

struct llama_cpp {
  static constexpr const char* name = "llama_cpp";  // what artifacts call this dialect
  sb::api::HttpCall request(const sb::Prompt& prompt, const sb::GenerationOptions& g) const {
    return {"/completion",
            {{"prompt", prompt.text},
             {"n_predict", prompt.max_tokens},
             {"temperature", g.temperature},
             {"stream", g.stream}}};
  }
  sb::api::Reply reply(const nlohmann::json& body) const {
    sb::api::Reply r;
    r.text = body.at("content").get<std::string>();
    r.completion_tokens = sb::api::optional_int(body, "tokens_predicted");
    return r;
  }
  // Optional: with this member the dialect streams. llama.cpp ends its stream with {"stop": true}, not [DONE].
  sb::api::Event event(const nlohmann::json& data) const {
    sb::api::Event e;
    e.text = data.at("content").get<std::string>();
    e.carries_text = !e.text.empty();
    e.terminator = data.at("stop").get<bool>();
    if (e.terminator) e.completion_tokens = sb::api::optional_int(data, "tokens_predicted");
    return e;
  }
};

#ifndef SERVEBENCH_EXAMPLE_NO_MAIN  // tests/integration_custom_dialect.cpp includes this file for llama_cpp
int main(int argc, char** argv) {
  std::string url;
  CLI::App args("Sends one streamed request to a llama.cpp server (a custom dialect).", "custom_dialect");
  args.add_option("--url", url, "the llama.cpp server, e.g. http://127.0.0.1:8080")->required();
  if (auto exit_code = examples::parse(args, argc, argv)) return *exit_code;
  try {
    sb::Driver<llama_cpp> driver(sb::DriverOptions().base_url(url).stream(true));
    const auto r = driver.send({"Explain attention in one sentence:", 32});
    if (!r.ok()) return examples::error(args, sb::describe_failure(r, url));
    std::cout << "TTFT " << r.ttft_s() * 1e3 << " ms, " << r.n_out << " tokens: " << r.text << "\n";
  } catch (const std::invalid_argument& e) {  // a URL the driver cannot parse
    return examples::usage_error(args, e.what());
  }
}
#endif
