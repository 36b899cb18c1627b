// Every dialect, streaming and not, against a scripted server on 127.0.0.1 that speaks all four. The server writes
// its tokens with a gap between them and reports when it wrote the first and last (sim_timing, on the same steady
// clock as the client since both live in this process), so the record's timestamps can be checked against ground
// truth: the client cannot see a token before the server wrote it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <servebench/driver.hpp>
#include <servebench/sim/dialects.hpp>

#include "support/test_server.hpp"

using namespace servebench;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr int kTokens = 5;
constexpr auto kGap = 20ms;  // between tokens: makes TTFT < latency hold with a wide margin

std::string token(int i) { return "t" + std::to_string(i) + " "; }
std::string all_tokens(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += token(i);
  return s;
}

json sim_timing(Nanos first, Nanos last) { return {{"first_token_ns", first}, {"last_token_ns", last}}; }

enum class Dialect { completions, chat, tgi };

// Writes a token stream in the given dialect's shape, with sim_timing on the chunk of the last token.
void stream_reply(httplib::Response& res, Dialect dialect, int n, bool with_usage) {
  res.set_chunked_content_provider("text/event-stream", [=](std::size_t, httplib::DataSink& sink) {
    auto write = [&](const json& data) {
      const std::string event = testing::sse_event(data.dump());
      return sink.write(event.data(), event.size());
    };
    Nanos first = 0;
    if (dialect == Dialect::chat)
      write({{"choices", {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}}}}});
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_for(kGap);
      const Nanos now = now_ns();
      if (i == 0) first = now;
      json chunk;
      if (dialect == Dialect::completions) chunk = {{"choices", {{{"index", 0}, {"text", token(i)}}}}};
      if (dialect == Dialect::chat) chunk = {{"choices", {{{"index", 0}, {"delta", {{"content", token(i)}}}}}}};
      if (dialect == Dialect::tgi)
        chunk = {{"token", {{"id", i}, {"text", token(i)}, {"special", false}}},
                 {"generated_text", nullptr},
                 {"details", nullptr}};
      if (i == n - 1) chunk["sim_timing"] = sim_timing(first, now);
      if (!write(chunk)) return false;
    }
    if (dialect == Dialect::tgi) {
      // TGI's last event: the end-of-sequence token (special, no text) with the whole text and the details.
      write({{"token", {{"id", 2}, {"text", "</s>"}, {"special", true}}},
             {"generated_text", all_tokens(n)},
             {"details", {{"finish_reason", "eos_token"}, {"generated_tokens", n + 1}}}});
    } else {
      if (with_usage) write({{"choices", json::array()}, {"usage", {{"prompt_tokens", 3}, {"completion_tokens", n}}}});
      const std::string done = testing::sse_event("[DONE]");
      sink.write(done.data(), done.size());
    }
    sink.done();
    return true;
  });
}

void whole_reply(httplib::Response& res, const json& body) {
  std::this_thread::sleep_for(kGap * kTokens);
  res.set_content(body.dump(), "application/json");
}

struct FakeLlm {
  testing::TestServer server;
  std::atomic<bool> usage_in_streams{true};

  FakeLlm() {
    auto& s = server.server();
    s.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      const auto body = json::parse(req.body);
      const int n = body.at("max_tokens").get<int>();
      if (body.value("stream", false))
        return stream_reply(res, Dialect::completions, n, usage_in_streams && body.contains("stream_options"));
      const Nanos now = now_ns();
      if (!body.contains("temperature"))  // the lab's Flask server (hf_simple sends only prompt and max_tokens)
        return whole_reply(res, {{"text", all_tokens(n)},
                                 {"usage", {{"completion_tokens", n}}},
                                 {"elapsed_sec", 0.1},
                                 {"sim_timing", sim_timing(now, now)}});
      whole_reply(res, {{"choices", {{{"text", all_tokens(n)}}}},
                        {"usage", {{"prompt_tokens", 3}, {"completion_tokens", n}}},
                        {"sim_timing", sim_timing(now, now)}});
    });
    s.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      const auto body = json::parse(req.body);
      const int n = body.at("max_tokens").get<int>();
      if (body.value("stream", false)) return stream_reply(res, Dialect::chat, n, usage_in_streams);
      whole_reply(res, {{"choices", {{{"message", {{"role", "assistant"}, {"content", all_tokens(n)}}}}}},
                        {"usage", {{"prompt_tokens", 3}, {"completion_tokens", n}}}});
    });
    s.Post("/generate_stream", [](const httplib::Request& req, httplib::Response& res) {
      stream_reply(res, Dialect::tgi, json::parse(req.body).at("parameters").at("max_new_tokens").get<int>(), false);
    });
    s.Post("/generate", [](const httplib::Request& req, httplib::Response& res) {
      const int n = json::parse(req.body).at("parameters").at("max_new_tokens").get<int>();
      whole_reply(res, {{"generated_text", all_tokens(n)}, {"details", {{"generated_tokens", n}}}});
    });
    server.start();
  }
};

void check_ordering(const RequestRecord& r) {
  CHECK(r.t_sched <= r.t_send);
  CHECK(r.t_send <= r.t_first_token);
  CHECK(r.t_first_token <= r.t_end);
}

