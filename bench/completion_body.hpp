// servebench bench — the reply every target server of the client benchmarks gives to POST /v1/completions
// (bench_target, nginx in bench_open_loop): about 300 bytes, shaped like vLLM's /v1/completions reply.
#pragma once

#include <string>

namespace servebench::bench {

inline std::string completion_body() {
  const std::string text(120, 'x');
  return std::string(R"({"id":"cmpl-bench","object":"text_completion","created":0,"model":"bench",)") +
         R"("choices":[{"index":0,"text":")" + text + R"(","logprobs":null,"finish_reason":"length"}],)" +
         R"("usage":{"prompt_tokens":8,"total_tokens":40,"completion_tokens":32}})";
}

}  // namespace servebench::bench
