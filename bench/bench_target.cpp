// servebench bench — the trivial target server the client benchmarks measure against, run as its own process so
// that its CPU time never counts as the client's.
//
//   bench_target completion [threads]          POST /v1/completions answers a ~300-byte OpenAI completion at once
//   bench_target stream [threads] [events] [gap_us] [each|all]
//                                              POST /v1/completions streams `events` SSE text events (64), then a
//                                              usage chunk and [DONE]; gap_us > 0 sleeps between events
//
// Prints "port <n>" on stdout once it listens, then serves until killed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <sys/resource.h>
#include <sys/socket.h>

#include <httplib.h>

#include "completion_body.hpp"

namespace {

std::string text_event(int i) {
  return std::string(R"(data: {"id":"cmpl-bench","object":"text_completion","created":0,"model":"bench",)") +
         R"("choices":[{"index":0,"text":" tok)" + std::to_string(i) + R"(","logprobs":null,"finish_reason":null}]})" +
         "\n\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "completion";
  const int threads = argc > 2 ? std::atoi(argv[2]) : 300;
  const int events = argc > 3 ? std::atoi(argv[3]) : 64;
  const long gap_us = argc > 4 ? std::atol(argv[4]) : 0;
  // "each": one write (one chunk, one send) per event, as a server streaming tokens as they come; "all": the whole
  // stream in one write, so the server costs almost nothing and the client's parsing is what gets measured.
  const std::string writes = argc > 5 ? argv[5] : "each";

  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }

  httplib::Server server;
  // Every keep-alive connection holds one pool thread, so the pool must cover the client's concurrency.
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  server.set_keep_alive_max_count(1000000);  // default 5: the client would reconnect every 5 requests
  server.set_keep_alive_timeout(30);
  server.set_tcp_nodelay(true);
  // Debian's 0.11.4 listens with a backlog of 5, so a burst of connects waits on SYN retries. Keep the socket to
  // call listen() again with a real backlog (Linux updates the backlog of a listening socket).
  int listen_fd = -1;
  server.set_socket_options([&listen_fd](int fd) {
    listen_fd = fd;
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  if (mode == "completion") {
    const std::string body = servebench::bench::completion_body();
    server.Post("/v1/completions",
                [body](const httplib::Request&, httplib::Response& res) { res.set_content(body, "application/json"); });
  } else {
    auto chunks = std::make_shared<std::vector<std::string>>();
    for (int i = 0; i < events; ++i) chunks->push_back(text_event(i));
    chunks->push_back(R"(data: {"id":"cmpl-bench","object":"text_completion","created":0,"model":"bench","choices":[],)"
                      R"("usage":{"prompt_tokens":8,"total_tokens":)" +
                      std::to_string(8 + events) + R"(,"completion_tokens":)" + std::to_string(events) + "}}\n\n");
    chunks->push_back("data: [DONE]\n\n");
    if (writes == "all") {
      std::string whole;
      for (const auto& c : *chunks) whole += c;
      *chunks = {whole};
    }
    server.Post("/v1/completions", [chunks, gap_us](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/event-stream", [chunks, gap_us](std::size_t, httplib::DataSink& sink) {
        for (std::size_t i = 0; i < chunks->size(); ++i) {
          if (gap_us > 0 && i > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
          if (!sink.write((*chunks)[i].data(), (*chunks)[i].size())) return false;
        }
        sink.done();
        return true;
      });
    });
  }

  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "bench_target: cannot bind 127.0.0.1\n");
    return 1;
  }
  if (listen_fd >= 0) ::listen(listen_fd, 4096);
  std::printf("port %d\n", port);
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}
