// libFuzzer target: the JSONL workload reader (parse_jsonl_prompts). Bad input must become WorkloadError whose
// message names the source (and, for a bad line, its number), never another exception or a crash. What it accepts
// has at least one prompt, every one with a positive max_tokens.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include <servebench/workload.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto prompts = servebench::parse_jsonl_prompts(in, "fuzz.jsonl", 64);
    if (prompts.empty()) std::abort();
    for (const auto& p : prompts)
      if (p.max_tokens <= 0) std::abort();
  } catch (const servebench::WorkloadError& e) {
    if (std::string(e.what()).rfind("fuzz.jsonl", 0) != 0) std::abort();
  }
  return 0;
}
