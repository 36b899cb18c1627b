// Driver error taxonomy and options. Every error kind a driver can produce is provoked here against a peer on
// 127.0.0.1 (tests/support/test_server.hpp). Timing bounds are generous: the machine may be loaded.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <servebench/driver.hpp>
#include <servebench/ready.hpp>

#include "support/test_server.hpp"

using namespace servebench;
using namespace std::chrono_literals;
using servebench::testing::TestServer;

namespace {

const Prompt prompt{"Hello", 4};

std::string completion_chunk(const std::string& text) {
  return testing::sse_event(R"({"choices":[{"index":0,"text":")" + text + R"(","finish_reason":null}]})");
}

// Answers at once, then drips a byte every 50 ms without end: only a deadline ends its requests.
void serve_dripping(TestServer& server) {
  server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [](std::size_t, httplib::DataSink& sink) {
      std::this_thread::sleep_for(50ms);
      return sink.write(" ", 1);
    });
  });
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("base URLs are parsed into host, port and prefix") {
  auto u = detail::parse_base_url("http://127.0.0.1:8000");
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 8000);
  CHECK(u.prefix.empty());
  u = detail::parse_base_url("http://example.com/api/v2/");
  CHECK(u.port == 80);
  CHECK(u.prefix == "/api/v2");
  u = detail::parse_base_url("http://[::1]:9000/x");
  CHECK(u.host == "::1");
  CHECK(u.port == 9000);
  CHECK(u.prefix == "/x");
  CHECK(detail::parse_base_url("https://h").port == 443);
  CHECK_THROWS_AS(detail::parse_base_url("127.0.0.1:8000"), std::invalid_argument);
  CHECK_THROWS_AS(detail::parse_base_url("http://:80"), std::invalid_argument);
  CHECK_THROWS_AS(detail::parse_base_url("http://h:99999"), std::invalid_argument);
  CHECK_THROWS_AS(detail::parse_base_url("ftp://h"), std::invalid_argument);
  CHECK_THROWS_AS(detail::parse_base_url("http://h:"), std::invalid_argument);  // an empty port is a mistake, not 80
  CHECK_THROWS_AS(Driver<api::hf_simple>(DriverOptions().base_url("nonsense")), std::invalid_argument);
}

TEST_CASE("driver options are fluent and read back") {
  const auto o = DriverOptions()
                     .base_url("http://h:1")
                     .api_key("k")
                     .model("m")
                     .label("vllm")
                     .stream(true)
                     .temperature(0.5)
                     .ignore_eos(true)
                     .min_tokens(3)
                     .connect_timeout(1s)
                     .read_timeout(2s)
                     .write_timeout(3s)
                     .deadline(4s)
                     .keep_text(false);
  CHECK(o.base_url() == "http://h:1");
  CHECK(o.api_key() == "k");
  CHECK(o.model() == "m");
  CHECK(o.label() == "vllm");
  CHECK(o.stream());
  CHECK(o.temperature() == 0.5);
  CHECK(o.ignore_eos());
  CHECK(o.min_tokens() == 3);
  CHECK(o.connect_timeout() == 1s);
  CHECK(o.read_timeout() == 2s);
  CHECK(o.write_timeout() == 3s);
  CHECK(o.deadline() == 4s);
  CHECK_FALSE(o.keep_text());
  CHECK(o.generation().model == "m");
}

TEST_CASE("the prefix, the bearer key and the JSON body reach the server") {
  TestServer server;
  std::string auth, path, content_type, body;
  server.server().Post("/prefix/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    auth = req.get_header_value("Authorization");
    path = req.path;
    content_type = req.get_header_value("Content-Type");
    body = req.body;
    res.set_content(R"({"text":"ok","usage":{"completion_tokens":1}})", "application/json");
  });
  server.start();
  Driver<api::hf_simple> driver(DriverOptions().base_url(server.url() + "/prefix/").api_key("secret").label("hf"));
  const auto r = driver.send(prompt, 7);
  REQUIRE_MESSAGE(r.ok(), r.error_message);
  CHECK(auth == "Bearer secret");
  CHECK(path == "/prefix/v1/completions");
  CHECK(content_type == "application/json");
  CHECK(nlohmann::json::parse(body) == nlohmann::json{{"prompt", "Hello"}, {"max_tokens", 4}});
  CHECK(r.target == "hf");
  CHECK(r.index == 7);
  CHECK(r.http_status == 200);
}

