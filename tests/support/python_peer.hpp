// Test support: a Python peer server from tests/peers/, started on a free port of 127.0.0.1 by its script (which
// prints "PORT N" first) and stopped by its PID when the PythonPeer goes.
#pragma once

#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace servebench::testing {

class PythonPeer {
 public:
  explicit PythonPeer(const std::string& script, std::vector<std::string> extra = {}) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    const std::string path = std::string(SERVEBENCH_SOURCE_DIR) + "/tests/peers/" + script;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<std::string> args = {"/usr/bin/python3", path, "--port", "0"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::alarm(300);  // a peer never outlives a test that forgot it
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* in = ::fdopen(out[0], "r");
    char line[64] = {0};
    if (!in || !std::fgets(line, sizeof line, in) || std::sscanf(line, "PORT %d", &port_) != 1) {
      stop();
      if (in) std::fclose(in);
      throw std::runtime_error(script + " did not print its port");
    }
    std::fclose(in);
  }
  ~PythonPeer() { stop(); }
  PythonPeer(const PythonPeer&) = delete;
  PythonPeer& operator=(const PythonPeer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace servebench::testing
