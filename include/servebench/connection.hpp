// servebench — the driver's cpp-httplib client, able to open its connection before the first request and to say
// when a request had to open one (docs/metrics.md: pre-open, t_connect).
//
// cpp-httplib 0.11.4 has no public connect. Its ClientImpl (and SSLClient, for https) opens a connection in the
// virtual create_and_connect_socket() when a send finds none open; this client overrides it:
//   * open() connects now (TCP, with the client's own settings: timeout, TCP_NODELAY) and holds the socket;
//   * the next send's create_and_connect_socket() takes the held socket if the server has not closed it meanwhile
//     (for https the TLS handshake then follows on it, inside that first request: 0.11.4 keeps the handshake
//     private), and otherwise connects, noting when the connection was established.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <httplib.h>

#include "record.hpp"
#include "url.hpp"

namespace servebench::detail {

// What the driver asks of its client beyond cpp-httplib's ClientImpl.
class ConnectControl {
 public:
  // Opens a connection now unless one is open or held; false (with cpp-httplib's error) when none could be opened.
  virtual bool open(httplib::Error& error) = 0;
  // When the last send had to open a connection: the steady time it was established (then forgotten); else empty.
  virtual std::optional<Nanos> take_connected() noexcept = 0;
  // Aborts the request in flight as cpp-httplib's stop() does, without waiting: false, doing nothing, while a send
  // holds the client's socket lock (it holds it while connecting and, for https, the handshake: up to the connect
  // timeout) or has not taken its socket yet, so the one watchdog of all Drivers never blocks.
  virtual bool try_stop() noexcept = 0;

 protected:
  ~ConnectControl() = default;
};

// True unless the peer has closed the socket (readable with nothing to read) or it is broken.
inline bool socket_still_open(socket_t sock) noexcept {
#ifdef _WIN32
  WSAPOLLFD p{sock, POLLRDNORM, 0};
  const int ready = WSAPoll(&p, 1, 0);
#else
  pollfd p{sock, POLLIN, 0};
  const int ready = ::poll(&p, 1, 0);
#endif
  if (ready == 0) return true;
  if (ready < 0) return false;
  char byte = 0;
  return ::recv(sock, &byte, 1, MSG_PEEK) > 0;
}

inline void close_socket_now(socket_t sock) noexcept {
#ifdef _WIN32
  ::closesocket(sock);
#else
  ::close(sock);
#endif
}

// Base: httplib::ClientImpl (http) or httplib::SSLClient (https).
template <class Base>
class PreconnectingClient final : public Base, public ConnectControl {
 public:
  using Base::Base;
  ~PreconnectingClient() override {
    if (held_ != INVALID_SOCKET) close_socket_now(held_);
  }

  bool open(httplib::Error& error) override {
    std::lock_guard<std::mutex> lock(this->socket_mutex_);
    if (this->socket_.is_open() || held_ != INVALID_SOCKET) return true;
    typename Base::Socket socket;
    if (!connect_tcp(socket, error)) return false;
    held_ = socket.sock;
    return true;
  }

  std::optional<Nanos> take_connected() noexcept override {
    auto at = connected_;
    connected_.reset();
    return at;
  }

  // ClientImpl::stop() of cpp-httplib 0.11.4 for a request in flight, under a lock only tried: shutting the socket
  // down (the sending thread then fails its read or write and closes it) is all that is safe while a request uses
  // it. With none using it (the request has not taken its socket yet, or is done) there is nothing to stop: false,
  // and the watchdog tries again.
  bool try_stop() noexcept override {
    std::unique_lock<std::mutex> lock(this->socket_mutex_, std::try_to_lock);
    if (!lock.owns_lock() || this->socket_requests_in_flight_ == 0) return false;
    this->shutdown_socket(this->socket_);
    this->socket_should_be_closed_when_request_is_done_ = true;
    return true;
  }

  // Called by cpp-httplib's send with its socket mutex held, when it has no open connection.
  bool create_and_connect_socket(typename Base::Socket& socket, httplib::Error& error) override {
    if (held_ != INVALID_SOCKET) {
      const socket_t held = held_;
      held_ = INVALID_SOCKET;
      if (socket_still_open(held)) {
        socket.sock = held;
        return true;
      }
      close_socket_now(held);  // the server closed it while it waited: connect again, and say so
    }
    if (!connect_tcp(socket, error)) return false;
    connected_ = now_ns();
    return true;
  }

  // What SSLClient::create_and_connect_socket does too (is_valid(): its TLS context exists), then ClientImpl's.
  bool connect_tcp(typename Base::Socket& socket, httplib::Error& error) {
    if (!this->is_valid()) {
      error = httplib::Error::SSLConnection;
      return false;
    }
    return httplib::ClientImpl::create_and_connect_socket(socket, error);
  }

  socket_t held_ = INVALID_SOCKET;
  std::optional<Nanos> connected_;
};

// The client and its connect control (the same object).
struct Connection {
  std::unique_ptr<httplib::ClientImpl> client;
  ConnectControl* control = nullptr;
};

// The connection for `url`: plain, or TLS as `tls` says. Throws std::invalid_argument as check_tls() does. A
// template (callers never name `Plain`) so that the https client is built only where a Driver is (see "Deferred" in
// serialize.hpp).
template <class Plain = httplib::ClientImpl>
Connection make_connection(const BaseUrl& url, const TlsOptions& tls = {}) {
  Connection c;
  if (url.scheme == "http") {
    auto* client = new PreconnectingClient<Plain>(url.host, url.port);
    c.client.reset(client);  // not make_unique: a unique_ptr of one more type costs every includer (serialize.hpp)
    c.control = client;
    return c;
  }
  check_tls(url, tls);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  auto* client = new PreconnectingClient<deferred<httplib::SSLClient, Plain>>(url.host, url.port, tls.client_cert_file,
                                                                              tls.client_key_file);
  c.client.reset(client);
  c.control = client;
  apply_tls(*client, tls);
#endif
  return c;
}

}  // namespace servebench::detail
