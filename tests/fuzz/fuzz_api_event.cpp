// libFuzzer target: every streaming dialect's event reader (api::read_event), fed one SSE data field. No exception
// escapes; "[DONE]" is a terminator for every dialect; an event that carries text has text; failures are classified
// with a message; the pruned read (only the keys the dialect reads are built) is the whole document's read.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <servebench/api.hpp>
#include <servebench/sim/dialects.hpp>

#include "parsed_checks.hpp"

namespace {

template <class Api>
void check(std::string_view data) {
  const auto parsed = servebench::api::read_event(Api{}, data);
  if (data == "[DONE]" && !(parsed.ok() && parsed.value.terminator)) std::abort();
  servebench::fuzz::check_outcome(parsed);
  if (parsed.ok() && parsed.value.carries_text && parsed.value.text.empty()) std::abort();
  if (!servebench::fuzz::same_read(parsed, servebench::api::read_event(servebench::fuzz::whole_document<Api>{}, data)))
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check<servebench::api::openai_completions>(text);
  check<servebench::api::openai_chat>(text);
  check<servebench::api::tgi>(text);
  check<servebench::sim::openai_completions>(text);
  check<servebench::sim::openai_chat>(text);
  return 0;
}
