// Tests for workload.hpp: prompt sources. Expected prompts are written out by hand from the lab's scripts
// (notes: part 2.2 prompts, part 2.3 f-string), not computed with the code under test.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <servebench/workload.hpp>

using namespace servebench;

namespace {
std::size_t count_words(const std::string& text) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

std::string temp_path(const std::string& leaf) { return std::string(SERVEBENCH_BINARY_DIR) + "/unit_workload_" + leaf; }
}  // namespace

TEST_CASE("a fixed list wraps around when more requests than prompts are made") {
  const auto w = fixed_prompts({Prompt{"a", 5}, Prompt{"b", 7}});
  CHECK(w.at(0).text == "a");
  CHECK(w.at(1).text == "b");
  CHECK(w.at(2).text == "a");
  CHECK(w.at(5).max_tokens == 7);
  CHECK_FALSE(w.infinite());
  CHECK(w.take(3).size() == 3);
}

TEST_CASE("an empty list or a non-positive max_tokens is refused") {
  CHECK_THROWS_AS(fixed_prompts(std::vector<Prompt>{}), WorkloadError);
  CHECK_THROWS_AS(fixed_prompts({Prompt{"x", 0}}), std::invalid_argument);
  CHECK_THROWS_AS(template_prompts("x", -1), std::invalid_argument);
  CHECK_THROWS_AS(synthetic_prompts(0, 10), std::invalid_argument);
}

TEST_CASE("the template workload reproduces the lab's concurrency prompts") {
  const auto w = template_prompts("Question {i}: Explain concept {i} briefly.", 50);
  CHECK(w.infinite());
  CHECK(w.at(0).text == "Question 0: Explain concept 0 briefly.");
  CHECK(w.at(17).text == "Question 17: Explain concept 17 briefly.");
  CHECK(w.at(17).max_tokens == 50);

  SUBCASE("a count makes it finite and wrap") {
    const auto finite = template_prompts("p{i}", 3, 4);
    CHECK(finite.size() == std::uint64_t{4});
    CHECK(finite.at(5).text == "p1");
  }
  SUBCASE("a pattern without {i} is used as is") { CHECK(template_prompts("same", 3).at(9).text == "same"); }
}

TEST_CASE("a JSONL file gives prompts and max_tokens, skipping blank lines") {
  const auto path = temp_path("good.jsonl");
  {
    std::ofstream out(path);
    out << "{\"prompt\": \"first\", \"max_tokens\": 12}\n"
        << "\n"
        << "{\"prompt\": \"second\"}\r\n"
        << "{\"prompt\": \"third \\\"quoted\\\"\", \"max_tokens\": 1, \"extra\": true}\n";
  }
  const auto w = jsonl_prompts(path, 64);
  REQUIRE(w.size() == std::uint64_t{3});
  CHECK(w.at(0).text == "first");
  CHECK(w.at(0).max_tokens == 12);
  CHECK(w.at(1).text == "second");
  CHECK(w.at(1).max_tokens == 64);  // the default given
  CHECK(w.at(2).text == "third \"quoted\"");
  // A data set: no silent wrap past its end, and a run that needs more fails before it starts.
  CHECK_FALSE(w.cycles());
  CHECK_THROWS_WITH_AS(w.at(3), doctest::Contains("holds 3 prompts but the run needs 4"), WorkloadError);
  CHECK_THROWS_AS(w.check_enough(4), WorkloadError);
  CHECK_NOTHROW(w.check_enough(3));
  std::remove(path.c_str());
}

TEST_CASE("a JSONL line may carry a chat history in \"messages\"") {
  std::istringstream in(
      "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}], "
      "\"max_tokens\": 9}\n");
  const auto prompts = parse_jsonl_prompts(in, "chat.jsonl");
  REQUIRE(prompts.size() == 1);
  REQUIRE(prompts[0].messages.size() == 2);
  CHECK(prompts[0].messages[0].role == "system");
  CHECK(prompts[0].messages[1].content == "Hi");
  CHECK(prompts[0].text == "Be brief.\nHi");
  CHECK(prompts[0].max_tokens == 9);
}

