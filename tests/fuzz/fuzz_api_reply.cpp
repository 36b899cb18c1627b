// libFuzzer target: every dialect's whole-reply reader (api::read_reply). Whatever the body, the reader returns a
// Parsed value — no exception escapes, and a failure is classified (invalid_json, missing_field, other) with a
// message, and it is the same read as from the whole document (no key pruned). The input goes through all four
// dialects.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <servebench/api.hpp>
#include <servebench/sim/dialects.hpp>

#include "parsed_checks.hpp"

namespace {

template <class Api>
void check(std::string_view body) {
  const auto parsed = servebench::api::read_reply(Api{}, body);
  servebench::fuzz::check_outcome(parsed);
  // The pruned read (only the keys the dialect reads are built) says exactly what the whole document says.
  if (!servebench::fuzz::same_read(parsed, servebench::api::read_reply(servebench::fuzz::whole_document<Api>{}, body)))
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check<servebench::api::hf_simple>(body);
  check<servebench::api::openai_completions>(body);
  check<servebench::api::openai_chat>(body);
  check<servebench::api::tgi>(body);
  check<servebench::sim::openai_completions>(body);
  check<servebench::sim::openai_chat>(body);
  return 0;
}
