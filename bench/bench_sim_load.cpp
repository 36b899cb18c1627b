// servebench bench — load on the simulated server: 2,000 concurrent streaming requests (by default) to one
// servebench::sim::Server in this process, every one opened at the same moment, and what came back: how many
// completed, how many connections were refused or failed, and whether any connect waited on a SYN retry (about
// 1 s: what cpp-httplib 0.11.4's listen backlog of 5 does to a burst; run with --listen-backlog 5 to see it).
//
//   bench_sim_load [--streams N] [--tokens N] [--time-scale X] [--preset NAME] [--listen-backlog N]
//
// Exit status 0 when every stream completed with all its tokens, 1 otherwise, 2 on a usage error.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <servebench/record.hpp>
#include <servebench/sim.hpp>
#include <servebench/sse.hpp>

namespace {

struct Options {
  int streams = 2000;
  int tokens = 32;
  double time_scale = 20;
  std::string preset = "vllm-h100";
  int listen_backlog = 4096;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "bench_sim_load: %s\nusage: bench_sim_load [--streams N] [--tokens N] [--time-scale X] "
               "[--preset NAME] [--listen-backlog N]\n",
               message.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: bench_sim_load [--streams N] [--tokens N] [--time-scale X] [--preset NAME] "
                  "[--listen-backlog N]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error(arg + " needs a value");
    const std::string value = argv[++i];
    try {
      if (arg == "--streams")
        o.streams = std::stoi(value);
      else if (arg == "--tokens")
        o.tokens = std::stoi(value);
      else if (arg == "--time-scale")
        o.time_scale = std::stod(value);
      else if (arg == "--preset")
        o.preset = value;
      else if (arg == "--listen-backlog")
        o.listen_backlog = std::stoi(value);
      else
        usage_error("unknown argument '" + arg + "'");
    } catch (const std::logic_error&) {
      usage_error(arg + ": not a number: '" + value + "'");
    }
  }
  if (o.streams < 1 || o.tokens < 1 || !(o.time_scale > 0) || o.listen_backlog < 1)
    usage_error("--streams, --tokens, --time-scale and --listen-backlog must be > 0");
  return o;
}

// Each stream holds a socket on both sides of this process.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The kernel's count of connections dropped at a full accept queue (TcpExt ListenOverflows + ListenDrops, for the
// whole machine): what a small listen backlog turns a burst into. -1 when /proc/net/netstat cannot be read.
long listen_drops() {
  std::ifstream in("/proc/net/netstat");
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    long total = 0;
    while (n >> name && v >> value)
      if (name == "ListenOverflows" || name == "ListenDrops") total += std::stol(value);
    return total;
  }
  return -1;
}

