// The scheduler driving real HTTP: servebench::Driver against test servers on 127.0.0.1 (tests/support/
// test_server.hpp). The servers count their own concurrency and the client connections they see, so "exactly N in
// flight over N kept-alive connections" is checked from the server's side, not the client's.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include <servebench/driver.hpp>
#include <servebench/scheduler.hpp>

#include "support/eventually.hpp"
#include "support/test_server.hpp"

using namespace servebench;
using namespace std::chrono_literals;

namespace {

// A completion server that counts what it serves. Dialect: the lab's HF server ({"text", "usage"}) or OpenAI
// completions ({"choices": [{"text"}], "usage"}). After `hang_after` requests it holds every further one until
// release() (bounded, so a failing test still ends).
class CountingServer {
 public:
  explicit CountingServer(bool openai_shape, std::chrono::milliseconds service_time,
                          std::uint64_t hang_after = UINT64_MAX)
      : service_time_(service_time), hang_after_(hang_after) {
    server_.server().set_keep_alive_max_count(10'000);  // default 5 would reconnect every fifth request
    server_.server().Post("/v1/completions", [this, openai_shape](const httplib::Request& req, httplib::Response& res) {
      const auto body = nlohmann::json::parse(req.body);
      const auto arrival = begin(req.remote_port);
      if (arrival >= hang_after_) {
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (!released_.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
      } else {
        std::this_thread::sleep_for(service_time_);
      }
      end();
      const int n = body.at("max_tokens").get<int>();
      nlohmann::json reply = {{"usage", {{"completion_tokens", n}, {"prompt_tokens", 7}}}};
      if (openai_shape)
        reply["choices"] = nlohmann::json::array({{{"text", "ok"}, {"index", 0}}});
      else
        reply["text"] = "ok";
      res.set_content(reply.dump(), "application/json");
    });
    server_.start();
  }
  ~CountingServer() {
    release();
    server_.stop();
  }

  std::string url() const { return server_.url(); }
  // Like an HTTP/1.0 server: "Connection: close" and a close after every reply (call before the first request).
  void close_after_each_reply() { server_.server().set_keep_alive_max_count(1); }
  void release() { released_.store(true); }
  int max_in_flight() const {
    std::lock_guard<std::mutex> l(mutex_);
    return max_in_flight_;
  }
  std::uint64_t arrivals() const {
    std::lock_guard<std::mutex> l(mutex_);
    return arrivals_;
  }
  std::size_t connections() const {
    std::lock_guard<std::mutex> l(mutex_);
    return client_ports_.size();
  }

 private:
  std::uint64_t begin(int client_port) {
    std::lock_guard<std::mutex> l(mutex_);
    max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
    client_ports_.insert(client_port);
    return arrivals_++;
  }
  void end() {
    std::lock_guard<std::mutex> l(mutex_);
    --in_flight_;
  }

  servebench::testing::TestServer server_;
  std::chrono::milliseconds service_time_;
  std::uint64_t hang_after_;
  std::atomic<bool> released_{false};
  mutable std::mutex mutex_;
  int in_flight_ = 0, max_in_flight_ = 0;
  std::uint64_t arrivals_ = 0;
  std::set<int> client_ports_;
};

DriverOptions options_for(const CountingServer& server, const std::string& label) {
  return DriverOptions().base_url(server.url()).label(label).connect_timeout(5s).read_timeout(30s);
}

// The lab's concurrency workload, written out: an infinite stream of questions, 50 tokens each.
Workload questions() { return template_prompts("Question {i}: Explain concept {i} briefly.", 50); }

using servebench::testing::eventually;

std::size_t count_kind(const std::vector<RequestRecord>& records, ErrorKind kind) {
  return static_cast<std::size_t>(
      std::count_if(records.begin(), records.end(), [kind](const RequestRecord& r) { return r.error_kind == kind; }));
}

}  // namespace

TEST_CASE("a closed loop keeps exactly N requests in flight at the server over N kept-alive connections") {
  for (std::size_t n : {1u, 4u}) {
    CAPTURE(n);
    CountingServer server(false, 30ms);
    const auto result = run_closed_loop(ClosedLoop().concurrency(n).requests(6 * n).warmup(n).quiet(true), questions(),
                                        [&] { return Driver<api::hf_simple>(options_for(server, "hf")); });
    CHECK(server.max_in_flight() == static_cast<int>(n));
    CHECK(server.connections() == n);  // each worker kept its one connection, warm-up included
    CHECK(server.arrivals() == 7 * n);
    REQUIRE(result.records.size() == 7 * n);
    CHECK(result.summary.successful == 6 * n);
    CHECK(result.summary.sent == 6 * n);  // warm-ups left out
    CHECK(result.summary.total_output_tokens == static_cast<std::int64_t>(6 * n * 50));
    for (const auto& r : result.records) {
      CHECK(r.ok());
      CHECK(r.target == "hf");
      CHECK(r.n_out == 50);
    }
    CHECK(result.target.label == "hf");  // the label the drivers wrote
    CHECK(result.summary.target == "hf");
    CHECK(result.config.concurrency == n);
    CHECK(result.config.warmup == n);
    CHECK(result.warmup_sent == n);
  }
}

TEST_CASE("a sweep over two servers of different dialects returns one summary per level and target") {
  CountingServer hf(false, 20ms);
  CountingServer vllm(true, 5ms);
  // Label, URL, model and dialect come from one DriverOptions each: what the results say is what was run.
  const std::vector<Target> targets{
      make_target<api::hf_simple>(options_for(hf, "hf").model("m")),
      make_target<api::openai_completions>(options_for(vllm, "vllm").model("m")),
  };
  CHECK(targets[0].label() == "hf");
  CHECK(targets[1].info.url == vllm.url());
  const auto result = run_sweep(Sweep()
                                    .concurrency_levels({1, 2, 4})
                                    .closed_loop(ClosedLoop().requests(8).quiet(true))
                                    .order(TargetOrder::interleaved),
                                questions(), targets);
  REQUIRE(result.levels.size() == 6);
  CHECK_FALSE(result.interrupted);
  for (const char* target : {"hf", "vllm"})
    for (double level : {1.0, 2.0, 4.0}) {
      CAPTURE(target);
      CAPTURE(level);
      const auto* run = result.find(target, level);
      REQUIRE(run != nullptr);
      CHECK(run->summary.successful == 8);
      CHECK(run->summary.failed == 0);
      CHECK(run->summary.throughput_req_per_sec > 0);
      CHECK(run->summary.target == target);
      CHECK(run->config.concurrency == static_cast<std::size_t>(level));
      for (const auto& r : run->records) CHECK(r.target == target);  // the drivers carry the target's label
      const bool is_hf = std::string(target) == "hf";
      CHECK(run->target.url == (is_hf ? hf.url() : vllm.url()));
      CHECK(run->target.dialect == (is_hf ? "hf_simple" : "openai_completions"));
      CHECK(run->target.model == "m");
    }
  CHECK(hf.max_in_flight() == 4);
  CHECK(vllm.max_in_flight() == 4);
  CHECK(hf.arrivals() == 3 * 8);
  // Interleaved: hf and vllm alternate level by level.
  CHECK(result.levels[0].target.label == "hf");
  CHECK(result.levels[1].target.label == "vllm");
  CHECK(result.levels[1].summary.level == 1.0);
  CHECK(result.levels[2].summary.level == 2.0);
}

TEST_CASE("SIGINT during a run against a server returns the partial records, marked interrupted") {
  CountingServer server(false, 2ms, /*hang_after=*/5);
  std::thread interrupter([&] {
    REQUIRE(eventually([&] { return server.arrivals() >= 5 + 3; }));  // three requests now hang at the server
    std::raise(SIGINT);
  });
  const auto started = std::chrono::steady_clock::now();
  const auto result = run_closed_loop(ClosedLoop().concurrency(3).requests(1000).grace_period(100ms).quiet(true),
                                      questions(), [&] { return Driver<api::hf_simple>(options_for(server, "hf")); });
  interrupter.join();
  CHECK(std::chrono::steady_clock::now() - started < 8s);  // the hanging requests were abandoned, not waited for
  CHECK(result.interrupted);
  CHECK(count_kind(result.records, ErrorKind::none) == 5);
  CHECK(count_kind(result.records, ErrorKind::interrupted) == 3);
  CHECK(result.summary.interrupted == 3);
  CHECK(result.records.size() == 8);
}

TEST_CASE("the level timeout abandons requests hanging at the server as deadline_exceeded") {
  CountingServer server(true, 2ms, /*hang_after=*/4);
  const auto result = run_closed_loop(ClosedLoop().concurrency(2).requests(100).timeout(500ms).quiet(true), questions(),
                                      [&] { return Driver<api::openai_completions>(options_for(server, "vllm")); });
  CHECK(result.deadline_exceeded);
  CHECK(count_kind(result.records, ErrorKind::none) == 4);
  CHECK(count_kind(result.records, ErrorKind::deadline_exceeded) == 2);
  CHECK(result.summary.failed_by_kind.at("deadline_exceeded") == 2);
}

TEST_CASE("an open loop against a server sends on the seeded schedule") {
  CountingServer server(false, 5ms);
  const auto options = OpenLoop().rate(100).distribution(Arrival::poisson).seed(11).requests(60).quiet(true);
  const auto result = run_open_loop(options, questions(),
                                    [&] { return Driver<api::hf_simple>(options_for(server, "hf")); });
  REQUIRE(result.records.size() == 60);
  CHECK(result.summary.successful == 60);
  CHECK(result.config.mode == LoopMode::open_loop);
  CHECK(result.config.rate == 100.0);
  CHECK(result.config.arrival == Arrival::poisson);
  CHECK(result.config.seed == 11);
  CHECK(result.target.label == "hf");
  const auto offsets = arrival_offsets(options);
  std::vector<Nanos> sched(60);
  for (const auto& r : result.records) sched.at(r.index) = r.t_sched;
  for (std::size_t i = 0; i < 60; ++i) CHECK(sched[i] - sched[0] == offsets[i]);
  for (const auto& r : result.records) CHECK(r.t_send >= r.t_sched);
  CHECK(result.summary.latency_from_sched->mean >= result.summary.latency->mean);
}

TEST_CASE("workers open their connections before the clock: no measured request waits for one") {
  for (const bool preconnect : {true, false}) {
    CAPTURE(preconnect);
    CountingServer server(true, 20ms);
    const auto result = run_closed_loop(ClosedLoop().concurrency(4).requests(12).preconnect(preconnect).quiet(true),
                                        questions(),
                                        [&] { return Driver<api::openai_completions>(options_for(server, "s")); });
    CHECK(result.summary.failed == 0);
    CHECK(server.connections() == 4);  // one connection per worker either way
    std::size_t connected = 0;
    for (const auto& r : result.records) {
      if (!r.t_connect) continue;
      ++connected;
      CHECK(r.t_send <= *r.t_connect);  // the connect was inside this request's time
      CHECK(*r.t_connect <= r.t_first_token);
    }
    CHECK(result.summary.connects == connected);
    // Pre-opened: no request's t_send includes a connect. Without: each worker's first request connects.
    CHECK(connected == (preconnect ? 0u : 4u));
    CHECK(result.warnings.empty());
  }
}

TEST_CASE("a server that closes after every reply: each request but a worker's first records its connect") {
  CountingServer server(true, 5ms);
  server.close_after_each_reply();
  const auto result = run_closed_loop(ClosedLoop().concurrency(2).requests(8).quiet(true), questions(),
                                      [&] { return Driver<api::openai_completions>(options_for(server, "s")); });
  CHECK(result.summary.failed == 0);
  CHECK(result.summary.connects == 6);  // 8 requests, 2 of them on the connections opened before the level
  CHECK(server.connections() == 8);
}

TEST_CASE("nothing accepts connections: the level says so with the server and the fix, and does not hang") {
  const std::string url = "http://127.0.0.1:" + std::to_string(servebench::testing::unused_port());
  const auto start = std::chrono::steady_clock::now();
  const auto result = run_closed_loop(ClosedLoop().concurrency(4).requests(8).quiet(true), questions(), [&] {
    return Driver<api::openai_completions>(DriverOptions().base_url(url).label("down"));
  });
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK(count_kind(result.records, ErrorKind::connect_refused) == 8);  // every request still accounted for
  REQUIRE(result.warnings.size() == 1);
  const std::string& w = result.warnings[0];
  CHECK(w.find("down c=4: ") == 0);
  CHECK(w.find(" connections could not be opened before the level started: cannot connect to " + url.substr(7) +
               " (refused or unreachable)") != std::string::npos);
  CHECK(w.find("is the server running and accepting connections there?") != std::string::npos);
}
