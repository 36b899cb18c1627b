// servebench — the event-loop transport's connections: EventLoopOptions, the Stream (one connection and the request
// on it), the StreamHandler that says what a stream does next (the level runners of levels.hpp), what every loop of
// a level shares, and the helpers a level resolves once (the server's address, the fixed request headers, the cores
// the process may use). The loop that carries the streams is loop.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include "../driver_options.hpp"
#include "../record.hpp"
#include "../reply.hpp"
#include "../url.hpp"
#include "../version.hpp"
#include "../workload.hpp"
#include "http1.hpp"

namespace servebench {

// How the event-loop transport runs.
struct EventLoopOptions {
  // Loop threads; 0: one per core this process may run on (its CPU affinity: taskset, a container's cpuset), else
  // std::thread::hardware_concurrency(). Never more than a level has streams.
  std::size_t threads = 0;
  // When the bytes of a reply arrived: true, the kernel's receive time of each read's last bytes (SO_TIMESTAMPNS),
  // which no wait for the loop's thread moves (a burst of thousands of streams' last events, a busy turn); false,
  // or where the socket gives none, the time recv() returned, in the thread that read them.
  bool kernel_timestamps = true;
};

namespace detail {

// The cores this process may run on (sched_getaffinity), as `nproc` counts them; the machine's when unknown.
inline std::size_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<std::size_t>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// The server's address, resolved once for a level (ok false: the host did not resolve).
struct ResolvedAddress {
  sockaddr_storage address{};
  socklen_t length = 0;
  bool ok = false;
};

inline ResolvedAddress resolve_address(const BaseUrl& url) {
  ResolvedAddress resolved;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found) != 0 || !found) return resolved;
  std::memcpy(&resolved.address, found->ai_addr, found->ai_addrlen);
  resolved.length = static_cast<socklen_t>(found->ai_addrlen);
  resolved.ok = true;
  ::freeaddrinfo(found);
  return resolved;
}

// The start of every request's bytes up to its own Content-Length: request line aside, the same for every request of
// a level.
inline std::string fixed_request_headers(const DriverOptions& options, const BaseUrl& url, bool streaming) {
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string text = "Host: " + (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port) + "\r\n";
  text += std::string("User-Agent: servebench/") + version_string() + "\r\n";
  for (const auto& [name, value] : request_headers(options, streaming)) text += name + ": " + value + "\r\n";
  if (!options.api_key().empty()) text += "Authorization: Bearer " + options.api_key() + "\r\n";
  return text;
}

template <class Api>
class EventLoop;

// One connection to the server and the request on it. Lives on one loop thread; other threads touch only the
// RequestStop flags (cancel).
template <class Api>
struct Stream : RequestStop {
  enum class Phase { closed, connecting, idle, sending, reading };

  std::size_t id = 0;  // the runner's index
  EventLoop<Api>* loop = nullptr;
  int fd = -1;
  std::uint32_t watched = 0;  // the epoll events fd is registered for
  Phase phase = Phase::closed;
  Nanos phase_since = 0;  // connect start, or the last write progress

  // The request in flight (active), or the connect of connect() alone (not active).
  bool active = false;
  Prompt prompt;
  std::uint64_t index = 0;
  Nanos t_sched = 0;
  bool warmup = false;
  RequestRecord record;
  std::optional<ReplyReader<Api>> reader;
  std::string spare_body;  // the last reader's body room, for the next request's
  Http1Response response;
  std::string out;
  std::size_t out_sent = 0;
  Nanos deadline_at = 0;  // 0: none
  bool carried = false;   // this connection carried a reply and was kept alive after it
  bool reused = false;    // the request went out on a connection an earlier one had used
  bool retried = false;   // and was sent again on a new one (see EventLoop::read_some)

  std::uint64_t user = 0;  // the runner's own use (session turn, state)
};

// What a stream does next: the runner's. Called on the stream's loop thread.
template <class Api>
struct StreamHandler {
  // A request ended; its record is complete but for what the scheduler stamps (Level::complete).
  virtual void completed(Stream<Api>& stream, RequestRecord&& record) = 0;
  // A connect() ended: "" or why no connection could be opened; took: how long it took.
  virtual void connected(Stream<Api>& stream, std::string why, Nanos took) = 0;
  // The loop finished a turn (the events of one epoll wait, its due timers): where the runner hands on what it
  // gathered during the turn in one piece (records, one lock for many).
  virtual void turn_ended(EventLoop<Api>& loop) = 0;

 protected:
  ~StreamHandler() = default;
};

// What every loop of a level shares (read-only while the loops run).
template <class Api>
struct EventLoopShared {
  const Api* api = nullptr;
  const DriverOptions* options = nullptr;
  BaseUrl url;
  ResolvedAddress address;
  std::string label;
  std::string fixed_headers[2];   // non-streaming, streaming
  bool kernel_timestamps = true;  // EventLoopOptions::kernel_timestamps
  StreamHandler<Api>* handler = nullptr;
};

}  // namespace detail
}  // namespace servebench
