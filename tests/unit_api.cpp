#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <servebench/api.hpp>
#include <servebench/sim/dialects.hpp>

#include "fuzz/parsed_checks.hpp"

using namespace servebench;
using nlohmann::json;

// Request bodies and replies below are written from each server's documented API (vLLM's OpenAI-compatible server,
// TGI's /generate and /generate_stream) and the lab's Flask server, not produced by the code under test.

TEST_CASE("hf_simple sends exactly the lab's fields and reads its reply") {
  const auto call = api::hf_simple{}.request({"Hi", 50}, GenerationOptions{"m", 0.5, false, true, 3});
  CHECK(call.path == "/v1/completions");
  CHECK(call.body == json{{"prompt", "Hi"}, {"max_tokens", 50}});
  const auto r = api::read_reply(api::hf_simple{},
                                 R"({"text":"Hello there","usage":{"completion_tokens":2},"elapsed_sec":0.1})");
  REQUIRE(r.ok());
  CHECK(r.value.text == "Hello there");
  CHECK(r.value.completion_tokens == 2);
  CHECK_FALSE(r.value.prompt_tokens);
  CHECK_FALSE(api::streams_v<api::hf_simple>);
}

TEST_CASE("openai_completions asks for usage in streams and passes vLLM's extensions") {
  GenerationOptions g;
  g.model = "llama";
  g.stream = true;
  g.ignore_eos = true;
  g.min_tokens = 10;
  const auto call = api::openai_completions{}.request({"Hi", 7}, g);
  CHECK(call.path == "/v1/completions");
  CHECK(call.body == json{{"model", "llama"},
                          {"prompt", "Hi"},
                          {"max_tokens", 7},
                          {"temperature", 0.0},
                          {"ignore_eos", true},
                          {"min_tokens", 10},
                          {"stream", true},
                          {"stream_options", {{"include_usage", true}}}});
  SUBCASE("continuous usage stats only when asked for (other servers may reject the field)") {
    g.continuous_usage = true;
    for (const auto& body :
         {api::openai_completions{}.request({"Hi", 7}, g).body, api::openai_chat{}.request({"Hi", 7}, g).body})
      CHECK(body.at("stream_options") == json{{"include_usage", true}, {"continuous_usage_stats", true}});
    g.stream = false;
    CHECK_FALSE(api::openai_completions{}.request({"Hi", 7}, g).body.contains("stream_options"));
  }
  SUBCASE("and leaves them out when not asked for") {
    const auto plain = api::openai_completions{}.request({"Hi", 7}, GenerationOptions{});
    CHECK(plain.body == json{{"prompt", "Hi"}, {"max_tokens", 7}, {"temperature", 0.0}});
  }
}

TEST_CASE("openai_completions reads replies, text chunks, usage chunks and [DONE]") {
  api::openai_completions d;
  const auto reply = api::read_reply(
      d,
      R"({"choices":[{"index":0,"text":" Paris","finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}})");
  REQUIRE(reply.ok());
  CHECK(reply.value.text == " Paris");
  CHECK(reply.value.completion_tokens == 1);
  CHECK(reply.value.prompt_tokens == 4);

  const auto text = api::read_event(d, R"({"choices":[{"index":0,"text":" Par","finish_reason":null}],"usage":null})");
  REQUIRE(text.ok());
  CHECK(text.value.carries_text);
  CHECK(text.value.text == " Par");
  CHECK_FALSE(text.value.completion_tokens);
  CHECK_FALSE(text.value.terminator);

  const auto usage = api::read_event(d, R"({"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}})");
  REQUIRE(usage.ok());
  CHECK_FALSE(usage.value.carries_text);
  CHECK(usage.value.completion_tokens == 2);

  const auto done = api::read_event(d, "[DONE]");
  REQUIRE(done.ok());
  CHECK(done.value.terminator);
  CHECK_FALSE(done.value.carries_text);
}

