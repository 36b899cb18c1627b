// libFuzzer target: the artifact reader (parse_artifact). Bad input must become std::runtime_error with a message,
// never another exception, a crash or undefined behaviour. What it accepts must survive a round trip: written back
// with artifact_to_json and read again, it reads the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <servebench/artifact.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  servebench::Artifact artifact;
  try {
    artifact = servebench::parse_artifact(text, "fuzz");
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).empty()) std::abort();
    return 0;
  }
  const std::string once = servebench::artifact_to_json(artifact).dump();
  servebench::Artifact again;
  try {
    again = servebench::parse_artifact(once, "round trip");
  } catch (const std::runtime_error&) {
    std::abort();  // we wrote something we cannot read back
  }
  if (servebench::artifact_to_json(again).dump() != once) std::abort();
  return 0;
}
