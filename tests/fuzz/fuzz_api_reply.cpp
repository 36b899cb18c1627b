// libFuzzer target: every dialect's whole-reply reader (api::read_reply). Whatever the body, the reader returns a
// Parsed value — no exception escapes, and a failure is classified (invalid_json, missing_field, other) with a
// message. The input goes through all four dialects.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <servebench/api.hpp>

#include "parsed_checks.hpp"

namespace {

template <class Api>
void check(std::string_view body) {
  servebench::fuzz::check_outcome(servebench::api::read_reply(Api{}, body));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check<servebench::api::hf_simple>(body);
  check<servebench::api::openai_completions>(body);
  check<servebench::api::openai_chat>(body);
  check<servebench::api::tgi>(body);
  return 0;
}