TEST_CASE("openai_chat sends one user message and reads deltas") {
  api::openai_chat d;
  const auto call = d.request({"Hi", 5}, GenerationOptions{});
  CHECK(call.path == "/v1/chat/completions");
  CHECK(call.body.at("messages") == json::parse(R"([{"role":"user","content":"Hi"}])"));
  CHECK(call.body.at("max_tokens") == 5);
  const auto reply = api::read_reply(
      d, R"({"choices":[{"message":{"role":"assistant","content":"Yo"}}],"usage":{"completion_tokens":1}})");
  REQUIRE(reply.ok());
  CHECK(reply.value.text == "Yo");
  const auto role_only = api::read_event(d, R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})");
  REQUIRE(role_only.ok());
  CHECK_FALSE(role_only.value.carries_text);
  const auto delta = api::read_event(d, R"({"choices":[{"index":0,"delta":{"content":"Y"}}]})");
  REQUIRE(delta.ok());
  CHECK(delta.value.carries_text);
  CHECK(delta.value.text == "Y");
}

TEST_CASE("tgi uses /generate or /generate_stream, greedy without temperature, and ends on generated_text") {
  api::tgi d;
  GenerationOptions g;
  CHECK(d.request({"Hi", 5}, g).path == "/generate");
  CHECK(d.request({"Hi", 5}, g).body ==
        json{{"inputs", "Hi"}, {"parameters", {{"max_new_tokens", 5}, {"details", true}, {"do_sample", false}}}});
  g.stream = true;
  g.temperature = 0.7;
  const auto call = d.request({"Hi", 5}, g);
  CHECK(call.path == "/generate_stream");
  CHECK(call.body.at("parameters").at("temperature") == 0.7);

  SUBCASE("a reply, as an object or a one-element list") {
    for (const char* body : {R"({"generated_text":"abc","details":{"generated_tokens":3}})",
                             R"([{"generated_text":"abc","details":{"generated_tokens":3}}])"}) {
      const auto r = api::read_reply(d, body);
      REQUIRE(r.ok());
      CHECK(r.value.text == "abc");
      CHECK(r.value.completion_tokens == 3);
    }
  }
  SUBCASE("stream events") {
    const auto mid = api::read_event(
        d,
        R"({"index":1,"token":{"id":5,"text":"a","logprob":-0.1,"special":false},"generated_text":null,"details":null})");
    REQUIRE(mid.ok());
    CHECK(mid.value.carries_text);
    CHECK_FALSE(mid.value.terminator);
    const auto last = api::read_event(
        d,
        R"({"index":2,"token":{"id":2,"text":"</s>","logprob":0,"special":true},"generated_text":"a","details":{"finish_reason":"eos_token","generated_tokens":2}})");
    REQUIRE(last.ok());
    CHECK_FALSE(last.value.carries_text);
    CHECK(last.value.terminator);
    CHECK(last.value.completion_tokens == 2);
  }
}

TEST_CASE("invalid JSON and missing fields are classified for every dialect") {
  SUBCASE("invalid JSON") {
    CHECK(api::read_reply(api::hf_simple{}, "<html>502</html>").error == ErrorKind::invalid_json);
    CHECK(api::read_reply(api::openai_completions{}, R"({"choices":[)").error == ErrorKind::invalid_json);
    CHECK(api::read_event(api::openai_chat{}, "{").error == ErrorKind::invalid_json);
    CHECK(api::read_event(api::tgi{}, "").error == ErrorKind::invalid_json);
  }
  SUBCASE("missing or mistyped fields") {
    CHECK(api::read_reply(api::hf_simple{}, R"({"txt":"x"})").error == ErrorKind::missing_field);
    CHECK(api::read_reply(api::hf_simple{}, R"({"text":null})").error == ErrorKind::missing_field);
    CHECK(api::read_reply(api::openai_completions{}, R"({"choices":[]})").error == ErrorKind::missing_field);
    CHECK(api::read_reply(api::openai_completions{}, R"({"object":"error","message":"x"})").error ==
          ErrorKind::missing_field);
    CHECK(api::read_event(api::openai_completions{}, R"({"choices":[{"index":0}]})").error == ErrorKind::missing_field);
    CHECK(api::read_reply(api::openai_chat{}, R"({"choices":[{"text":"x"}]})").error == ErrorKind::missing_field);
    CHECK(api::read_event(api::openai_chat{}, R"({"choices":"x"})").error == ErrorKind::missing_field);
    CHECK(api::read_reply(api::tgi{}, R"({"text":"x"})").error == ErrorKind::missing_field);
    CHECK(api::read_event(api::tgi{}, R"({"generated_text":null})").error == ErrorKind::missing_field);
  }
  SUBCASE("the message quotes the start of what arrived") {
    const auto r = api::read_reply(api::hf_simple{}, R"({"txt":"quoted"})");
    CHECK(r.message.find("quoted") != std::string::npos);
  }
}