TEST_CASE("a driver reuses one connection across requests (keep-alive)") {
  TestServer server;
  std::set<int> client_ports;
  std::mutex m;
  server.server().Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m);
    client_ports.insert(req.remote_port);
    res.set_content(R"({"text":"ok"})", "application/json");
  });
  server.start();
  Driver<api::hf_simple> driver(DriverOptions().base_url(server.url()));
  for (int i = 0; i < 4; ++i) REQUIRE(driver.send(prompt).ok());
  CHECK(client_ports.size() == 1);
}

TEST_CASE("connect_refused: nothing listens on the port") {
  Driver<api::openai_completions> driver(
      DriverOptions().base_url("http://127.0.0.1:" + std::to_string(testing::unused_port())));
  const auto r = driver.send(prompt);
  CHECK(r.error_kind == ErrorKind::connect_refused);
  CHECK(r.t_send > 0);
  CHECK(r.t_end >= r.t_send);
}

TEST_CASE("name_resolution: the host does not resolve") {
  // A name with an empty label is refused by the C library's resolver itself, so the test sends no DNS query
  // off this machine (a name like "nonexistent.invalid" would be asked of the configured name server).
  Driver<api::openai_completions> driver(DriverOptions().base_url("http://servebench..invalid:8000"));
  const auto r = driver.send(prompt);
  CHECK(r.error_kind == ErrorKind::name_resolution);
  CHECK(r.error_message.find("servebench..invalid") != std::string::npos);
}

TEST_CASE("connect_timeout: a listener whose accept queue is full never answers the SYN") {
  testing::FullBacklogPort port;
  if (!port.filled()) {
    MESSAGE("this kernel answered a connect to a full accept queue; connect timeout cannot be provoked on loopback");
    return;
  }
  Driver<api::openai_completions> driver(DriverOptions().base_url(port.url()).connect_timeout(300ms));
  const auto start = std::chrono::steady_clock::now();
  const auto r = driver.send(prompt);
  CHECK(r.error_kind == ErrorKind::connect_timeout);
  CHECK(seconds_since(start) < 10.0);
}

TEST_CASE("read_timeout: the server stays silent longer than the read timeout") {
  TestServer server;
  server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(1500ms);
    res.set_content(R"({"text":"late"})", "application/json");
  });
  server.start();
  SUBCASE("before any byte of the reply") {
    Driver<api::hf_simple> driver(DriverOptions().base_url(server.url()).read_timeout(300ms));
    const auto r = driver.send(prompt);
    CHECK(r.error_kind == ErrorKind::read_timeout);
  }
}

TEST_CASE("read_timeout: a stream goes silent in the middle") {
  TestServer server;
  server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    testing::reply_chunks(res, {completion_chunk("a"), completion_chunk("b")}, 1500ms);
  });
  server.start();
  Driver<api::openai_completions> driver(DriverOptions().base_url(server.url()).stream(true).read_timeout(300ms));
  const auto r = driver.send(prompt);
  CHECK(r.error_kind == ErrorKind::read_timeout);
  CHECK(r.event_times.size() == 1);
}

TEST_CASE("deadline_exceeded: the whole request takes longer than its deadline") {
  TestServer server;
  server.server().Post("/v1/completions", [](const httplib::Request& req, httplib::Response& res) {
    if (req.body.find("\"stream\":true") != std::string::npos) {
      std::vector<std::string> chunks(20, completion_chunk("t"));
      testing::reply_chunks(res, chunks, 100ms);  // each chunk well inside the read timeout; all 20 take 2 s
    } else {
      std::this_thread::sleep_for(1500ms);
      res.set_content(R"({"choices":[{"text":"late"}]})", "application/json");
    }
  });
  server.start();
  for (bool stream : {true, false}) {
    CAPTURE(stream);
    Driver<api::openai_completions> driver(
        DriverOptions().base_url(server.url()).stream(stream).read_timeout(5s).deadline(300ms));
    const auto start = std::chrono::steady_clock::now();
    const auto r = driver.send(prompt);
    CHECK(r.error_kind == ErrorKind::deadline_exceeded);
    CHECK(seconds_since(start) < 1.4);  // stopped well before the reply would have ended (1.5 s / 2 s)
  }
}