struct Outcome {
  bool ok = false;  // 200, every token, [DONE]
  httplib::Error error = httplib::Error::Success;
  int status = 0;
  long tokens = 0;  // usage.completion_tokens
  long text_events = 0;
  servebench::Nanos t_send = 0, t_headers = 0, t_first_token = 0, t_end = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  raise_fd_limit();
  namespace sim = servebench::sim;
  sim::ServerOptions options;
  try {
    options = sim::preset(o.preset);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what());
  }
  options.api(sim::ApiFlavour::openai)
      .time_scale(o.time_scale)
      .threads(static_cast<std::size_t>(o.streams) + 64)
      .listen_backlog(o.listen_backlog);
  sim::Server server(options);
  try {
    server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_sim_load: %s\n", e.what());
    return 1;
  }
  const int port = server.port();
  const std::string body = nlohmann::json{{"prompt", "Question 1: Explain concept 1 briefly."},
                                          {"max_tokens", o.tokens},
                                          {"stream", true},
                                          {"stream_options", {{"include_usage", true}}}}
                               .dump();

  std::vector<Outcome> outcomes(static_cast<std::size_t>(o.streams));
  std::mutex m;
  std::condition_variable cv;
  int ready = 0;
  bool go = false;
  std::vector<std::thread> clients;
  clients.reserve(outcomes.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    clients.emplace_back([&, i] {
      Outcome& out = outcomes[i];
      httplib::Client client("127.0.0.1", port);
      client.set_tcp_nodelay(true);
      client.set_connection_timeout(30, 0);
      client.set_read_timeout(120, 0);
      httplib::Request req;
      req.method = "POST";
      req.path = "/v1/completions";
      req.headers.emplace("Content-Type", "application/json");
      req.body = body;
      servebench::SseParser parser;
      bool done = false;
      auto on_event = [&](const servebench::SseEvent& e) {
        if (e.data == "[DONE]") {
          done = true;
          return;
        }
        const auto j = nlohmann::json::parse(e.data, nullptr, false);
        if (j.is_discarded()) return;
        if (j.contains("usage") && j["usage"].is_object()) out.tokens = j["usage"]["completion_tokens"];
        if (j.contains("choices") && !j["choices"].empty()) ++out.text_events;
      };
      // The server sends a stream's headers as soon as it takes the request: their arrival measures the connect
      // and the accept, before any waiting for a batch slot.
      req.response_handler = [&](const httplib::Response&) {
        out.t_headers = servebench::now_ns();
        return true;
      };
      req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
        if (out.t_first_token == 0) out.t_first_token = servebench::now_ns();
        parser.feed(std::string_view(data, n), on_event);
        return true;
      };
      {
        std::unique_lock<std::mutex> lock(m);
        ++ready;
        cv.notify_all();
        cv.wait(lock, [&] { return go; });
      }
      httplib::Response res;
      out.t_send = servebench::now_ns();
      const bool sent = client.send(req, res, out.error);
      out.t_end = servebench::now_ns();
      out.status = res.status;
      out.ok = sent && res.status == 200 && done && out.tokens == o.tokens && out.text_events == o.tokens;
    });
  }
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return ready == o.streams; });
    go = true;
  }
  const long drops_before = listen_drops();
  cv.notify_all();
  for (auto& t : clients) t.join();
  const long drops = drops_before < 0 ? -1 : listen_drops() - drops_before;
  const auto stats = server.stats();
  server.stop();

  long completed = 0, refused = 0, headers_over_1s = 0;
  std::map<std::string, long> failures;
  std::vector<double> headers_s, ttft_s, latency_s;
  servebench::Nanos first_send = outcomes.front().t_send, last_end = outcomes.front().t_end;
  for (const auto& out : outcomes) {
    first_send = std::min(first_send, out.t_send);
    last_end = std::max(last_end, out.t_end);
    if (out.ok) {
      ++completed;
      headers_s.push_back(servebench::ns_to_s(out.t_headers - out.t_send));
      ttft_s.push_back(servebench::ns_to_s(out.t_first_token - out.t_send));
      latency_s.push_back(servebench::ns_to_s(out.t_end - out.t_send));
      if (headers_s.back() >= 1.0) ++headers_over_1s;
      continue;
    }
    if (out.error == httplib::Error::Connection) ++refused;
    ++failures[out.error != httplib::Error::Success ? httplib::to_string(out.error)
                                                    : "status " + std::to_string(out.status)];
  }
  std::printf("simulated server: %s, time scale %gx, listen backlog %d, %zu HTTP threads\n", o.preset.c_str(),
              o.time_scale, o.listen_backlog, options.threads());
  std::printf("streams: %d opened at once, %ld completed with all %d tokens, %ld connections refused, %ld other "
              "failures\n",
              o.streams, completed, o.tokens, refused, static_cast<long>(o.streams) - completed - refused);
  for (const auto& [kind, n] : failures) std::printf("  failed: %ld x %s\n", n, kind.c_str());
  std::printf("connections dropped at a full accept queue (kernel ListenOverflows + ListenDrops, whole machine): %ld\n",
              drops);
  std::printf("reply headers after send (connect + accept): p50 %.3f s, p99 %.3f s, max %.3f s; %ld took >= 1 s\n",
              percentile(headers_s, 0.5), percentile(headers_s, 0.99), percentile(headers_s, 1.0), headers_over_1s);
  std::printf("first token: p50 %.3f s, max %.3f s; latency: p50 %.3f s, max %.3f s; wall %.3f s\n",
              percentile(ttft_s, 0.5), percentile(ttft_s, 1.0), percentile(latency_s, 0.5), percentile(latency_s, 1.0),
              servebench::ns_to_s(last_end - first_send));
  std::printf("server: %llu requests, %llu completed, max concurrency %zu, max batch %zu, %llu tokens\n",
              static_cast<unsigned long long>(stats.requests), static_cast<unsigned long long>(stats.completed),
              stats.max_concurrency, stats.max_batch, static_cast<unsigned long long>(stats.tokens));
  return completed == o.streams && refused == 0 && drops <= 0 ? 0 : 1;
}
