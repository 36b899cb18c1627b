// Every dialect, streaming and not, against a scripted server on 127.0.0.1 that speaks all four. The server writes
// its tokens with a gap between them and reports when it wrote the first and last (sim_timing, on the same steady
// clock as the client since both live in this process), so the record's timestamps can be checked against ground
// truth: the client cannot see a token before the server wrote it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
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

namespace {
// A completions server that notes the client port of every request (one port: one connection).
struct PortServer {
  testing::TestServer server;
  std::mutex mutex;
  std::vector<int> ports;

  explicit PortServer(std::size_t keep_alive_max) {
    server.server().set_keep_alive_max_count(keep_alive_max);
    server.server().Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        ports.push_back(req.remote_port);
      }
      res.set_content(json{{"choices", {{{"text", "ok"}}}}, {"usage", {{"completion_tokens", 1}}}}.dump(),
                      "application/json");
    });
    server.start();
  }
};
}  // namespace

TEST_CASE("connect() opens the connection before the first request; without it the first request connects") {
  PortServer peer(100);
  Driver<api::openai_completions> preopened(DriverOptions().base_url(peer.server.url()));
  CHECK(preopened.connect().empty());
  CHECK(preopened.connect().empty());  // already open: nothing more
  for (int i = 0; i < 3; ++i) {
    const auto r = preopened.send(Prompt{"Hello", 1});
    REQUIRE_MESSAGE(r.ok(), r.error_message);
    CHECK_FALSE(r.t_connect.has_value());  // no request waited for a connection
  }
  Driver<api::openai_completions> lazy(DriverOptions().base_url(peer.server.url()));
  const auto first = lazy.send(Prompt{"Hello", 1});
  REQUIRE(first.ok());
  REQUIRE(first.t_connect.has_value());
  CHECK(first.t_send <= *first.t_connect);
  CHECK(*first.t_connect <= first.t_end);
  REQUIRE(first.connect_s());
  CHECK(*first.connect_s() < 1.0);                                   // loopback: well under a lost SYN's second
  CHECK_FALSE(lazy.send(Prompt{"Hello", 1}).t_connect.has_value());  // kept alive
  std::lock_guard<std::mutex> lock(peer.mutex);
  REQUIRE(peer.ports.size() == 5);
  CHECK(std::set<int>(peer.ports.begin(), peer.ports.begin() + 3).size() == 1);  // the pre-opened one, reused
  CHECK(peer.ports[3] == peer.ports[4]);
}

TEST_CASE("a server that closes the connection after each reply: every later request records t_connect") {
  PortServer peer(1);  // cpp-httplib's server answers "Connection: close" and closes after one request
  Driver<api::openai_completions> driver(DriverOptions().base_url(peer.server.url()));
  REQUIRE(driver.connect().empty());
  std::vector<RequestRecord> records;
  for (int i = 0; i < 4; ++i) records.push_back(driver.send(Prompt{"Hello", 1}));
  for (const auto& r : records) REQUIRE_MESSAGE(r.ok(), r.error_message);
  CHECK_FALSE(records[0].t_connect.has_value());
  for (std::size_t i = 1; i < records.size(); ++i) {
    REQUIRE(records[i].t_connect.has_value());
    CHECK(records[i].t_send <= *records[i].t_connect);
    CHECK(*records[i].t_connect <= records[i].t_end);
  }
  std::lock_guard<std::mutex> lock(peer.mutex);
  CHECK(std::set<int>(peer.ports.begin(), peer.ports.end()).size() == 4);
}

TEST_CASE("connect() to a port where nothing listens names the server and the cause, at once") {
  const int port = testing::unused_port();
  Driver<api::openai_completions> driver(DriverOptions().base_url("http://127.0.0.1:" + std::to_string(port)));
  const auto start = std::chrono::steady_clock::now();
  const std::string why = driver.connect();
  CHECK(why == "cannot connect to 127.0.0.1:" + std::to_string(port) + " (refused or unreachable)");
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("a connection the server closed while it waited is replaced, and the request says it connected") {
  testing::TestServer server;
  server.server().set_keep_alive_timeout(1);  // closes an idle connection after about a second
  server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(json{{"choices", {{{"text", "ok"}}}}}.dump(), "application/json");
  });
  server.start();
  Driver<api::openai_completions> driver(DriverOptions().base_url(server.url()));
  REQUIRE(driver.connect().empty());
  std::this_thread::sleep_for(2500ms);  // the server's keep-alive timeout (1 s, checked each second) passes
  const auto r = driver.send(Prompt{"Hello", 1});
  REQUIRE_MESSAGE(r.ok(), r.error_message);
  CHECK(r.t_connect.has_value());
}
