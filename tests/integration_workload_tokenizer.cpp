// workload/tokenizer.hpp against servers with a real tokenizer endpoint: servebench::sim (four bytes a token, a chat
// template of four tokens a message) and an aiohttp peer we did not write the tokenizer of (tests/peers/
// tokenizer_server_aiohttp.py: a BOS token, then three-character pieces of words; its /detokenize puts "<s>" in the
// text). Every prompt must have exactly the requested input tokens as the server counts them (usage.prompt_tokens
// and, for the peer, its own log of what it served); a server without the endpoint gives approximate lengths, said
// so; a disagreement between /tokenize and the generation endpoint is reported, never accepted silently.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <servebench/scheduler.hpp>
#include <servebench/sim.hpp>
#include <servebench/target.hpp>
#include <servebench/workload/tokenizer.hpp>

#include "support/python_peer.hpp"

using namespace servebench;

namespace {

const auto lengths = LengthDistribution::uniform(96, 0.5);  // 48 to 144 tokens
const auto replies = LengthDistribution::fixed(4);

template <class Api>
LevelResult run_all(const DriverOptions& options, const Workload& workload) {
  return run_closed_loop(ClosedLoop().concurrency(4).requests(*workload.size()).quiet(true), workload,
                         make_target<Api>(options));
}

void check_exact(const LevelResult& result, const Workload& workload) {
  REQUIRE(result.records.size() == *workload.size());
  for (const auto& r : result.records) {
    CAPTURE(r.index);
    CAPTURE(r.error_message);
    REQUIRE(r.ok());
    CHECK(r.n_in_expected == lengths.draw(3, r.index, 0x1A));
    CHECK(r.n_in == r.n_in_expected);
  }
  CHECK(result.summary.input_length_checked == *workload.size());
  CHECK(result.summary.input_length_mismatches == 0);
  CHECK(result.warnings.empty());
}

}  // namespace

TEST_CASE("prompts built on the simulator's /tokenize have exactly the requested tokens, completions and chat") {
  sim::Server server(sim::preset("vllm-h100").time_scale(50).threads(8));
  server.start();
  const auto options = DriverOptions().base_url(server.url());
  SUBCASE("completions") {
    ServerTokenizer tokenizer(options);
    REQUIRE(tokenizer.available());
    const auto built = exact_length_prompts(tokenizer, 30, lengths, replies, 3);
    CHECK(built.exact);
    CHECK(built.description["input_lengths"] == "exact");
    check_exact(run_all<sim::openai_completions>(options, built.workload), built.workload);
  }
  SUBCASE("chat: the template's tokens are counted as the server counts them") {
    ServerTokenizer tokenizer(options, /*chat=*/true);
    const auto built = exact_length_prompts(tokenizer, 30, lengths, replies, 3);
    check_exact(run_all<sim::openai_chat>(options, built.workload), built.workload);
  }
  SUBCASE("a tokenizer that disagrees with the generation endpoint is reported per level") {
    ServerTokenizer tokenizer(options);  // counted without the chat template, sent to the chat endpoint
    const auto built = exact_length_prompts(tokenizer, 10, lengths, replies, 3);
    const auto result = run_all<sim::openai_chat>(options, built.workload);
    CHECK(result.summary.input_length_checked == 10);
    CHECK(result.summary.input_length_mismatches == 10);
    REQUIRE(result.warnings.size() == 1);
    CHECK(result.warnings[0].find("10 of 10 prompts") != std::string::npos);
  }
}

TEST_CASE("the simulator's /tokenize and /detokenize agree with the usage it reports") {
  sim::Server server(sim::preset("vllm-h100").time_scale(50));
  server.start();
  ServerTokenizer tokenizer(DriverOptions().base_url(server.url()));
  const std::string text = "Explain the attention layer of a transformer, briefly.";
  const auto ids = tokenizer.tokenize(text);
  CHECK(ids.size() == (text.size() + 3) / 4);
  CHECK(tokenizer.detokenize(ids) == text);
  Driver<sim::openai_completions> driver(DriverOptions().base_url(server.url()));
  CHECK(driver.send(Prompt{text, 2}).n_in == static_cast<std::int64_t>(ids.size()));
  httplib::Client client(server.url());
  const auto bad = client.Post("/detokenize", R"({"tokens": [-1]})", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);
}

TEST_CASE("prompts built on another server's tokenizer have exactly the requested tokens, counted at the server") {
  testing::PythonPeer peer("tokenizer_server_aiohttp.py");
  const auto options = DriverOptions().base_url(peer.url());
  ServerTokenizer tokenizer(options);
  const auto built = exact_length_prompts(tokenizer, 30, lengths, replies, 3);
  REQUIRE(built.exact);
  check_exact(run_all<api::openai_completions>(options, built.workload), built.workload);
  // The server's own log: 30 requests, each of the requested length.
  httplib::Client client(peer.url());
  const auto stats = client.Get("/stats");
  REQUIRE(stats);
  const auto served = nlohmann::json::parse(stats->body);
  CHECK(served["requests"] == 30);
  std::vector<std::int64_t> expected, got = served["prompt_tokens"].get<std::vector<std::int64_t>>();
  for (std::uint64_t i = 0; i < 30; ++i) expected.push_back(lengths.draw(3, i, 0x1A));
  std::sort(expected.begin(), expected.end());
  std::sort(got.begin(), got.end());
  CHECK(got == expected);
}

TEST_CASE("a server without a tokenizer endpoint gets approximate lengths, marked so") {
  testing::PythonPeer peer("tokenizer_server_aiohttp.py", {"--no-tokenizer"});
  const auto options = DriverOptions().base_url(peer.url());
  ServerTokenizer tokenizer(options);
  std::string why;
  CHECK_FALSE(tokenizer.available(&why));
  CHECK(why.find("404") != std::string::npos);
  const auto built = exact_length_prompts(tokenizer, 5, lengths, replies, 3);
  CHECK_FALSE(built.exact);
  CHECK(built.description["input_lengths"] == "approximate");
  CHECK(built.note.find("approximate") != std::string::npos);
  const auto result = run_all<api::openai_completions>(options, built.workload);
  CHECK(result.summary.input_length_checked == 0);
  for (const auto& r : result.records) CHECK(r.n_in_expected == -1);
  CHECK_THROWS_AS(tokenizer.tokenize("x"), WorkloadError);
}
