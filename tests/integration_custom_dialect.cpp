// The dialect from examples/custom_dialect.cpp (llama.cpp's /completion), driven against a scripted server.
#include <doctest/doctest.h>

#include <servebench/driver.hpp>

#include "support/test_server.hpp"

#define SERVEBENCH_EXAMPLE_NO_MAIN
#include "../examples/custom_dialect.cpp"

using namespace servebench;
using nlohmann::json;

TEST_CASE("the example's custom dialect streams and reads whole replies") {
  testing::TestServer server;
  json seen;
  // Shapes from llama.cpp's server README: stream events {"content", "stop"}, the last with tokens_predicted.
  server.server().Post("/completion", [&](const httplib::Request& req, httplib::Response& res) {
    seen = json::parse(req.body);
    if (seen.at("stream").get<bool>())
      testing::reply_chunks(res, {testing::sse_event(R"({"content":"Hel","stop":false})"),
                                  testing::sse_event(R"({"content":"lo","stop":false})"),
                                  testing::sse_event(R"({"content":"","stop":true,"tokens_predicted":2})")});
    else
      res.set_content(R"({"content":"Hello","stop":true,"tokens_predicted":2})", "application/json");
  });
  server.start();
  for (bool stream : {true, false}) {
    CAPTURE(stream);
    Driver<llama_cpp> driver(DriverOptions().base_url(server.url()).stream(stream));
    const auto r = driver.send({"Hi", 8});
    REQUIRE_MESSAGE(r.ok(), r.error_message);
    CHECK(seen.at("n_predict") == 8);
    CHECK(r.streamed == stream);
    CHECK(r.text == "Hello");
    CHECK(r.n_out == 2);
    CHECK(r.token_source == TokenSource::usage);
    CHECK(r.event_times.size() == (stream ? 2u : 0u));
  }
  SUBCASE("a stream without its stop event is incomplete") {
    testing::TestServer cut;
    cut.server().Post("/completion", [](const httplib::Request&, httplib::Response& res) {
      testing::reply_chunks(res, {testing::sse_event(R"({"content":"Hel","stop":false})")});
    });
    cut.start();
    Driver<llama_cpp> driver(DriverOptions().base_url(cut.url()).stream(true));
    CHECK(driver.send({"Hi", 8}).error_kind == ErrorKind::incomplete_stream);
  }
}
