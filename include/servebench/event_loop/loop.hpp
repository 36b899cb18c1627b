// servebench — the event-loop transport's engine: a few threads, each an epoll loop carrying many connections, so a
// stream costs a connection and a few hundred bytes of state instead of a thread and its stack (docs/performance.md,
// "Scale"). Linux only (epoll); plain http only (https: the default transport).
//
// One Stream (stream.hpp) is one connection and at most one request on it, owned by one loop thread for its whole life.
// A loop reads each socket as it becomes readable; the bytes' arrival time is the kernel's receive time of the last
// of them (SO_TIMESTAMPNS, EventLoopOptions::kernel_timestamps), else the time recv() returned, in the thread that
// read them; the reply's bytes go to the same ReplyReader the Driver uses (reply.hpp), so the record, its times
// and its classification are the same as the default transport's. What a stream does next is the StreamHandler's
// (the level runners of levels.hpp): it is called on the stream's loop thread when a connect or a request ends.
//
// Timeouts and deadlines: each loop looks at its streams every 5 ms (at once after cancel_all): a connect longer than
// connect_timeout, a write stalled longer than write_timeout, a reply silent longer than read_timeout, a request past
// its deadline or cancelled, each ends its request as the Driver's would.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../driver_options.hpp"
#include "../record.hpp"
#include "../reply.hpp"
#include "../url.hpp"
#include "../workload.hpp"
#include "http1.hpp"
#include "stream.hpp"

namespace servebench {
namespace detail {

inline constexpr Nanos event_loop_scan_ns = 5'000'000;  // timeouts, deadlines and cancels are looked at this often
inline constexpr std::size_t event_loop_read_bytes = 64 * 1024;  // one receive buffer per loop thread
// A turn's first reads (EventLoop::run): up to this many streams, this many bytes each, before any is parsed.
inline constexpr int event_loop_turn_slots = 64;
inline constexpr std::size_t event_loop_slot_bytes = 4 * 1024;

// The kernel's receive time of a read's last bytes (SO_TIMESTAMPNS: the realtime clock), on the steady clock: as
// long before `returned` (when recv() returned) as the realtime clock says it was. `returned` when the read
// carried none, or when the clock was set between the two (the time would fall before `floor`: the request's
// t_send or its last bytes' arrival).
inline Nanos kernel_arrival(msghdr& message, Nanos returned, Nanos floor) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp{};
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    timespec real{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    const Nanos age = (static_cast<Nanos>(real.tv_sec) - static_cast<Nanos>(stamp.tv_sec)) * 1'000'000'000 +
                      (static_cast<Nanos>(real.tv_nsec) - static_cast<Nanos>(stamp.tv_nsec));
    const Nanos arrived = returned - std::max<Nanos>(0, age);
    return arrived >= floor ? arrived : returned;
  }
  return returned;
}

template <class Api>
class EventLoop {
 public:
  using StreamT = Stream<Api>;

