// detail::parse_pruned (pruned_json.hpp, over json_scanner.hpp): with every key kept it builds what
// nlohmann::json::parse builds, types included (the reference: nlohmann's own parser, on the same text), and accepts
// and refuses the same texts; with keys refused it builds the rest exactly, whatever was inside the refused values.
// fuzz_json checks the same on generated texts.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include <servebench/pruned_json.hpp>

#include "fuzz/parsed_checks.hpp"

using nlohmann::json;
using servebench::detail::parse_pruned;

namespace {
json pruned(std::string_view text, bool (*keep)(std::string_view)) {
  json out;
  REQUIRE(parse_pruned(text, out, keep));
  return out;
}
bool keep_all(std::string_view) { return true; }
}  // namespace

TEST_CASE("keeping every key builds what nlohmann::json::parse builds, and refuses what it refuses") {
  const std::vector<std::string> texts{
      "null", "true", "0", "-12", "18446744073709551615", "1e400", "-0.5e-3", R"("\u00e9\ud83d\ude00")", "[]", "{}",
      R"([[1,[2,[3,{}]]],{"a":[{"b":null}]}])",
      R"({"id":"cmpl-1","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null}],"usage":null})",
      R"({"a":1,"a":2,"b":{"a":[true,false]}})",  // a duplicate key: the last wins in both
      R"(  {"x" : [ 1 , 2 ] }  )", "\xef\xbb\xbf[1]", " \t\r\n[ 1 ,\n2 ]\t", R"("\u0000\u001f\/\b\f\n\r\t\"\\")",
      R"("\uD834\uDD1E \u00E9")", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\x7f\"", "-0",
      "-9223372036854775808", "-9223372036854775809", "9223372036854775807", "18446744073709551616",
      "123456789012345678", "1234567890123456789", "0.1e-2", "1E+2", "1e-400", "[1e308,-1e308]",
      std::string(300, '[') + std::string(300, ']'), std::string("{}\0\0)", 5),
      std::string("17e1 \0:", 7),  // nlohmann reads a NUL byte as the end of the text
      // not JSON
      "", "{", R"({"a":})", "[1,]", "{\"a\":1}x", "nul", "\"\xff\"", "<html>502</html>", "[DONE]", "01", "-", "-a",
      "1.", ".5", "1e", "1e+", "+1", "0x1", "1e309", "-1e309", "\xef\xbb[1]", "\xef\xbb\xbf",
      " \xef\xbb\xbf"
      "1",
      "\"\x01\"", "\"\\x\"", R"("\u12")", R"("\uD834")", R"("\uD834\u0041")", R"("\uDD1E")", "\"\xc0\x80\"",
      "\"\xe0\x80\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xc3\"", "\"abc",
      "[1 2]", "{\"a\" 1}", "{\"a\":1,}", "{1:2}", "[,1]", "\v1", "tru", "nulll", std::string("[1]\0", 4),
      std::string(300, '[') + std::string(299, ']')};
  for (const auto& text : texts) {
    CAPTURE(text);
    const json reference = json::parse(text, nullptr, false);
    json out;
    const bool valid = parse_pruned(text, out, keep_all);
    CHECK(valid == !reference.is_discarded());
    if (valid) CHECK(servebench::fuzz::identical(out, reference));
  }
}

TEST_CASE("a refused key's value is skipped with everything inside it; the rest is built exactly") {
  const auto keep_ab = [](std::string_view key) { return key == "a" || key == "b"; };
  const std::string text =
      R"({"z":{"a":[1,{"b":2}],"deep":[[[{}]]]},"a":[{"b":3,"c":[4,5]},{"c":{"b":6}},7],"c":"x","b":{"y":null}})";
  json out;
  REQUIRE(parse_pruned(text, out, keep_ab));
  // Arrays keep every element (their length reads the same); objects keep only accepted keys, at any depth.
  CHECK(out == json::parse(R"({"a":[{"b":3},{},7],"b":{}})"));
  CHECK(pruned(R"([{"c":1},{"c":[1,2]},3])", +[](std::string_view) { return false; }) == json::parse("[{},{},3]"));
  CHECK(pruned(R"({"skip":{"a":1},"a":{"skip":[{"a":2}],"a":3}})", +[](std::string_view k) { return k == "a"; }) ==
        json::parse(R"({"a":{"a":3}})"));

  SUBCASE("invalid text inside a refused value still makes the whole text invalid") {
    json ignored;
    CHECK_FALSE(parse_pruned(R"({"c":[1,2,}],"a":1})", ignored, keep_ab));
    CHECK_FALSE(parse_pruned(R"({"c":"\x01"})", ignored, keep_ab));
    CHECK_FALSE(parse_pruned(R"({"a":1}{"a":2})", ignored, keep_ab));
  }
}