namespace {
// A dialect whose server reports when it wrote its tokens, in a field of its own.
struct timed_completions : api::openai_completions {
  std::optional<servebench::ServerTiming> server_timing(const nlohmann::json& body) const {
    const auto& t = body.at("timing");  // throws when absent: the read must not fail the request for it
    return servebench::ServerTiming{t.at(0).get<servebench::Nanos>(), t.at(1).get<servebench::Nanos>(), std::nullopt};
  }
};
}  // namespace

TEST_CASE("a dialect's server_timing hook fills the server's own times; the built-in dialects read none") {
  const std::string timing = R"("timing":[1000,5000],"sim_timing":{"first_token_ns":1,"last_token_ns":2})";
  const auto reply = api::read_reply(timed_completions{}, R"({"choices":[{"text":"a"}],)" + timing + "}");
  REQUIRE(reply.ok());
  REQUIRE(reply.value.server_timing.has_value());
  CHECK(reply.value.server_timing->first_token == 1000);
  CHECK(reply.value.server_timing->last_token == 5000);
  const auto event = api::read_event(timed_completions{}, R"({"choices":[{"text":"a"}],)" + timing + "}");
  REQUIRE(event.value.server_timing.has_value());
  CHECK(event.value.server_timing->last_token == 5000);

  SUBCASE("a real server's reply is never searched for the simulator's field") {
    const auto plain = api::read_reply(api::openai_completions{}, R"({"choices":[{"text":"a"}],)" + timing + "}");
    REQUIRE(plain.ok());
    CHECK_FALSE(plain.value.server_timing.has_value());
  }
  SUBCASE("a hook that cannot read its field leaves the timing empty and the reply ok") {
    const auto missing = api::read_reply(timed_completions{}, R"({"choices":[{"text":"a"}]})");
    CHECK(missing.ok());
    CHECK_FALSE(missing.value.server_timing.has_value());
  }
  CHECK(std::string(api::dialect_name<timed_completions>()) == "openai_completions");
  CHECK(std::string(api::dialect_name<api::tgi>()) == "tgi");
}

// Found by fuzzing (tests/fuzz/fuzz_api_reply.cpp, fuzz_api_event.cpp): a token count too large for an integer was
// parsed by nlohmann as a double and converted to int64 with undefined behaviour (UBSan: "outside the range of
// representable values"). A count that is not an int64 integer is now missing_field, like any mistyped field.
TEST_CASE("a token count that is not an integer of int64 range is a missing field, not undefined behaviour") {
  const char* counts[] = {"8888888888888888888888888882", "1e42", "5.5", "18446744073709551615", "-1e300"};
  for (const char* count : counts) {
    CAPTURE(count);
    const std::string usage = std::string(R"("usage":{"prompt_tokens":5,"completion_tokens":)") + count + "}";
    CHECK(api::read_reply(api::hf_simple{}, R"({"text":"x",)" + usage + "}").error == ErrorKind::missing_field);
    CHECK(api::read_reply(api::openai_completions{}, R"({"choices":[{"text":"x"}],)" + usage + "}").error ==
          ErrorKind::missing_field);
    CHECK(api::read_event(api::openai_chat{}, R"({"choices":[],)" + usage + "}").error == ErrorKind::missing_field);
    CHECK(api::read_event(api::tgi{},
                          std::string(R"({"token":{"text":"a"},"details":{"generated_tokens":)") + count + "}}")
              .error == ErrorKind::missing_field);
  }
  SUBCASE("the largest int64 is still a count") {
    const auto r = api::read_reply(api::hf_simple{},
                                   R"({"text":"x","usage":{"completion_tokens":9223372036854775807}})");
    REQUIRE(r.ok());
    CHECK(*r.value.completion_tokens == INT64_MAX);
  }
}

