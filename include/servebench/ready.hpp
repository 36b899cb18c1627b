// servebench — before and after a run: wait_until_ready() (which replaces a fixed `sleep 60` before a run) and
// describe_failure(), one line for a person on why a request failed and what to try.
#pragma once

#include <algorithm>
#include <chrono>
#include <iostream>
#include <ostream>
#include <string>
#include <thread>

#include <httplib.h>

#include "record.hpp"
#include "url.hpp"

namespace servebench {

// One line for a person: why a request failed and what to try. For programs that send a request and stop.
inline std::string describe_failure(const RequestRecord& r, const std::string& base_url) {
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
  double waited_s = 0;
  explicit operator bool() const noexcept { return ready; }
};

namespace detail {
inline std::string describe(httplib::Error error) {
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
}  // namespace detail

// Polls the server at base_url until it answers, or until `deadline` has passed. Probes in order: GET /health
// (vLLM, TGI), GET /v1/models (OpenAI-compatible servers), a 1-token POST /v1/completions (the lab's Flask server
// has only that). Any HTTP answer but 502/503/504 means the process is up (a 500 or 401 comes from a live server);
// 502/503/504 mean "starting" and are waited on; 404/405/501 (no such route: Python's http.server answers a GET it
// does not implement with 501) move on to the next probe, and a server that answers every probe so is up too. Backs
// off from 100 ms to 2 s between rounds and says what it is waiting for on `log` (nullptr: silent) when the first
// round fails and every 10 s after. A failed TLS handshake returns at once (tls_failed), naming the fix. Never
// throws: an unusable URL is a reason, returned.
template <class Url = std::string>
ReadyResult wait_until_ready(const Url& base_url, std::chrono::milliseconds deadline, std::ostream* log = &std::cerr,
                             const TlsOptions& tls = {}) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  ReadyResult result;
  detail::BaseUrl url;
  std::unique_ptr<httplib::Client> client;
  try {
    url = detail::parse_base_url(base_url);
    client = detail::make_client(url, tls);
  } catch (const std::exception& e) {
    result.reason = e.what();
    return result;
  }
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::chrono::seconds(2));
  auto backoff = std::chrono::milliseconds(100);
  auto next_log = start;
  bool logged = false;
  for (;;) {
    const auto left = deadline - std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
    // A probe never outlives the deadline by much: reads are bounded by what is left (at least 1 s).
    client->set_read_timeout(std::max<std::chrono::milliseconds>(left, std::chrono::seconds(1)));
    std::string why;
    std::string unrouted;  // the probes that answered "no such route"
    const std::string one_token = R"({"prompt":"Hello","max_tokens":1})";
    const char* const probes[] = {"/health", "/v1/models", "/v1/completions"};
    for (const char* probe : probes) {
      const bool post = std::string(probe) == "/v1/completions";
      auto answer = post ? client->Post(url.prefix + probe, one_token, "application/json")
                         : client->Get(url.prefix + probe);
      if (!answer) {
        const auto e = answer.error();
        if (e == httplib::Error::SSLConnection || e == httplib::Error::SSLLoadingCerts ||
            e == httplib::Error::SSLServerVerification) {
          // Waiting will not make a certificate trusted: say so now.
          result.reason = detail::tls_failure(url, e, tls);
          result.tls_failed = true;
          result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
          if (log) *log << "servebench: " << base_url << ": " << result.reason << "\n";
          return result;
        }
        why = detail::describe(e);
        break;
      }
      const auto kind = detail::classify_probe(answer->status);
      if (kind == detail::ProbeAnswer::up) {
        result.probe = probe;
        break;
      }
      if (kind == detail::ProbeAnswer::starting) {
        why = std::string(probe) + " answered " + std::to_string(answer->status) + " (starting)";
        break;
      }
      unrouted += (unrouted.empty() ? "" : ", ") + std::string(probe) + " " + std::to_string(answer->status);
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
    std::this_thread::sleep_for(std::min<clock::duration>(backoff, deadline - (now - start)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace servebench