TEST_CASE("the default deadline is derived from max_tokens: base + per-token allowance x max_tokens") {
  const DriverOptions defaults;
  CHECK_FALSE(defaults.deadline().has_value());
  CHECK(defaults.deadline_for(100) == 160s);       // 60 s + 100 x 1 s
  CHECK(defaults.deadline_for(0) == 60s + 4096s);  // no max_tokens: DriverOptions::unbounded_reply_tokens assumed
  CHECK(DriverOptions().deadline(0ms).deadline_for(100) == 0ms);  // explicitly none
  CHECK(DriverOptions().deadline(2s).deadline_for(100) == 2s);
  CHECK(DriverOptions().deadline(2s).derived_deadline(1s, 10ms).deadline_for(50) == 1500ms);

  // A server that answers at once and then drips a byte every 50 ms never trips the read timeout (1 s); the
  // derived deadline (200 ms + 20 x 10 ms = 400 ms) ends the request.
  TestServer server;
  serve_dripping(server);
  server.start();
  Driver<api::openai_completions> driver(
      DriverOptions().base_url(server.url()).read_timeout(1s).derived_deadline(200ms, 10ms));
  const auto start = std::chrono::steady_clock::now();
  const auto r = driver.send(Prompt{"hi", 20});
  CHECK(r.error_kind == ErrorKind::deadline_exceeded);
  CHECK(r.error_message.find("400 ms (derived from max_tokens") != std::string::npos);
  CHECK(seconds_since(start) >= 0.39);
  CHECK(seconds_since(start) < 1.0);
}

TEST_CASE("http_status keeps the status and the first 512 bytes of the body") {
  TestServer server;
  const std::string page = "Service Unavailable " + std::string(1000, 'x');
  server.server().Post("/v1/completions", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content(page, "text/plain");
  });
  server.start();
  for (bool stream : {false, true}) {
    CAPTURE(stream);
    Driver<api::openai_completions> driver(DriverOptions().base_url(server.url()).stream(stream));
    const auto r = driver.send(prompt);
    CHECK(r.error_kind == ErrorKind::http_status);
    CHECK(r.http_status == 503);
    CHECK(r.body_start == page.substr(0, 512));
  }
}

TEST_CASE("invalid_json: a body or a stream event that is not JSON") {
  TestServer server;
  server.server().Post("/v1/completions", [](const httplib::Request& req, httplib::Response& res) {
    if (req.body.find("\"stream\":true") != std::string::npos)
      testing::reply_chunks(res, {completion_chunk("a"), testing::sse_event("{broken"), testing::sse_event("[DONE]")});
    else
      res.set_content("<html>oops</html>", "text/html");
  });
  server.start();
  for (bool stream : {false, true}) {
    CAPTURE(stream);
    Driver<api::openai_completions> driver(DriverOptions().base_url(server.url()).stream(stream));
    const auto r = driver.send(prompt);
    CHECK(r.error_kind == ErrorKind::invalid_json);
    CHECK_FALSE(r.body_start.empty());
  }
}

TEST_CASE("missing_field: valid JSON without the dialect's field") {
  TestServer server;
  server.server().Post("/v1/completions", [](const httplib::Request& req, httplib::Response& res) {
    if (req.body.find("\"stream\":true") != std::string::npos)
      testing::reply_chunks(res, {testing::sse_event(R"({"object":"error","message":"boom"})")});
    else
      res.set_content(R"({"object":"error","message":"boom"})", "application/json");
  });
  server.start();
  for (bool stream : {false, true}) {
    CAPTURE(stream);
    Driver<api::openai_completions> driver(DriverOptions().base_url(server.url()).stream(stream));
    const auto r = driver.send(prompt);
    CHECK(r.error_kind == ErrorKind::missing_field);
    CHECK(r.error_message.find("boom") != std::string::npos);
  }
}

TEST_CASE("incomplete_stream: the stream ends cleanly without [DONE]") {
  TestServer server;
  server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
    testing::reply_chunks(res, {completion_chunk("a"), completion_chunk("b")});
  });
  server.start();
  Driver<api::openai_completions> driver(DriverOptions().base_url(server.url()).stream(true));
  const auto r = driver.send(prompt);
  CHECK(r.error_kind == ErrorKind::incomplete_stream);
  CHECK(r.event_times.size() == 2);
}