  EventLoop(const EventLoopShared<Api>& shared, std::size_t index) : shared_(shared), index_(index) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || wake_fd_ < 0) throw std::runtime_error(std::string("servebench: epoll: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake-up
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }
  ~EventLoop() {
    stop();
    join();
    for (auto& s : streams_)
      if (s->fd >= 0) ::close(s->fd);
    ::close(wake_fd_);
    ::close(epoll_);
  }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void start() {
    publish_streams();
    thread_ = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), "servebench-loop");  // as top -H and perf show it
      run();
    });
  }
  // Any thread: the loop ends after its current turn; requests in flight are left as they are (end them first).
  void stop() {
    stopping_.store(true);
    wake();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  // A new stream of this loop: before start(), or on this loop's thread.
  StreamT& add_stream(std::size_t id) {
    streams_.push_back(std::make_unique<StreamT>());
    StreamT& s = *streams_.back();
    s.id = id;
    s.loop = this;
    return s;
  }
  std::size_t streams() const noexcept { return streams_.size(); }
  std::size_t index() const noexcept { return index_; }  // among the level's loops

  // Any thread: runs `task` on this loop's thread, soon.
  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(posted_mutex_);
      posted_.push_back(std::move(task));
    }
    wake();
  }
  // This loop's thread: runs `task` at `when` (steady nanoseconds), or at once if it has passed.
  void at(Nanos when, std::function<void()> task) { timers_.push(Timer{when, sequence_++, std::move(task)}); }

  // Any thread: every request of this loop in flight ends with `reason`, every later one at once (sticky).
  void cancel_all(ErrorKind reason) {
    for (auto& s : streams_snapshot()) s->cancel_reason = static_cast<int>(reason);
    look_now_.store(true);
    wake();
  }

  // This loop's thread: opens the stream's connection; the handler's connected() follows.
  void connect(StreamT& s) {
    s.active = false;
    if (s.phase != StreamT::Phase::closed) {
      defer_connected(s, {}, 0);
      return;
    }
    open(s);
  }

  // This loop's thread: sends one request on the stream (opening its connection first when it has none); the
  // handler's completed() follows, never from within this call.
  void send(StreamT& s, Prompt prompt, std::uint64_t index, Nanos t_sched, bool warmup) {
    s.active = true;
    s.prompt = std::move(prompt);
    s.index = index;
    s.t_sched = t_sched;
    s.warmup = warmup;
    s.record = RequestRecord{};
    s.record.target = shared_.label;
    s.record.index = index;
    s.record.t_sched = t_sched;
    s.deadline_hit = false;
    RequestRecord& record = s.record;
    if (const auto reason = s.cancelled(); reason != ErrorKind::none) {
      fail(record, reason, "cancelled before sending");
      defer_completed(s);
      return;
    }
    try {
      const PreparedRequest prepared = prepare_request(*shared_.api, *shared_.options, shared_.url, s.prompt);
      s.reader.emplace(*shared_.api, *shared_.options, shared_.url, s, record);
      s.reader->expect(prepared, s.prompt, std::move(s.spare_body));
      s.out.clear();
      s.out.reserve(prepared.path.size() + prepared.body.size() + 256);
      s.out.append("POST ").append(prepared.path).append(" HTTP/1.1\r\n");
      s.out.append(shared_.fixed_headers[prepared.streaming ? 1 : 0]);
      s.out.append("Content-Length: ").append(std::to_string(prepared.body.size())).append("\r\n\r\n");
      s.out.append(prepared.body);
      s.out_sent = 0;
      s.response.reset();
    } catch (const std::exception& e) {
      s.reader.reset();
      fail(record, ErrorKind::other, std::string("unexpected: ") + e.what());
      defer_completed(s);
      return;
    }
    const Nanos sent = now_ns();
    s.reader->sent(sent);
    const Nanos deadline = s.reader->deadline_ns();
    s.deadline_at = deadline > 0 ? sent + deadline : 0;
    // Only a connection that carried a reply: one opened beforehand (preconnect) and closed by the server as this
    // request went out is not retried, as the default transport does not, so no request reaches a server twice.
    s.reused = s.phase == StreamT::Phase::idle && s.carried;
    s.retried = false;
    if (s.phase == StreamT::Phase::idle) {
      begin_write(s);
    } else {
      open(s);  // the record's t_connect says this request waited for its connection
    }
  }

 private:
  struct Timer {
    Nanos when;
    std::uint64_t sequence;  // equal times run in the order they were set
    std::function<void()> task;
    bool operator>(const Timer& other) const {
      return when != other.when ? when > other.when : sequence > other.sequence;
    }
  };

  void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
  }

  std::vector<StreamT*> streams_snapshot() {
    // Streams are added only before start() or on this thread; cancel_all from another thread reads the list
    // under the posted mutex, which add_stream on this thread does not take, so it reads a copy made here.
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    return snapshot_;
  }
  void publish_streams() {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    if (snapshot_.size() == streams_.size()) return;
    snapshot_.clear();
    for (auto& s : streams_) snapshot_.push_back(s.get());
  }

  void watch(StreamT& s, std::uint32_t events, int op) {
    if (op == EPOLL_CTL_MOD && s.watched == events) return;  // one epoll_ctl less per request
    s.watched = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &s;
    ::epoll_ctl(epoll_, op, s.fd, &ev);
  }

  void close_stream(StreamT& s) {
    if (s.fd >= 0) ::close(s.fd);  // also leaves the epoll set
    s.fd = -1;
    s.phase = StreamT::Phase::closed;
    s.carried = false;
  }

  void open(StreamT& s) {
    const Nanos start = now_ns();
    s.phase_since = start;
    if (!shared_.address.ok) {
      connect_failed(s, TransportFailure::connect, start);
      return;
    }
    const int fd = ::socket(shared_.address.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int error = errno;
      connect_failed(s, TransportFailure::other, start,
                     std::string("cannot open a socket (") + std::strerror(error) + ")" +
                         (error == EMFILE || error == ENFILE
                              ? ": every stream holds one; raise the open-file limit (ulimit -n) above the streams"
                              : ""));
      return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (shared_.kernel_timestamps) ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    s.fd = fd;
    s.phase = StreamT::Phase::connecting;
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&shared_.address.address), shared_.address.length);
    if (rc != 0 && errno != EINPROGRESS) {
      const int error = errno;
      close_stream(s);
      connect_failed(s, error == ETIMEDOUT ? TransportFailure::connect_timeout : TransportFailure::connect, start);
      return;
    }
    watch(s, EPOLLOUT | EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
  }

  void connect_failed(StreamT& s, TransportFailure failure, Nanos start, std::string detail = {}) {
    if (s.active) {
      finish_later(s, failure, std::move(detail));
    } else {
      defer_connected(s, connect_failure(*shared_.options, shared_.url, failure, detail), now_ns() - start);
    }
  }

  void on_connected(StreamT& s) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    const Nanos now = now_ns();
    if (error != 0) {
      close_stream(s);
      connect_failed(s, error == ETIMEDOUT ? TransportFailure::connect_timeout : TransportFailure::connect,
                     s.phase_since);
      return;
    }
    s.phase = StreamT::Phase::idle;
    watch(s, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
    if (s.active) {
      s.record.t_connect = now;
      begin_write(s);
    } else {
      shared_.handler->connected(s, {}, now - s.phase_since);
    }
  }

  void begin_write(StreamT& s) {
    s.phase = StreamT::Phase::sending;
    s.phase_since = now_ns();
    write_more(s);
  }

  void write_more(StreamT& s) {
    while (s.out_sent < s.out.size()) {
      const ssize_t n = ::send(s.fd, s.out.data() + s.out_sent, s.out.size() - s.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        s.out_sent += static_cast<std::size_t>(n);
        s.phase_since = now_ns();
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        watch(s, EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      abort(s, TransportFailure::write);
      return;
    }
    s.phase = StreamT::Phase::reading;
    watch(s, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
  }

  void on_ready(StreamT& s, std::uint32_t events) {
    switch (s.phase) {
      case StreamT::Phase::connecting:
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(s);
        return;
      case StreamT::Phase::sending:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
          read_some(s);  // the server answered (or closed) before taking the whole request
          return;
        }
        if (events & EPOLLOUT) write_more(s);
        return;
      case StreamT::Phase::reading: read_some(s); return;
      case StreamT::Phase::idle: close_stream(s); return;  // the server closed a kept-alive connection (or spoke)
      case StreamT::Phase::closed: return;
    }
  }

  // What one recv() brought: n (-1 on an error, then `error`), and when, taken right after it returned.
  struct Received {
    int fd = -1;
    ssize_t n = 0;
    int error = 0;
    Nanos arrived = 0;
    const char* data = nullptr;
    std::size_t capacity = 0;
  };

  static Received receive(const StreamT& s, char* into, std::size_t capacity) {
    Received r;
    r.fd = s.fd;
    r.data = into;
    r.capacity = capacity;
    iovec piece{into, capacity};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr message{};
    do {
      message.msg_iov = &piece;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      r.n = ::recvmsg(s.fd, &message, 0);
    } while (r.n < 0 && errno == EINTR);
    r.error = r.n < 0 ? errno : 0;
    r.arrived = now_ns();  // first: in the thread that read the bytes, before parsing them
    if (r.n > 0) r.arrived = kernel_arrival(message, r.arrived, s.reader ? s.reader->last_activity() : s.phase_since);
    return r;
  }

  void read_some(StreamT& s) { consume(s, receive(s, buffer_.get(), event_loop_read_bytes)); }

  // The bytes of one recv(), read: HTTP, then the reply.
  void consume(StreamT& s, const Received& got) {
    const ssize_t n = got.n;
    const Nanos arrived = got.arrived;
    if (n < 0 && (got.error == EAGAIN || got.error == EWOULDBLOCK)) return;
    if (n <= 0 && s.reused && !s.retried && !s.response.started()) {
      // A kept-alive connection the server closed as this request went out (its idle timeout, its
      // requests-per-connection limit): nothing of a reply came, so the server never answered it. Sent once more
      // on a new connection, as HTTP clients do; t_send stays, so the wait counts, and t_connect says so.
      s.retried = true;
      close_stream(s);
      s.out_sent = 0;
      s.response.reset();
      open(s);
      return;
    }
    if (n < 0) {
      abort(s, TransportFailure::read, arrived);
      return;
    }
    auto& reader = *s.reader;
    if (n == 0) {
      s.response.on_eof();
      if (s.response.state() == Http1Response::State::done) {
        close_stream(s);
        finish(s, TransportFailure::none, arrived);
      } else {
        abort(s, TransportFailure::read, arrived);
      }
      return;
    }
    bool go_on = true;
    const std::string_view data(got.data, static_cast<std::size_t>(n));
    const std::size_t used = s.response.feed(
        data,
        [&] {
          reader.on_status(s.response.status(), arrived);
          return true;
        },
        [&](const char* bytes, std::size_t length) { return go_on = reader.on_bytes(arrived, bytes, length); });
    if (!go_on) {
      abort(s, TransportFailure::other, arrived,
            "stopped reading");  // the record says why (too large, bad event, stop)
      return;
    }
    switch (s.response.state()) {
      case Http1Response::State::error:
        abort(s, TransportFailure::other, arrived, "the reply is not valid HTTP/1.1 (" + s.response.error() + ")");
        return;
      case Http1Response::State::done:
        // Bytes past the reply (nothing was asked for them) or a server that will close: a fresh connection next.
        if (!s.response.keep_alive() || used < data.size())
          close_stream(s);
        else
          s.phase = StreamT::Phase::idle, s.carried = true;
        finish(s, TransportFailure::none, arrived);
        return;
      default: return;
    }
  }

  // Ends the request in flight now: its connection cannot carry another.
  void abort(StreamT& s, TransportFailure failure, Nanos at = 0, std::string detail = {}) {
    close_stream(s);
    if (s.active) finish(s, failure, at ? at : now_ns(), std::move(detail));
  }

  void finish(StreamT& s, TransportFailure failure, Nanos at, std::string detail = {}) {
    if (!s.active) return;
    if (s.reader) {
      s.reader->finish(failure, at, detail);
      s.spare_body = s.reader->release_buffer();
    }
    s.reader.reset();
    hand_over(s);
  }
  // The request's record to the handler; the stream is free for the next one.
  void hand_over(StreamT& s) {
    s.active = false;
    RequestRecord record = std::move(s.record);
    s.record = RequestRecord{};
    shared_.handler->completed(s, std::move(record));
  }

  // Ends the request on the loop's next turn (a failure before anything was sent), so that completed() is never
  // called from within send().
  void finish_later(StreamT& s, TransportFailure failure, std::string detail) {
    post_local([this, &s, failure, detail = std::move(detail)] { finish(s, failure, now_ns(), detail); });
  }
  void defer_completed(StreamT& s) {
    post_local([this, &s] { hand_over(s); });
  }
  void defer_connected(StreamT& s, std::string why, Nanos took) {
    post_local(
        [this, &s, why = std::move(why), took]() mutable { shared_.handler->connected(s, std::move(why), took); });
  }
  void post_local(std::function<void()> task) { local_.push_back(std::move(task)); }

  // Each request in flight: cancelled, past its deadline, or past a timeout.
  void look(Nanos now) {
    const DriverOptions& o = *shared_.options;
    const Nanos connect_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(o.connect_timeout()).count();
    const Nanos write_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(o.write_timeout()).count();
    const Nanos read_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(o.read_timeout()).count();
    for (auto& owned : streams_) {
      StreamT& s = *owned;
      if (s.phase == StreamT::Phase::connecting && now - s.phase_since >= connect_ns) {
        close_stream(s);
        connect_failed(s, TransportFailure::connect_timeout, s.phase_since);
        continue;
      }
      if (!s.active || !s.reader) continue;
      if (s.cancelled() == ErrorKind::none && s.deadline_at != 0 && now >= s.deadline_at) s.deadline_hit = true;
      if (s.stopped()) {
        abort(s, TransportFailure::other, now, "stopped");
      } else if (s.phase == StreamT::Phase::sending && now - s.phase_since >= write_ns) {
        abort(s, TransportFailure::write, now);
      } else if (s.phase == StreamT::Phase::reading && now - s.reader->last_activity() >= read_ns) {
        abort(s, TransportFailure::read, now);
      }
    }
  }

  void run_posted() {
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(posted_mutex_);
      tasks.swap(posted_);
    }
    for (auto& t : tasks) t();
  }

  void run_local() {
    while (!local_.empty()) {
      std::vector<std::function<void()>> tasks;
      tasks.swap(local_);
      for (auto& t : tasks) t();
    }
  }

  void wait(Nanos until, epoll_event* events, int capacity, int& ready) {
    const Nanos left = std::max<Nanos>(0, until - now_ns());
#ifdef SYS_epoll_pwait2
    if (use_pwait2_) {
      timespec timeout{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
      ready = static_cast<int>(::syscall(SYS_epoll_pwait2, epoll_, events, capacity, &timeout, nullptr, 0));
      if (ready >= 0 || errno != ENOSYS) return;
      use_pwait2_ = false;  // a kernel older than 5.11: whole milliseconds, rounded up
    }
#endif
    ready = ::epoll_wait(epoll_, events, capacity, static_cast<int>((left + 999'999) / 1'000'000));
  }

  void run() {
    constexpr int capacity = 256;
    epoll_event events[capacity];
    Nanos next_look = now_ns() + event_loop_scan_ns;
    while (!stopping_.load()) {
      publish_streams();
      run_local();
      Nanos until = next_look;
      if (!timers_.empty()) until = std::min(until, timers_.top().when);
      if (!local_.empty()) until = 0;
      int ready = 0;
      wait(until, events, capacity, ready);
      // Two passes: first every stream that has bytes of a reply is read and timestamped, then the bytes are
      // parsed and the requests that ended are completed. A burst of replies (every stream's last token in one
      // engine step) then puts only the recv() calls before the last stream's arrival time, not the parsing and
      // the record of every reply ahead of it in the turn.
      const int early = std::min(ready, event_loop_turn_slots);
      for (int i = 0; i < early; ++i) {
        received_[i].fd = -1;
        auto* s = static_cast<StreamT*>(events[i].data.ptr);
        if (s != nullptr && s->phase == StreamT::Phase::reading)
          received_[i] = receive(*s, turn_buffer_.get() + i * event_loop_slot_bytes, event_loop_slot_bytes);
      }
      for (int i = 0; i < ready; ++i) {
        if (events[i].data.ptr == nullptr) {
          std::uint64_t count = 0;
          [[maybe_unused]] const auto got = ::read(wake_fd_, &count, sizeof count);
          run_posted();
          continue;
        }
        auto& s = *static_cast<StreamT*>(events[i].data.ptr);
        if (i < early && received_[i].fd >= 0) {
          // Still the connection it was read from (another stream's completion may have cancelled them all).
          if (s.fd != received_[i].fd || s.phase != StreamT::Phase::reading) continue;
          const bool full = received_[i].n == static_cast<ssize_t>(received_[i].capacity);
          consume(s, received_[i]);
          if (full && s.fd == received_[i].fd && s.phase == StreamT::Phase::reading) read_some(s);  // more waits
          continue;
        }
        on_ready(s, events[i].events);
      }
      Nanos now = now_ns();
      while (!timers_.empty() && timers_.top().when <= now) {
        auto task = std::move(const_cast<Timer&>(timers_.top()).task);
        timers_.pop();
        task();
        now = now_ns();
      }
      if (now >= next_look || look_now_.exchange(false)) {
        look(now);
        next_look = now + event_loop_scan_ns;
      }
      run_local();
      shared_.handler->turn_ended(*this);
    }
  }

  const EventLoopShared<Api>& shared_;
  const std::size_t index_;
  int epoll_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> look_now_{false};
  bool use_pwait2_ = true;
  std::vector<std::unique_ptr<StreamT>> streams_;
  std::mutex snapshot_mutex_;
  std::vector<StreamT*> snapshot_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> local_;  // this thread's own deferred work
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::uint64_t sequence_ = 0;
  std::unique_ptr<char[]> buffer_ = std::make_unique<char[]>(event_loop_read_bytes);
  // Not zeroed: a slot's pages are touched (resident) only once a turn has that many readable streams.
  std::unique_ptr<char[]> turn_buffer_{
      new char[static_cast<std::size_t>(event_loop_turn_slots) * event_loop_slot_bytes]};
  Received received_[event_loop_turn_slots];
};

}  // namespace detail
}  // namespace servebench
