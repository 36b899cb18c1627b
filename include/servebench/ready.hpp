// servebench — before and after a run: wait_until_ready() (which replaces a fixed `sleep 60` before a run) and
// describe_failure(), one line for a person on why a request failed and what to try.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include <httplib.h>

#include "record.hpp"
#include "scheduler/interrupt.hpp"
#include "url.hpp"

namespace servebench {

// One line for a person: why a request failed and what to try. For programs that send a request and stop.
template <class Record = RequestRecord>  // deferred: see serialize.hpp
std::string describe_failure(const Record& r, const std::string& base_url) {
  std::string line = std::string(to_string(r.error_kind)) + ": " + r.error_message;
  switch (r.error_kind) {
    case ErrorKind::connect_refused:
    case ErrorKind::connect_timeout:
      return line + " (is the server running at " + base_url + "? start it, or check the URL)";
    case ErrorKind::name_resolution: return line + " (check the host name in " + base_url + ")";
    case ErrorKind::tls: return line;  // tls_failure already names the fix
    case ErrorKind::http_status: {
      std::string body = r.body_start.substr(0, 200);
      for (char& c : body)
        if (c == '\n' || c == '\r') c = ' ';
      return line + (body.empty() ? "" : ": " + body) + " (check the API dialect, the model name and the URL's path)";
    }
    default: return line;
  }
}

// The outcome of wait_until_ready: ready or not, which probe answered, or why it never did.
struct ReadyResult {
  bool ready = false;
  std::string probe;        // "/health", "/v1/models", "/v1/completions", or "HTTP (...)" when every probe was unrouted
  std::string reason;       // the last reason it was not ready
  bool tls_failed = false;  // the TLS handshake failed: returned at once, since waiting cannot fix it
  bool interrupted = false;  // Ctrl-C, SIGTERM or request_interrupt() ended the wait (programs exit 130)
  double waited_s = 0;
  explicit operator bool() const noexcept { return ready; }
};

// What bounds one readiness probe, so that no server can hold or flood the wait.
struct ReadyOptions {
  // A probe reads at most this much of a reply's body and then drops the connection: the status line is what
  // decides, so an endless /health body costs at most this much memory.
  std::size_t max_body_bytes = std::size_t{64} << 10;
  // The longest one probe may take, whole (a server dripping a byte a second never trips a read timeout); never
  // past the wait's own deadline.
  std::chrono::milliseconds probe_timeout = std::chrono::seconds(10);
  // Ctrl-C / SIGTERM end the wait at once (interrupted) instead of killing the program; off: the program's own
  // handlers stay, and request_interrupt() still ends the wait.
  bool handle_signals = true;
};

namespace detail {
template <class = void>  // deferred: see serialize.hpp
std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "connection refused or host unknown";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "connection closed or read timed out";
    case httplib::Error::Write: return "write failed";
    default: return "cpp-httplib error " + std::to_string(static_cast<int>(error));
  }
}

// What one probe's answer says about the server.
enum class ProbeAnswer {
  up,          // the process answers HTTP: ready
  starting,    // 502 / 503 / 504: a proxy or a server still loading its model
  next_probe,  // 404 / 405 / 501: this server has no such route; ask the next probe
};

inline ProbeAnswer classify_probe(int status) noexcept {
  if (status == 502 || status == 503 || status == 504) return ProbeAnswer::starting;
  if (status == 404 || status == 405 || status == 501) return ProbeAnswer::next_probe;
  return ProbeAnswer::up;  // 200, but also 400, 401, 422, 500: a live process answered
}

// Stops the client's probe in flight from outside when the probe's time is up or the wait is interrupted, polling
// every 10 ms (a stop() that lands before the probe has its socket does nothing, so it repeats).
template <class Client = httplib::Client>  // deferred: see serialize.hpp
class ProbeWatch {
 public:
  explicit ProbeWatch(Client& client) : client_(client), thread_([this] { watch(); }) {}
  ProbeWatch(const ProbeWatch&) = delete;
  ProbeWatch& operator=(const ProbeWatch&) = delete;
  ~ProbeWatch() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void begin(std::chrono::steady_clock::time_point until) {
    std::lock_guard<std::mutex> lock(mutex_);
    until_ = until;
    in_probe_ = true;
    timed_out_ = false;
  }
  // True when the watch stopped the probe for its time.
  bool end() {
    std::lock_guard<std::mutex> lock(mutex_);
    in_probe_ = false;
    return timed_out_;
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      if (in_probe_) {
        const bool late = std::chrono::steady_clock::now() >= until_;
        if (late || interrupt_requested()) {
          timed_out_ = timed_out_ || late;
          client_.stop();
        }
      }
      wake_.wait_for(lock, std::chrono::milliseconds(10));
    }
  }
  Client& client_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false, in_probe_ = false, timed_out_ = false;
  std::chrono::steady_clock::time_point until_;
  std::thread thread_;
};

// One probe: the status line (0: none), or why there was none. The body is counted, never kept.
struct ProbeReply {
  int status = 0;
  std::string why;
  bool tls_error = false;
  httplib::Error error = httplib::Error::Success;
};