TEST_CASE("closed_mid_stream: the connection drops after part of the reply") {
  SUBCASE("a chunked stream loses its connection") {
    TestServer server;
    server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
      testing::reply_chunks(res, {completion_chunk("a"), completion_chunk("b")}, 0ms, testing::StreamEnd::drop);
    });
    server.start();
    Driver<api::openai_completions> driver(DriverOptions().base_url(server.url()).stream(true));
    const auto r = driver.send(prompt);
    CHECK(r.error_kind == ErrorKind::closed_mid_stream);
  }
  SUBCASE("a body shorter than its Content-Length") {
    testing::RawServer raw(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"text\":");
    Driver<api::hf_simple> driver(DriverOptions().base_url(raw.url()));
    const auto r = driver.send(prompt);
    CHECK(r.error_kind == ErrorKind::closed_mid_stream);
  }
}

TEST_CASE("empty_reply: the server closes the connection without a reply") {
  SUBCASE("no bytes at all") {
    testing::RawServer raw("");
    Driver<api::hf_simple> driver(DriverOptions().base_url(raw.url()));
    const auto r = driver.send(prompt);
    CHECK(r.error_kind == ErrorKind::empty_reply);
    CHECK(raw.connections() >= 1);
  }
  SUBCASE("a 200 with an empty body") {
    TestServer server;
    server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("", "application/json");
    });
    server.start();
    Driver<api::hf_simple> driver(DriverOptions().base_url(server.url()));
    CHECK(driver.send(prompt).error_kind == ErrorKind::empty_reply);
  }
}

TEST_CASE("cancel aborts the request in flight with its reason, sticks, and clear_cancel undoes it") {
  TestServer server;
  server.server().Post("/v1/completions", [](const httplib::Request& req, httplib::Response& res) {
    if (req.body.find("\"stream\":true") != std::string::npos) {
      std::vector<std::string> chunks(30, completion_chunk("t"));
      chunks.push_back(testing::sse_event("[DONE]"));
      testing::reply_chunks(res, chunks, 100ms);  // 3 s in all
    } else {
      res.set_content(R"({"choices":[{"text":"quick"}]})", "application/json");
    }
  });
  server.start();
  Driver<api::openai_completions> driver(DriverOptions().base_url(server.url()).stream(true));
  std::thread canceller([&] {
    std::this_thread::sleep_for(300ms);
    driver.cancel(ErrorKind::interrupted);
  });
  const auto start = std::chrono::steady_clock::now();
  const auto r = driver.send(prompt);
  canceller.join();
  CHECK(r.error_kind == ErrorKind::interrupted);
  CHECK(seconds_since(start) < 2.5);
  CHECK(driver.cancelled());

  const auto refused = driver.send(prompt);
  CHECK(refused.error_kind == ErrorKind::interrupted);
  CHECK(refused.t_send == 0);  // never sent

  driver.clear_cancel();
  Driver<api::openai_completions> plain(DriverOptions().base_url(server.url()));
  plain.cancel(ErrorKind::deadline_exceeded);
  CHECK(plain.send(prompt).error_kind == ErrorKind::deadline_exceeded);
  plain.clear_cancel();
  const auto ok = plain.send(prompt);
  CHECK_MESSAGE(ok.ok(), ok.error_message);
  CHECK(ok.text == "quick");
}

