// Test support: scriptable servers on 127.0.0.1 for tests that need a peer.
//   TestServer       — a cpp-httplib Server on a free port, in its own thread; add handlers, start(), stop().
//   RawServer        — a bare TCP listener that answers each connection with fixed bytes (possibly none) and
//                      closes: for replies httplib::Server cannot produce (no reply at all, a truncated body).
//   FullBacklogPort  — a listening socket whose accept queue is full, so a further connect gets no answer and
//                      times out: a connect timeout without leaving 127.0.0.1.
//   unused_port()    — a port that was free a moment ago and has nothing listening (bind, then close).
// Also helpers to script Server-Sent-Event replies chunk by chunk.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

namespace servebench::testing {

class TestServer {
 public:
  TestServer() {
    // Short keep-alive so stop() never waits long for an idle client connection (0.11.4 waits for it).
    server_.set_keep_alive_timeout(1);
    // Replies are written as headers then body; without this, Nagle + delayed ACK add ~40 ms to each one.
    server_.set_tcp_nodelay(true);
    server_.new_task_queue = [] { return new httplib::ThreadPool(16); };
  }
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Register handlers here before start().
  httplib::Server& server() noexcept { return server_; }

  // Binds to a free port on 127.0.0.1 and serves on a thread. Throws if it cannot bind.
  TestServer& start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("TestServer: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // listen_after_bind sets is_running() as it starts its accept loop; connects before then would still queue in
    // the backlog, but waiting makes stop() right after start() safe.
    for (int i = 0; i < 2000 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return *this;
  }

  // Stops accepting and joins the thread. Idle keep-alive clients should be destroyed (or stopped) first.
  void stop() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  int port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
};

// "data: <payload>\n\n": one SSE event.
inline std::string sse_event(const std::string& data) { return "data: " + data + "\n\n"; }

// How a scripted stream ends.
enum class StreamEnd {
  clean,  // the chunked body ends properly
  drop,   // the connection is dropped without the final chunk (the client sees a broken stream)
};

// Replies with a chunked text/event-stream that writes `chunks` one by one (each exactly as given, so a test
// controls where events split) with `gap` between them.
inline void reply_chunks(httplib::Response& res, std::vector<std::string> chunks,
                         std::chrono::milliseconds gap = std::chrono::milliseconds(0), StreamEnd end = StreamEnd::clean,
                         const std::string& content_type = "text/event-stream") {
  auto script = std::make_shared<std::vector<std::string>>(std::move(chunks));
  res.set_chunked_content_provider(content_type, [script, gap, end](std::size_t, httplib::DataSink& sink) {
    for (std::size_t i = 0; i < script->size(); ++i) {
      if (i > 0 && gap.count() > 0) std::this_thread::sleep_for(gap);
      const auto& chunk = (*script)[i];
      if (!sink.write(chunk.data(), chunk.size())) return false;
    }
    if (end == StreamEnd::drop) return false;  // cpp-httplib closes the connection without the last chunk
    sink.done();
    return true;
  });
}

// A port with nothing listening on 127.0.0.1: bound, then closed. Another process could take it in between; on a
// test machine that is rare enough.
inline int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("unused_port: cannot bind");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace detail {
inline int listen_loopback(int backlog, int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("listen_loopback: socket failed");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("listen_loopback: bind/listen failed");
  }
  port = ntohs(addr.sin_port);
  return fd;
}
}  // namespace detail

// Answers every connection by reading what the client sends (until a pause), writing `reply` (may be empty) and
// closing. Counts connections.
class RawServer {
 public:
  explicit RawServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = detail::listen_loopback(16, port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawServer() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  int port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const noexcept { return connections_; }

 private:
  void serve() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      ++connections_;
      // Read the request: until the client pauses for 50 ms (it has sent everything and waits for us).
      char buffer[4096];
      for (;;) {
        pollfd c{client, POLLIN, 0};
        if (::poll(&c, 1, 50) <= 0) break;
        if (::recv(client, buffer, sizeof buffer, 0) <= 0) break;
      }
      if (!reply_.empty()) (void)::send(client, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::string reply_;
  int fd_ = -1;
  int port_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// A listening socket that never accepts, with its accept queue filled by connections of its own. Linux drops a SYN
// to a listener whose queue is full, so the next connect sees no answer at all — a connect timeout on loopback.
// filled() is false when the system answered anyway (then a test should skip rather than fail).
class FullBacklogPort {
 public:
  FullBacklogPort() {
    fd_ = detail::listen_loopback(0, port_);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    // Backlog 0 admits one or two queued connections depending on the kernel; a few more make sure it is full.
    for (int i = 0; i < 4; ++i) {
      const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      (void)::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      fillers_.push_back(c);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // Probe: a further non-blocking connect must stay pending.
    const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    (void)::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    pollfd p{probe, POLLOUT, 0};
    filled_ = ::poll(&p, 1, 300) == 0;
    ::close(probe);
  }
  ~FullBacklogPort() {
    for (int c : fillers_) ::close(c);
    ::close(fd_);
  }
  FullBacklogPort(const FullBacklogPort&) = delete;
  FullBacklogPort& operator=(const FullBacklogPort&) = delete;

  bool filled() const noexcept { return filled_; }
  int port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = -1;
  bool filled_ = false;
  std::vector<int> fillers_;
};

}  // namespace servebench::testing