template <class Client = httplib::Client>
ProbeReply probe_once(Client& client, ProbeWatch<Client>& watch, const std::string& path, bool post,
                      std::chrono::steady_clock::time_point until, const ReadyOptions& options) {
  ProbeReply reply;
  httplib::Request request;
  request.method = post ? "POST" : "GET";
  request.path = path;
  if (post) {
    request.body = R"({"prompt":"Hello","max_tokens":1})";
    request.headers.emplace("Content-Type", "application/json");
  }
  std::size_t bytes = 0;
  bool too_large = false;
  request.response_handler = [&reply](const httplib::Response& r) {
    reply.status = r.status;
    return true;
  };
  request.content_receiver = [&](const char*, std::size_t n, std::uint64_t, std::uint64_t) {
    bytes += n;
    too_large = bytes > options.max_body_bytes;
    return !too_large;
  };
  httplib::Response response;
  watch.begin(until);
  const bool completed = client.send(request, response, reply.error);
  const bool timed_out = watch.end();
  if (completed || reply.status > 0) return reply;  // the status line decides; a body cut short does not matter
  reply.tls_error = reply.error == httplib::Error::SSLConnection || reply.error == httplib::Error::SSLLoadingCerts ||
                    reply.error == httplib::Error::SSLServerVerification;
  reply.why = timed_out ? std::string(path) + " sent no status line within its probe timeout" : describe(reply.error);
  return reply;
}
}  // namespace detail

// Polls the server at base_url until it answers, or until `deadline` has passed. Probes in order: GET /health
// (vLLM, TGI), GET /v1/models (OpenAI-compatible servers), a 1-token POST /v1/completions (the lab's Flask server
// has only that). Any HTTP answer but 502/503/504 means the process is up (a 500 or 401 comes from a live server);
// 502/503/504 mean "starting" and are waited on; 404/405/501 (no such route: Python's http.server answers a GET it
// does not implement with 501) move on to the next probe, and a server that answers every probe so is up too. Backs
// off from 100 ms to 2 s between rounds and says what it is waiting for on `log` (nullptr: silent) when the first
// round fails and every 10 s after. A failed TLS handshake returns at once (tls_failed), naming the fix. Each probe
// is bounded by `options` (its body size and its whole time), and Ctrl-C ends the wait within ~10 ms (interrupted;
// a connect in progress, at most 2 s, is not cut short). Never throws: an unusable URL is a reason, returned.
template <class Url = std::string>
ReadyResult wait_until_ready(const Url& base_url, std::chrono::milliseconds deadline, std::ostream* log = &std::cerr,
                             const TlsOptions& tls = {}, const ReadyOptions& options = {}) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  ReadyResult result;
  detail::BaseUrl url;
  std::unique_ptr<deferred<httplib::Client, Url>> client;  // deferred: see serialize.hpp
  try {
    url = detail::parse_base_url(base_url);
    client = detail::make_client(url, tls);
  } catch (const std::exception& e) {
    result.reason = e.what();
    return result;
  }
  detail::InterruptScope interrupt_scope(options.handle_signals);
  detail::ProbeWatch watch(*client);
  const auto interrupted = [&] {
    if (!interrupt_requested()) return false;
    result.interrupted = true;
    result.reason = "interrupted";
    result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
    if (log) *log << "servebench: stopped waiting for " << base_url << ": interrupted\n";
    return true;
  };
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::chrono::seconds(2));
  auto backoff = std::chrono::milliseconds(100);
  auto next_log = start;
  bool logged = false;
  for (;;) {
    const auto left = deadline - std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
    // A probe never outlives the deadline by much: reads are bounded by what is left (at least 1 s).
    client->set_read_timeout(std::max<std::chrono::milliseconds>(left, std::chrono::seconds(1)));
    const auto probe_until = clock::now() +
                             std::min(options.probe_timeout,
                                      std::max<std::chrono::milliseconds>(left, std::chrono::seconds(1)));
    std::string why;
    std::string unrouted;  // the probes that answered "no such route"
    const char* const probes[] = {"/health", "/v1/models", "/v1/completions"};
    for (const char* probe : probes) {
      const bool post = std::string(probe) == "/v1/completions";
      const auto answer = detail::probe_once(*client, watch, url.prefix + probe, post, probe_until, options);
      if (interrupted()) return result;
      if (answer.status == 0) {
        if (answer.tls_error) {
          // Waiting will not make a certificate trusted: say so now.
          result.reason = detail::tls_failure(url, answer.error, tls);
          result.tls_failed = true;
          result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
          if (log) *log << "servebench: " << base_url << ": " << result.reason << "\n";
          return result;
        }
        why = answer.why;
        break;
      }
      const auto kind = detail::classify_probe(answer.status);
      if (kind == detail::ProbeAnswer::up) {
        result.probe = probe;
        break;
      }
      if (kind == detail::ProbeAnswer::starting) {
        why = std::string(probe) + " answered " + std::to_string(answer.status) + " (starting)";
        break;
      }
      unrouted += (unrouted.empty() ? "" : ", ") + std::string(probe) + " " + std::to_string(answer.status);
    }
    if (result.probe.empty() && why.empty()) result.probe = "HTTP (" + unrouted + ")";
    result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
    if (!result.probe.empty()) {
      result.ready = true;
      if (log && logged)
        *log << "servebench: " << base_url << " is ready after " << result.waited_s << " s (" << result.probe << ")\n";
      return result;
    }
    result.reason = why;
    const auto now = clock::now();
    if (now - start >= deadline) {
      if (log)
        *log << "servebench: gave up waiting for " << base_url << " after " << result.waited_s << " s: " << why << "\n";
      return result;
    }
    if (log && now >= next_log) {
      *log << "servebench: waiting for " << base_url << " (" << why << "); " << static_cast<long>(result.waited_s)
           << " s of " << deadline.count() / 1000 << " s\n";
      logged = true;
      next_log = now + std::chrono::seconds(10);
    }
    const auto resume = now + std::min<clock::duration>(backoff, deadline - (now - start));
    while (clock::now() < resume && !interrupt_requested())
      std::this_thread::sleep_for(std::min<clock::duration>(std::chrono::milliseconds(10), resume - clock::now()));
    if (interrupted()) return result;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace servebench