TEST_CASE("a bad JSONL line is reported with the file name and its line number") {
  struct Case {
    const char* body;
    const char* expect;
  };
  const Case cases[] = {
      {"{\"prompt\": \"ok\"}\n{not json\n", ":2: not valid JSON"},
      {"{\"prompt\": \"ok\"}\n\n[1, 2]\n", ":3: expected a JSON object"},
      {"{\"text\": \"no prompt\"}\n", ":1: missing field \"prompt\""},
      {"{\"messages\": []}\n", ":1: field \"messages\" must be a non-empty list"},
      {"{\"prompt\": \"ok\"}\n{\"messages\": [{\"role\": \"user\"}]}\n",
       ":2: field \"messages[0].content\" must be a string"},
      {"{\"prompt\": 42}\n", ":1: field \"prompt\" must be a string"},
      {"{\"prompt\": \"x\", \"max_tokens\": \"many\"}\n", ":1: field \"max_tokens\" must be an integer"},
      {"{\"prompt\": \"x\", \"max_tokens\": 0}\n", ":1: field \"max_tokens\" must be a positive integer"},
      {"\n\n", ": no prompts"},
      // Found by fuzzing (tests/fuzz/fuzz_workload.cpp): nlohmann throws out_of_range, not parse_error, for a number
      // beyond a double's range; it escaped as a non-WorkloadError exception.
      {"{\"prompt\": \"x\", \"max_tokens\": 1e400}\n", ":1: not valid JSON"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    std::istringstream in(c.body);
    try {
      parse_jsonl_prompts(in, "prompts.jsonl");
      FAIL("no exception");
    } catch (const WorkloadError& e) {
      const std::string message = e.what();
      CHECK(message.rfind("prompts.jsonl", 0) == 0);
      CAPTURE(message);
      CHECK(message.find(c.expect) != std::string::npos);
    }
  }
  SUBCASE("a missing file names the path") {
    try {
      jsonl_prompts(temp_path("does-not-exist.jsonl"));
      FAIL("no exception");
    } catch (const WorkloadError& e) {
      CHECK(std::string(e.what()).find("does-not-exist.jsonl: cannot open") != std::string::npos);
    }
  }
}

TEST_CASE("synthetic prompts have the asked word count and are deterministic per seed") {
  const auto a = synthetic_prompts(37, 16, 1);
  const auto again = synthetic_prompts(37, 16, 1);
  const auto other_seed = synthetic_prompts(37, 16, 2);
  CHECK(a.infinite());
  std::set<std::string> distinct;
  for (std::uint64_t i = 0; i < 50; ++i) {
    const auto p = a.at(i);
    CHECK(count_words(p.text) == 37);
    CHECK(p.max_tokens == 16);
    CHECK(p.text == again.at(i).text);
    distinct.insert(p.text);
  }
  CHECK(distinct.size() == 50);  // a different prompt for every index
  CHECK(a.at(0).text != other_seed.at(0).text);
  // Random access: asking for index 40 first gives the same prompt as asking after 0..39.
  CHECK(synthetic_prompts(37, 16, 1).at(40).text == a.at(40).text);
}

TEST_CASE("a workload can be read from several threads at once") {
  const auto w = synthetic_prompts(8, 4, 3);
  std::vector<std::string> first(4), second(4);
  std::thread t1([&] {
    for (int i = 0; i < 4; ++i) first[i] = w.at(static_cast<std::uint64_t>(i)).text;
  });
  std::thread t2([&] {
    for (int i = 0; i < 4; ++i) second[i] = w.at(static_cast<std::uint64_t>(i)).text;
  });
  t1.join();
  t2.join();
  CHECK(first == second);
}