TEST_CASE("one watchdog for every Driver: an earlier deadline armed later still fires first, a connect in progress "
          "delays no other Driver, and Drivers start no threads of their own") {
  // Bounds: a deadline fires within the watchdog's 5 ms period; 2 s allows for a loaded machine.
  TestServer server;
  serve_dripping(server);
  server.start();
  auto timed = [](auto& driver, double& seconds, ErrorKind& kind) {
    const auto start = std::chrono::steady_clock::now();
    kind = driver.send(prompt).error_kind;
    seconds = seconds_since(start);
  };

  // The long deadline is armed first; the short one, armed 100 ms later, must wake the watchdog sooner.
  Driver<api::openai_completions> slow(DriverOptions().base_url(server.url()).deadline(3s));
  Driver<api::openai_completions> quick(DriverOptions().base_url(server.url()).deadline(300ms));
  double slow_s = 0, quick_s = 0;
  ErrorKind slow_kind{}, quick_kind{};
  std::thread slow_thread([&] { timed(slow, slow_s, slow_kind); });
  std::this_thread::sleep_for(100ms);
  timed(quick, quick_s, quick_kind);
  CHECK(quick_kind == ErrorKind::deadline_exceeded);
  CHECK(quick_s >= 0.29);
  CHECK(quick_s < 2.0);  // long before the 3 s deadline armed before it
  slow_thread.join();
  CHECK(slow_kind == ErrorKind::deadline_exceeded);
  CHECK(slow_s >= 2.99);

  // A Driver stuck connecting (a full accept queue) past its own deadline: its stop cannot land until the connect
  // ends, and meanwhile another Driver's deadline fires on time.
  testing::FullBacklogPort port;
  if (port.filled()) {
    Driver<api::openai_completions> stuck(DriverOptions().base_url(port.url()).connect_timeout(3s).deadline(100ms));
    double stuck_s = 0;
    ErrorKind stuck_kind{};
    std::thread stuck_thread([&] { timed(stuck, stuck_s, stuck_kind); });
    std::this_thread::sleep_for(200ms);  // its deadline has passed; the watchdog is trying to stop it
    timed(quick, quick_s, quick_kind);
    CHECK(quick_kind == ErrorKind::deadline_exceeded);
    CHECK(quick_s < 2.0);  // the stuck connect lasts 3 s
    stuck_thread.join();
    CHECK((stuck_kind == ErrorKind::deadline_exceeded || stuck_kind == ErrorKind::connect_timeout));
  } else {
    MESSAGE("this kernel answered a connect to a full accept queue; the connect-in-progress part is skipped");
  }

#ifdef __linux__
  // Threads of this process (/proc/self/task) before and after 32 more Drivers, each with a request sent (refused:
  // no server, so no server threads either). The watchdog thread exists already (the deadlines above).
  auto threads = [] {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) n += entry.is_directory();
    return n;
  };
  const std::string refused = "http://127.0.0.1:" + std::to_string(testing::unused_port());
  const std::size_t before = threads();
  std::vector<Driver<api::openai_completions>> drivers;
  for (int i = 0; i < 32; ++i) {
    drivers.emplace_back(DriverOptions().base_url(refused));
    CHECK(drivers.back().send(prompt).error_kind == ErrorKind::connect_refused);
  }
  CHECK(threads() == before);  // one watchdog thread per Driver would make it before + 32
#endif
}

