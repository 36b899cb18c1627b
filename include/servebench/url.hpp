// servebench — base URLs: "http://host[:port][/prefix]" parsed once, the cpp-httplib client made for it, and the
// resolver asked again after a failed connect (cpp-httplib reports an unknown host and a refused port alike).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <sys/socket.h>
#endif

#include <httplib.h>

namespace servebench {

// How to trust an https server and prove who we are to it. Empty fields: the system's CA store, no client
// certificate. `insecure` skips verifying the server's certificate (results say so).
struct TlsOptions {
  std::string ca_cert_file;      // PEM file of the CA (or the self-signed certificate) that signed the server's
  std::string client_cert_file;  // PEM client certificate, for servers that ask for one (mutual TLS)
  std::string client_key_file;   // its private key
  bool insecure = false;
};

// True when this build of cpp-httplib speaks TLS (it was compiled with OpenSSL).
inline constexpr bool tls_available() noexcept {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  return true;
#else
  return false;
#endif
}

namespace detail {

struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  int port = 0;
  std::string prefix;  // "" or "/something", no trailing slash
};

// Parses "http://host[:port][/prefix]"; throws std::invalid_argument with what is wrong.
inline BaseUrl parse_base_url(const std::string& url) {
  BaseUrl out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    throw std::invalid_argument("base URL '" + url + "' has no scheme (expected http://host:port/prefix)");
  out.scheme = url.substr(0, scheme_end);
  if (out.scheme != "http" && out.scheme != "https")
    throw std::invalid_argument("base URL '" + url + "': scheme must be http or https");
  std::string rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.prefix = rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  std::string port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("base URL '" + url + "': unclosed '['");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument("base URL '" + url + "': junk after ']'");
      has_port = true;
      port_text = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) throw std::invalid_argument("base URL '" + url + "' has no host");
  if (!has_port) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    std::size_t used = 0;
    int port = -1;
    try {
      port = std::stoi(port_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != port_text.size() || port <= 0 || port > 65535)
      throw std::invalid_argument("base URL '" + url + "': bad port '" + port_text + "'");
    out.port = port;
  }
  return out;
}

// Throws std::invalid_argument for https with a cpp-httplib built without TLS, or a client certificate without its
// key, naming the fix.
inline void check_tls(const BaseUrl& url, const TlsOptions& tls) {
  if (!tls_available())
    throw std::invalid_argument(
        "https://" + url.host +
        " needs cpp-httplib built with OpenSSL "
        "(define CPPHTTPLIB_OPENSSL_SUPPORT and link OpenSSL, as Debian's libcpp-httplib does)");
  if (tls.client_cert_file.empty() != tls.client_key_file.empty())
    throw std::invalid_argument("a client certificate needs both its certificate file and its key file");
}

// The CA to trust and whether to verify, on an https client (httplib::Client or a ClientImpl).
template <class Client>
void apply_tls(Client& client, const TlsOptions& tls) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (!tls.ca_cert_file.empty()) client.set_ca_cert_path(tls.ca_cert_file);
  client.enable_server_certificate_verification(!tls.insecure);
#else
  (void)client;
  (void)tls;
#endif
}

// The client for `url`; throws as check_tls() does.
template <class Client = httplib::Client>  // deferred: see serialize.hpp
std::unique_ptr<Client> make_client(const BaseUrl& url, const TlsOptions& tls = {}) {
  if (url.scheme == "http") return std::make_unique<Client>(url.host, url.port);
  check_tls(url, tls);
  const bool v6 = url.host.find(':') != std::string::npos;
  const std::string where = url.scheme + "://" + (v6 ? "[" + url.host + "]" : url.host) + ":" +
                            std::to_string(url.port);
  auto client = tls.client_cert_file.empty()
                    ? std::make_unique<Client>(where)
                    : std::make_unique<Client>(where, tls.client_cert_file, tls.client_key_file);
  apply_tls(*client, tls);
  return client;
}

// The one line for a failed TLS handshake: what went wrong and the fix.
template <class = void>  // deferred: see serialize.hpp
std::string tls_failure(const BaseUrl& url, httplib::Error error, const TlsOptions& tls) {
  const std::string where = url.host + ":" + std::to_string(url.port);
  switch (error) {
    case httplib::Error::SSLServerVerification:
      return "the certificate of " + where + " is not trusted" +
             (tls.ca_cert_file.empty() ? std::string(" (give the CA that signed it with --ca-cert FILE, or --insecure "
                                                     "to skip verification)")
                                       : " by " + tls.ca_cert_file + " (is it the CA that signed the server's?)");
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the TLS certificates (" +
             (tls.ca_cert_file.empty() ? std::string("the system CA store") : tls.ca_cert_file) +
             "): check the files exist and are PEM";
    default:
      return "the TLS handshake with " + where + " failed (is it an https server? is the client certificate right?)";
  }
}

// cpp-httplib reports a failed name lookup and a refused connection alike (Error::Connection); asking the resolver
// again tells them apart. Only called after a failure, so it never costs a measured request anything.
inline bool host_resolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (result) freeaddrinfo(result);
  return rc == 0;
}

}  // namespace detail
}  // namespace servebench