template <class Api>
void check_dialect(FakeLlm& llm, bool stream, std::int64_t expected_n_out, TokenSource expected_source,
                   std::int64_t expected_events) {
  Driver<Api> driver(DriverOptions().base_url(llm.server.url()).model("m").label("fake").stream(stream));
  const Nanos scheduled = now_ns();
  const auto r = driver.send(Prompt{"Hello", kTokens}, 3, scheduled);
  REQUIRE_MESSAGE(r.ok(), to_string(r.error_kind), ": ", r.error_message);
  CHECK(r.target == "fake");
  CHECK(r.index == 3);
  CHECK(r.t_sched == scheduled);
  CHECK(r.http_status == 200);
  CHECK(r.text == all_tokens(kTokens));
  CHECK(r.n_out == expected_n_out);
  CHECK(r.token_source == expected_source);
  check_ordering(r);
  CHECK(r.streamed == stream);
  if (stream) {
    CHECK(static_cast<std::int64_t>(r.event_times.size()) == expected_events);
    CHECK(r.ttft_s() < r.latency_s());
    CHECK(r.event_times.front() == r.t_first_token);
    CHECK(r.event_times.back() == r.t_end);
    for (std::size_t i = 1; i < r.event_times.size(); ++i) CHECK(r.event_times[i - 1] <= r.event_times[i]);
    // The server paused kGap before each token; the client saw the stream spread over at least most of that.
    CHECK(r.t_end - r.t_first_token >= std::chrono::nanoseconds(kGap).count() * (kTokens - 1) / 2);
    REQUIRE(r.tpot_s());
  } else {
    CHECK(r.event_times.empty());
    CHECK(r.t_first_token == r.t_end);
  }
}

}  // namespace

TEST_CASE("every dialect, streaming and not, yields complete, ordered records") {
  FakeLlm llm;
  SUBCASE("hf_simple") { check_dialect<api::hf_simple>(llm, false, kTokens, TokenSource::usage, 0); }
  SUBCASE("openai_completions") { check_dialect<api::openai_completions>(llm, false, kTokens, TokenSource::usage, 0); }
  SUBCASE("openai_completions streaming") {
    check_dialect<api::openai_completions>(llm, true, kTokens, TokenSource::usage, kTokens);
  }
  SUBCASE("openai_chat") { check_dialect<api::openai_chat>(llm, false, kTokens, TokenSource::usage, 0); }
  SUBCASE("openai_chat streaming") { check_dialect<api::openai_chat>(llm, true, kTokens, TokenSource::usage, kTokens); }
  SUBCASE("tgi") { check_dialect<api::tgi>(llm, false, kTokens, TokenSource::usage, 0); }
  // TGI counts the end-of-sequence token in generated_tokens; it carries no text, so it is no event.
  SUBCASE("tgi streaming") { check_dialect<api::tgi>(llm, true, kTokens + 1, TokenSource::usage, kTokens); }
}

TEST_CASE("without usage in the stream, n_out counts text events and says so") {
  FakeLlm llm;
  llm.usage_in_streams = false;
  check_dialect<api::openai_completions>(llm, true, kTokens, TokenSource::events, kTokens);
  check_dialect<api::openai_chat>(llm, true, kTokens, TokenSource::events, kTokens);
}

TEST_CASE("a dialect that cannot stream sends a plain request when streaming is asked for") {
  FakeLlm llm;
  check_dialect<api::hf_simple>(llm, false, kTokens, TokenSource::usage, 0);
  Driver<api::hf_simple> driver(DriverOptions().base_url(llm.server.url()).stream(true));
  const auto r = driver.send(Prompt{"Hello", kTokens});
  REQUIRE(r.ok());
  CHECK_FALSE(r.streamed);
}

TEST_CASE("the client sees each token after the server wrote it (sim_timing ground truth)") {
  FakeLlm llm;
  // The simulator's dialect reads the server's own timing; the plain one ignores it (a real server has none).
  Driver<servebench::sim::openai_completions> driver(DriverOptions().base_url(llm.server.url()).stream(true));
  const auto r = driver.send(Prompt{"Hello", kTokens});
  REQUIRE(r.ok());
  REQUIRE(r.server_timing.has_value());
  const auto& truth = *r.server_timing;
  CHECK(r.t_send <= truth.first_token);
  CHECK(truth.first_token <= r.t_first_token);
  CHECK(truth.last_token <= r.t_end);
  // On loopback the client reads a token within milliseconds of its write; 1 s only guards against nonsense.
  CHECK(r.t_first_token - truth.first_token < 1'000'000'000);
  CHECK(r.t_end - truth.last_token < 1'000'000'000);
  Driver<api::openai_completions> plain(DriverOptions().base_url(llm.server.url()).stream(true));
  CHECK_FALSE(plain.send(Prompt{"Hello", kTokens}).server_timing.has_value());
}

TEST_CASE("keep_text(false) drops the text but keeps the counts") {
  FakeLlm llm;
  Driver<api::openai_chat> driver(DriverOptions().base_url(llm.server.url()).stream(true).keep_text(false));
  const auto r = driver.send(Prompt{"Hello", kTokens});
  REQUIRE(r.ok());
  CHECK(r.text.empty());
  CHECK(r.n_out == kTokens);
}

TEST_CASE("one driver sends many requests in a row and each record stands alone") {
  FakeLlm llm;
  Driver<api::openai_completions> driver(DriverOptions().base_url(llm.server.url()).stream(true));
  for (int i = 1; i <= 3; ++i) {
    const auto r = driver.send(Prompt{"Hello", i}, static_cast<std::uint64_t>(i));
    REQUIRE(r.ok());
    CHECK(r.n_out == i);
    CHECK(static_cast<int>(r.event_times.size()) == i);
    CHECK(r.text == all_tokens(i));
  }
}
