// libFuzzer target: detail::parse_pruned (JsonScanner building a PrunedDom) against nlohmann::json::parse, the
// reference, on any text: both accept it or both refuse it, and with every key kept they build identical values
// (types included). With the keys of a vLLM reply kept, the pruned value is the reference's with the other keys
// removed, at every depth.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <servebench/pruned_json.hpp>

#include "parsed_checks.hpp"

namespace {

bool kept(std::string_view key) { return key == "choices" || key == "text" || key == "usage" || key == "a"; }

// The reference's value without the object members whose key `kept` refuses.
nlohmann::json pruned_reference(const nlohmann::json& value) {
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = value.begin(); it != value.end(); ++it)
      if (kept(it.key())) out[it.key()] = pruned_reference(*it);
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& element : value) out.push_back(pruned_reference(element));
    return out;
  }
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json reference = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  nlohmann::json all, some;
  const bool valid = servebench::detail::parse_pruned(text, all, [](std::string_view) { return true; });
  if (valid != !reference.is_discarded()) std::abort();
  if (!valid) return 0;
  if (!servebench::fuzz::identical(all, reference)) std::abort();
  if (!servebench::detail::parse_pruned(text, some, kept)) std::abort();
  if (!servebench::fuzz::identical(some, pruned_reference(reference))) std::abort();
  return 0;
}