TEST_CASE("a chat stream's reasoning and tool calls are generated tokens but not answer text, in both spellings") {
  for (const char* field : {"reasoning_content", "reasoning"}) {
    CAPTURE(field);
    const auto e = api::read_event(api::openai_chat{},
                                   std::string(R"({"choices":[{"delta":{")") + field + R"(":"Let me think"}}]})");
    REQUIRE(e.ok());
    CHECK(e.value.carries_other_tokens);
    CHECK_FALSE(e.value.carries_text);
  }
  const auto tool = api::read_event(
      api::openai_chat{}, R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\""}}]}}]})");
  CHECK(tool.value.carries_other_tokens);
  const auto answer = api::read_event(api::openai_chat{},
                                      R"({"choices":[{"delta":{"content":"Yes","reasoning":null}}]})");
  CHECK(answer.value.carries_text);
  CHECK_FALSE(answer.value.carries_other_tokens);
  const auto role = api::read_event(api::openai_chat{}, R"({"choices":[{"delta":{"role":"assistant","content":""}}]})");
  CHECK_FALSE(role.value.carries_text);
  CHECK_FALSE(role.value.carries_other_tokens);
  const auto usage = api::read_event(
      api::openai_chat{},
      R"({"choices":[],"usage":{"completion_tokens":30,"completion_tokens_details":{"reasoning_tokens":12}}})");
  CHECK(usage.value.completion_tokens == 30);
  CHECK(usage.value.reasoning_tokens == 12);
}

namespace {
std::vector<std::string> corpus(const char* name) {
  std::vector<std::string> texts;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SERVEBENCH_SOURCE_DIR) + "/tests/fuzz/corpus/" + name)) {
    std::ifstream in(entry.path(), std::ios::binary);
    texts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return texts;
}

template <class Api>
void check_same_reads(const std::vector<std::string>& texts) {
  for (const auto& text : texts) {
    CAPTURE(api::dialect_name<Api>());
    CAPTURE(text);
    CHECK(servebench::fuzz::same_read(api::read_reply(Api{}, text),
                                      api::read_reply(servebench::fuzz::whole_document<Api>{}, text)));
    if constexpr (api::streams_v<Api>)
      CHECK(servebench::fuzz::same_read(api::read_event(Api{}, text),
                                        api::read_event(servebench::fuzz::whole_document<Api>{}, text)));
  }
}
}  // namespace

// The built-in dialects read a document built with only their keys (pruned_json.hpp); the reference is the same
// dialect reading the whole document (whole_document<Api>, derived, names no keys of its own). The fuzz targets
// fuzz_api_reply and fuzz_api_event check the same on every input they generate.
TEST_CASE("a dialect reads the same from its pruned document as from the whole one, failures included") {
  static_assert(api::reads_keys_v<api::openai_chat> && api::reads_keys_v<sim::openai_chat>);
  static_assert(!api::reads_keys_v<servebench::fuzz::whole_document<api::openai_chat>>);
  auto texts = corpus("api_reply");
  for (auto& t : corpus("api_event")) texts.push_back(std::move(t));
  const std::vector<std::string> edges{
      // vLLM's reply and chunks with every field it sends, reasoning, tool calls, continuous usage, the sim's timing
      R"({"id":"cmpl-9","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" Paris","logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_logprobs":null}],"usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}},"sim_timing":{"first_token_ns":10,"last_token_ns":20,"first_answer_token_ns":15}})",
      R"({"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hm","tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null}],"usage":{"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":2}}})",
      R"({"choices":[{"message":{"role":"assistant","content":"Yes","reasoning":"r"}}],"usage":{"completion_tokens":1.5}})",
      R"({"token":{"id":1,"text":"</s>","special":true,"logprob":0},"generated_text":"x","details":{"finish_reason":"length","generated_tokens":9,"seed":null}})",
      R"([{"generated_text":"x","details":{"generated_tokens":18446744073709551615}}])",
      // fields the dialect needs, of the wrong type or missing; duplicate keys; keys it reads at another depth
      R"({"choices":{"text":"a"}})", R"({"choices":[]})", R"({"choices":[{"text":null}]})",
      R"({"choices":[{"txt":"a"}]})", R"({"choices":[{"text":"a"}],"choices":[{"text":"b"}]})",
      R"({"usage":{"usage":{"text":"a"}},"text":"b"})", R"({"text":"a","usage":"none"})",
      R"({"choices":[{"delta":null}]})", R"({"sim_timing":{"first_token_ns":-1}})", "[DONE]", "", "{",
      "<html>502</html>"};
  texts.insert(texts.end(), edges.begin(), edges.end());
  check_same_reads<api::hf_simple>(texts);
  check_same_reads<api::openai_completions>(texts);
  check_same_reads<api::openai_chat>(texts);
  check_same_reads<api::tgi>(texts);
  check_same_reads<sim::openai_completions>(texts);
  check_same_reads<sim::openai_chat>(texts);
  check_same_reads<sim::hf_simple>(texts);
}
