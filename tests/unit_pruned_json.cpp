// detail::parse_pruned (include/servebench/pruned_json.hpp): with every key kept it builds what nlohmann::json::parse
// builds (the reference: nlohmann's own DOM parser, on the same text), and accepts and refuses the same texts; with
// keys refused it builds the rest exactly, whatever was inside the refused values.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include <servebench/pruned_json.hpp>

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
      R"(  {"x" : [ 1 , 2 ] }  )",
      // not JSON
      "", "{", R"({"a":})", "[1,]", "{\"a\":1}x", "nul", "\"\xff\"", "<html>502</html>", "[DONE]", "01"};
  for (const auto& text : texts) {
    CAPTURE(text);
    const json reference = json::parse(text, nullptr, false);
    json out;
    const bool valid = parse_pruned(text, out, keep_all);
    CHECK(valid == !reference.is_discarded());
    if (valid) CHECK(out == reference);
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
