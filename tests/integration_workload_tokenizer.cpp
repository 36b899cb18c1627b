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

TEST_CASE("a /tokenize that answers without integer ids is no tokenizer: approximate lengths, and why") {
  testing::PythonPeer peer("tokenizer_server_aiohttp.py", {"--tokens-not-a-list"});
  ServerTokenizer tokenizer(DriverOptions().base_url(peer.url()));
  std::string why;
  CHECK_FALSE(tokenizer.available(&why));  // its probe's answer: {"tokens": "1 17"}
  CHECK(why.find("\"tokens\" list of integer ids") != std::string::npos);
  CHECK(why.find("1 17") != std::string::npos);
  const auto built = exact_length_prompts(tokenizer, 3, lengths, replies, 3);
  CHECK_FALSE(built.exact);
  CHECK(built.description["input_lengths"] == "approximate");
  // Any other text: {"tokens": [1, "17"]}, a WorkloadError naming the answer (not a JSON type error).
  try {
    tokenizer.tokenize("x");
    FAIL("tokenize accepted ids that are not integers");
  } catch (const WorkloadError& e) {
    CHECK(std::string(e.what()).find("[1,\"17\"]") != std::string::npos);
  }
}

namespace {

// Mean TTFT (ms, model time) and the level result of a shared-prefix workload on `server`, one request at a time.
std::pair<double, LevelResult> prefix_run(sim::Server& server, std::uint64_t requests) {
  const auto options = DriverOptions().base_url(server.url()).stream(true);
  ServerTokenizer tokenizer(options);
  const auto built = shared_prefix_prompts(tokenizer, requests, 2, 1024, 32, LengthDistribution::fixed(4), 5);
  REQUIRE(built.exact);
  auto result = run_closed_loop(ClosedLoop().concurrency(1).requests(requests).quiet(true), built.workload,
                                make_target<sim::openai_completions>(options));
  REQUIRE(result.summary.ttft.has_value());
  return {result.summary.ttft->mean * 1e3 * server.options().time_scale(), std::move(result)};
}

}  // namespace

TEST_CASE("shared prefixes: the batching simulator's prefix cache lowers TTFT; the sequential engine has none") {
  const std::uint64_t requests = 16;
  sim::Server cached(sim::preset("vllm-h100").time_scale(4));
  sim::Server uncached(sim::preset("vllm-h100").time_scale(4).engine_config([] {
    auto e = sim::preset("vllm-h100").engine_config();
    e.prefix_block_tokens = 0;
    return e;
  }()));
  sim::Server sequential(sim::preset("hf-transformers-h200").api(sim::ApiFlavour::openai).time_scale(20));
  cached.start();
  uncached.start();
  sequential.start();
  const auto [ttft_cached, with_cache] = prefix_run(cached, requests);
  const auto [ttft_uncached, without_cache] = prefix_run(uncached, requests);
  const auto [ttft_sequential, sequential_run] = prefix_run(sequential, requests);
  MESSAGE("mean TTFT (model ms): batching with prefix cache " << ttft_cached << ", without " << ttft_uncached
                                                              << ", sequential " << ttft_sequential);
  // Every prompt is 1056 tokens as the server counts them.
  for (const auto* run : {&with_cache, &without_cache, &sequential_run}) {
    CHECK(run->summary.input_length_checked == requests);
    CHECK(run->summary.input_length_mismatches == 0);
    CHECK(run->summary.total_input_tokens == static_cast<std::int64_t>(requests * 1056));
  }
  // The first request of each of the two groups misses; every other one finds at least the prefix's full blocks
  // (1024 tokens: 64 blocks of 16, less the block a cut last token may leave unshared).
  std::int64_t client_cached = 0;
  for (const auto& r : with_cache.records) {
    CAPTURE(r.index);
    if (r.index < 2)
      CHECK(r.n_in_cached == 0);
    else
      CHECK((r.n_in_cached >= 1008 && r.n_in_cached <= 1056));
    client_cached += r.n_in_cached;
  }
  CHECK(cached.stats().cached_prompt_tokens == static_cast<std::uint64_t>(client_cached));
  REQUIRE(with_cache.summary.prefix_hit_rate.has_value());
  CHECK(*with_cache.summary.prefix_hit_rate > 0.8);
  CHECK_FALSE(without_cache.summary.prefix_hit_rate.has_value());   // a server without the cache reports none
  CHECK_FALSE(sequential_run.summary.prefix_hit_rate.has_value());  // the sequential engine reports no cache
  CHECK(uncached.stats().cached_prompt_tokens == 0);
  // Prefill of 1056 tokens at 0.03 ms each is ~32 ms of model time; with the prefix cached ~1 ms.
  CHECK(ttft_cached < ttft_uncached - 15);
  CHECK(ttft_cached < ttft_sequential);
}