TEST_CASE("wait_until_ready finds a server by /health, /v1/models or a 1-token request, and gives up with a reason") {
  SUBCASE("/health") {
    TestServer server;
    server.server().Get("/health",
                        [](const httplib::Request&, httplib::Response& res) { res.set_content("", "text/plain"); });
    server.start();
    const auto ready = wait_until_ready(server.url(), 5s, nullptr);
    CHECK(ready);
    CHECK(ready.probe == "/health");
  }
  SUBCASE("/v1/models") {
    TestServer server;
    server.server().Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{}", "application/json");
    });
    server.start();
    CHECK(wait_until_ready(server.url(), 5s, nullptr).probe == "/v1/models");
  }
  SUBCASE("a 1-token request, as the lab's Flask server has nothing else") {
    TestServer server;
    server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"text":"x"})", "application/json");
    });
    server.start();
    CHECK(wait_until_ready(server.url(), 5s, nullptr).probe == "/v1/completions");
  }
  SUBCASE("a server that starts late") {
    const int port = testing::unused_port();
    std::ostringstream log;
    httplib::Server late;
    late.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("", "text/plain"); });
    std::thread starter([&] {
      std::this_thread::sleep_for(400ms);
      late.listen("127.0.0.1", port);
    });
    const auto ready = wait_until_ready("http://127.0.0.1:" + std::to_string(port), 20s, &log);
    late.stop();
    starter.join();
    CHECK(ready);
    CHECK(log.str().find("waiting for") != std::string::npos);
    CHECK(log.str().find("is ready") != std::string::npos);
  }
  SUBCASE("nothing there") {
    std::ostringstream log;
    const auto ready = wait_until_ready("http://127.0.0.1:" + std::to_string(testing::unused_port()), 500ms, &log);
    CHECK_FALSE(ready);
    CHECK_FALSE(ready.reason.empty());
    CHECK(log.str().find("gave up") != std::string::npos);
  }
  SUBCASE("a /health that says it is still starting: 502, 503 and 504 are waited on") {
    for (int status : {502, 503, 504}) {
      CAPTURE(status);
      TestServer server;
      server.server().Get("/health",
                          [status](const httplib::Request&, httplib::Response& res) { res.status = status; });
      server.start();
      const auto ready = wait_until_ready(server.url(), 400ms, nullptr);
      CHECK_FALSE(ready);
      CHECK(ready.reason.find(std::to_string(status) + " (starting)") != std::string::npos);
    }
  }
  SUBCASE("a live server's other answers mean it is up: 501 and 405 move to the next probe, 500 or 401 is up") {
    TestServer server;
    // Python's http.server answers a GET it does not implement with 501; a POST-only route answers 405.
    server.server().Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 501; });
    server.server().Get("/v1/models", [](const httplib::Request&, httplib::Response& res) { res.status = 405; });
    server.server().Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) { res.status = 401; });
    server.start();
    const auto ready = wait_until_ready(server.url(), 2s, nullptr);
    CHECK(ready);
    CHECK(ready.probe == "/v1/completions");
    TestServer broken;
    broken.server().Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 500; });
    broken.start();
    CHECK(wait_until_ready(broken.url(), 2s, nullptr).probe == "/health");
  }
  SUBCASE("a server with none of the probes' routes answers HTTP, so it is up") {
    TestServer server;  // cpp-httplib answers 404 to everything unrouted
    server.start();
    const auto ready = wait_until_ready(server.url(), 2s, nullptr);
    CHECK(ready);
    CHECK(ready.probe == "HTTP (/health 404, /v1/models 404, /v1/completions 404)");
  }
  SUBCASE("a probe reads at most max_body_bytes of an endless /health body; its status line decides") {
    TestServer server;
    server.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/plain", [](std::size_t, httplib::DataSink& sink) {
        const std::string block(4096, 'h');
        return sink.write(block.data(), block.size());
      });
    });
    server.start();
    ReadyOptions limits;
    limits.max_body_bytes = 16 << 10;
    const auto start = std::chrono::steady_clock::now();
    const auto ready = wait_until_ready(server.url(), 5s, nullptr, {}, limits);
    CHECK(ready);
    CHECK(ready.probe == "/health");
    CHECK(seconds_since(start) < 2.0);
  }
  SUBCASE("a probe that never gets a status line ends at its probe_timeout, and the wait at its deadline") {
    TestServer server;
    server.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(1500ms);  // longer than the wait: no status line in time
      res.set_content("", "text/plain");
    });
    server.start();
    ReadyOptions limits;
    limits.probe_timeout = 300ms;
    const auto start = std::chrono::steady_clock::now();
    const auto ready = wait_until_ready(server.url(), 1s, nullptr, {}, limits);
    CHECK_FALSE(ready);
    CHECK(ready.reason.find("no status line within its probe timeout") != std::string::npos);
    CHECK(seconds_since(start) < 2.5);
  }
  SUBCASE("request_interrupt() ends the wait at once") {
    TestServer server;
    server.server().Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
    server.start();
    ReadyOptions no_signals;
    no_signals.handle_signals = false;
    std::thread stopper([] {
      std::this_thread::sleep_for(300ms);
      request_interrupt();
    });
    const auto start = std::chrono::steady_clock::now();
    const auto ready = wait_until_ready(server.url(), 20s, nullptr, {}, no_signals);
    stopper.join();
    CHECK_FALSE(ready);
    CHECK(ready.interrupted);
    CHECK(seconds_since(start) < 1.0);
  }
  SUBCASE("an unusable URL is a reason, not an exception") {
    const auto ready = wait_until_ready("ftp://host", 1s, nullptr);
    CHECK_FALSE(ready);
    CHECK(ready.reason.find("scheme") != std::string::npos);
  }
}

