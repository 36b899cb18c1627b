// Tests for workload/datasets.hpp: ShareGPT and JSONL data sets, seeded sampling, no silent wrap, and one clear line
// for a malformed file. The expected prompts and lengths are written out by hand from the small files below.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include <servebench/workload/datasets.hpp>

using namespace servebench;

namespace {
// Three usable entries (replies of 3, 1 and 4 words), one with a single turn (skipped, as vLLM skips it).
const char* const sharegpt = R"([
  {"id": "a", "conversations": [{"from": "human", "value": "What is a KV cache?"},
                                {"from": "gpt", "value": "It stores keys."}]},
  {"id": "b", "conversations": [{"from": "human", "value": "Only one turn"}]},
  {"id": "c", "conversations": [{"from": "human", "value": "Say hi"}, {"from": "gpt", "value": "Hi"},
                                {"from": "human", "value": "again"}]},
  {"id": "d", "conversations": [{"from": "human", "value": "Explain batching"},
                                {"from": "gpt", "value": "Many requests share steps."}]}
])";

std::string temp_file(const std::string& leaf, const std::string& body) {
  const std::string path = std::string(SERVEBENCH_BINARY_DIR) + "/unit_workload_datasets_" + leaf;
  std::ofstream(path) << body;
  return path;
}

std::string error_of(const std::string& body) {
  try {
    parse_sharegpt(body, "share.json");
  } catch (const WorkloadError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("ShareGPT: the first turn is the prompt, the reply's length the output length") {
  const auto prompts = parse_sharegpt(sharegpt, "share.json");
  REQUIRE(prompts.size() == 3);
  CHECK(prompts[0].text == "What is a KV cache?");
  CHECK(prompts[0].max_tokens == 3);
  CHECK(prompts[1].text == "Say hi");
  CHECK(prompts[1].max_tokens == 1);
  CHECK(prompts[2].max_tokens == 4);
  SUBCASE("a token counter gives the server's count instead of words") {
    const auto counted = parse_sharegpt(sharegpt, "share.json",
                                        [](const std::string& s) { return std::int64_t(s.size()); });
    CHECK(counted[0].max_tokens == 15);  // "It stores keys."
  }
}

TEST_CASE("sampling a data set is seeded, and never wraps silently") {
  const auto path = temp_file("share.json", sharegpt);
  SUBCASE("every entry in file order by default") {
    const auto w = sharegpt_prompts(path);
    REQUIRE(w.size() == std::uint64_t{3});
    CHECK(w.at(0).text == "What is a KV cache?");
    CHECK_FALSE(w.cycles());
    CHECK_THROWS_WITH_AS(w.check_enough(4), doctest::Contains("holds 3 prompts but the run needs 4"), WorkloadError);
  }
  SUBCASE("without replacement: distinct entries, the same for the same seed") {
    const auto a = sharegpt_prompts(path, {2, false, 7});
    const auto b = sharegpt_prompts(path, {2, false, 7});
    REQUIRE(a.size() == std::uint64_t{2});
    CHECK(a.at(0).text == b.at(0).text);
    CHECK(a.at(1).text == b.at(1).text);
    CHECK(a.at(0).text != a.at(1).text);
    std::set<std::string> orders;
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      const auto w = sharegpt_prompts(path, {3, false, seed});
      orders.insert(w.at(0).text + "|" + w.at(1).text + "|" + w.at(2).text);
    }
    CHECK(orders.size() > 1);  // the seed changes the order
  }
  SUBCASE("more requests than entries: a clear error, unless with replacement") {
    CHECK_THROWS_WITH_AS(sharegpt_prompts(path, {5, false, 1}),
                         doctest::Contains("holds 3 prompts but 5 requests were asked for"), WorkloadError);
    const auto w = sharegpt_prompts(path, {10, true, 1});
    REQUIRE(w.size() == std::uint64_t{10});
    std::set<std::string> seen;
    for (std::uint64_t i = 0; i < 10; ++i) seen.insert(w.at(i).text);
    CHECK(seen.size() <= 3);
  }
  SUBCASE("--output-tokens overrides the replies' lengths") {
    const auto w = sharegpt_prompts(path, {0, false, 0, 64});
    CHECK(w.at(0).max_tokens == 64);
  }
  std::remove(path.c_str());
}

TEST_CASE("a malformed ShareGPT file gives one line naming the file, the line or entry, and the field") {
  CHECK(error_of("[\n {\"conversations\": [}\n]").rfind("share.json:2: not valid JSON", 0) == 0);
  CHECK(error_of("{\"conversations\": []}") ==
        "share.json: expected a JSON list of {\"conversations\": [...]} entries");
  CHECK(error_of(R"([{"conversations": []}, {"id": 1}])") == "share.json: entry 1: field \"conversations\" is missing");
  CHECK(error_of(R"([{"conversations": [{"from": "human", "value": 5}, {"value": "x"}]}])") ==
        "share.json: entry 0: field \"conversations[0].value\" must be a string");
  CHECK(error_of(R"([{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt"}]}])") ==
        "share.json: entry 0: field \"conversations[1].value\" is missing");
  CHECK(error_of("[]") == "share.json: no entry has a prompt and a reply");
  CHECK_THROWS_WITH_AS(sharegpt_prompts("/nonexistent/share.json"), "/nonexistent/share.json: cannot open",
                       WorkloadError);
}

TEST_CASE("a JSONL data set is sampled the same way") {
  const auto path = temp_file("p.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"max_tokens\": 3}\n");
  const auto w = jsonl_dataset(path, {2, false, 5}, 8);
  REQUIRE(w.size() == std::uint64_t{2});
  CHECK(w.at(0).text != w.at(1).text);
  CHECK_THROWS_AS(jsonl_dataset(path, {3, false, 5}), WorkloadError);
  std::remove(path.c_str());
}