TEST_CASE("describe_failure gives one line naming the cause and what to try") {
  RequestRecord refused;
  refused.error_kind = ErrorKind::connect_refused;
  refused.error_message = "cannot connect to 127.0.0.1:1 (refused or unreachable)";
  const auto line = servebench::describe_failure(refused, "http://127.0.0.1:1");
  CHECK(line.find("connect_refused: cannot connect") == 0);
  CHECK(line.find("is the server running at http://127.0.0.1:1?") != std::string::npos);

  RequestRecord status;
  status.error_kind = ErrorKind::http_status;
  status.error_message = "HTTP status 404";
  status.body_start = "{\"detail\":\n\"Not Found\"}";
  const auto status_line = servebench::describe_failure(status, "http://127.0.0.1:8000");
  CHECK(status_line.find('\n') == std::string::npos);
  CHECK(status_line.find("Not Found") != std::string::npos);
  CHECK(status_line.find("check the API dialect") != std::string::npos);
}

TEST_CASE("extra headers and extra body fields reach the server with every request, over the dialect's own") {
  TestServer server;
  std::mutex seen_mutex;
  std::string team, authorization, body;
  server.server().Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(seen_mutex);
    team = req.get_header_value("X-Team");
    authorization = req.get_header_value("Authorization");
    body = req.body;
    res.set_content(R"({"choices":[{"text":"ok"}],"usage":{"completion_tokens":1}})", "application/json");
  });
  server.start();
  Driver<api::openai_completions> driver(DriverOptions()
                                             .base_url(server.url())
                                             .api_key("sk-1")
                                             .header("X-Team", "lab")
                                             .extra_body({{"top_p", 0.9}, {"seed", 7}, {"temperature", 0.5}}));
  const auto r = driver.send(Prompt{"hi", 3});
  REQUIRE_MESSAGE(r.ok(), r.error_message);
  std::lock_guard<std::mutex> lock(seen_mutex);
  CHECK(team == "lab");
  CHECK(authorization == "Bearer sk-1");
  const auto sent = nlohmann::json::parse(body);
  CHECK(sent["top_p"] == 0.9);
  CHECK(sent["seed"] == 7);
  CHECK(sent["temperature"] == 0.5);  // the extra field wins over the dialect's default of 0
  CHECK(sent["max_tokens"] == 3);
  CHECK(sent["prompt"] == "hi");
}

TEST_CASE("https to a plain http server is a tls error naming the handshake, not an opaque library code") {
  TestServer server;
  server.start();
  const auto url = server.url();  // http://127.0.0.1:PORT
  Driver<api::openai_completions> driver(DriverOptions().base_url("https" + url.substr(4)));
  const auto r = driver.send(Prompt{"hi", 1});
  CHECK(r.error_kind == ErrorKind::tls);
  CHECK(r.error_message.find("TLS handshake") != std::string::npos);
  CHECK(servebench::to_string(ErrorKind::tls) == std::string("tls"));
}

// A server that answers 200 and then sends without end (seen growing a client to gigabytes): the reply stops at the
// size limit as reply_too_large, streaming or not, and the client reads no more than the limit and a chunk.
TEST_CASE("a reply that never ends stops at the size limit as reply_too_large") {
  TestServer server;
  const auto endless = [](const char* type) {
    return [type](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider(type, [](std::size_t, httplib::DataSink& sink) {
        static const std::string chunk(16 * 1024, 'x');  // no "\n\n": one SSE event that never ends
        return sink.write(chunk.data(), chunk.size());
      });
    };
  };
  server.server().Post("/v1/completions", endless("text/event-stream"));
  server.server().Post("/generate", endless("application/json"));
  server.start();
  for (bool stream : {true, false}) {
    CAPTURE(stream);
    Driver<api::openai_completions> streaming(
        DriverOptions().base_url(server.url()).stream(true).max_reply_bytes(1 << 20));
    Driver<api::tgi> whole(DriverOptions().base_url(server.url()).max_reply_bytes(1 << 20));
    const auto r = stream ? streaming.send(Prompt{"x", 4}) : whole.send(Prompt{"x", 4});
    CHECK(r.error_kind == ErrorKind::reply_too_large);
    CHECK(r.error_message.find("1048576 bytes") != std::string::npos);
    CHECK(r.body_start.size() <= 512);
  }
}
