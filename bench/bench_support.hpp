// servebench bench — what the benchmark programs share: options, the target server process, the reference clients
// (wrk, the Python asyncio client), CPU and memory readings, tables and JSON output. Not part of the library.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <servebench/artifact.hpp>
#include <servebench/record.hpp>

#include "completion_body.hpp"

namespace servebench::bench {

struct Options {
  std::string out_dir = "artifacts/bench";
  std::string python = "/usr/bin/python3";  // Debian's, with python3-aiohttp (not a pyenv one on PATH)
  std::string asyncio_client = "bench/asyncio_client.py";
  double seconds = 2.0;               // per measured point
  std::vector<double> levels;         // empty: the benchmark's own list
  bool references = true;             // false: servebench alone (for profiling)
  int wrk_threads = 0;                // 0: min(connections, cores)
  int repeat = 1;                     // bench_client_overhead: servebench and wrk pairs run alternately per level
  bool asyncio = true;                // false: no asyncio reference (a host without python3-aiohttp)
  bool server_process = false;        // a simulated server in a process of its own (bench_timing_accuracy)
  int server_nice = 0;                // --server-process: the server's nice value (its threads' CPU weight)
  std::string server_cpus;            // --server-process: the cores the server may run on ("8-15"); empty: any
  std::string client_cpus;            // the cores this program (the client) may run on ("0-7"); empty: any
  std::string transport = "threads";  // or "event-loop" (<servebench/event_loop.hpp>)
  std::size_t loop_threads = 0;       // the event loop's threads (0: one per core)
  bool keep_records = true;           // false (--no-records): summaries from the level's histograms, as wrk keeps
  bool kernel_timestamps = true;      // event loop: EventLoopOptions::kernel_timestamps (--no-kernel-timestamps)
  std::string target_server = "bench_target";  // bench_open_loop: or "nginx" (NginxProcess)
  std::string nginx = "nginx";                 // --target-server nginx: the program (PATH is searched)

  // The levels to run: --levels when given, else `defaults`.
  template <class T>
  std::vector<T> levels_or(std::vector<T> defaults) const {
    if (levels.empty()) return defaults;
    std::vector<T> out;
    for (double l : levels) out.push_back(static_cast<T>(l));
    return out;
  }
};

// The cores of `list` ("0-7", "0,2,4-6"). Throws std::invalid_argument naming a list it cannot read.
inline cpu_set_t cpu_set_of(const std::string& list) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::stringstream items(list);
  std::string item;
  auto core = [&](const std::string& text) {
    std::size_t used = 0;
    const int n = std::stoi(text, &used);
    if (used != text.size() || n < 0 || n >= CPU_SETSIZE) throw std::invalid_argument(text);
    return n;
  };
  try {
    while (std::getline(items, item, ',')) {
      const auto dash = item.find('-');
      const int first = core(item.substr(0, dash));
      const int last = dash == std::string::npos ? first : core(item.substr(dash + 1));
      if (last < first) throw std::invalid_argument(item);
      for (int c = first; c <= last; ++c) CPU_SET(c, &set);
    }
  } catch (const std::logic_error&) {
    throw std::invalid_argument("a CPU list is cores and ranges such as 0-7 or 0,2,4-6, not \"" + list + "\"");
  }
  return set;
}

// Runs the calling thread, and every thread and process it starts after, on the cores of `list`; empty: leaves it
// be. Throws std::invalid_argument naming a list it cannot read or the kernel refuses.
inline void pin_to_cpus(const std::string& list) {
  if (list.empty()) return;
  const cpu_set_t set = cpu_set_of(list);
  if (::sched_setaffinity(0, sizeof set, &set) != 0)
    throw std::invalid_argument("cannot run on cores " + list + ": " + std::strerror(errno) +
                                " (nproc lists the cores this host lets the program use)");
}

inline void usage(const char* program) {
  std::cerr
      << "usage: " << program
      << " [--out DIR] [--seconds S] [--levels A,B,..] [--no-references] [--wrk-threads N] [--repeat N]"
         " [--no-asyncio] [--python PATH]"
         " [--asyncio-client FILE] [--server-process] [--server-nice N] [--server-cpus LIST]"
         " [--client-cpus LIST] [--transport threads|event-loop] [--loop-threads N] [--no-records]"
         " [--no-kernel-timestamps] [--target-server bench_target|nginx] [--nginx PATH]\n"
         "  --repeat N: bench_client_overhead also runs N servebench/wrk pairs a level, one after the other,\n"
         "  and gives their median ratio (a shared host's rate moves between runs more than one pair can tell)\n"
         "  LIST: cores as taskset -c takes them (0-7 or 0,2,4-6); --server-cpus runs the target server's\n"
         "  process there, --client-cpus this program: client and server on cores of their own, as on two hosts\n"
         "  --no-records: servebench keeps no record a request (ClosedLoop::keep_records(false)): its summary comes\n"
         "  from the level's histograms, as wrk's does\n"
         "  --no-kernel-timestamps: the event loop times arriving bytes when recv() returns, not by the kernel's\n"
         "  receive time\n"
         "  --target-server nginx: bench_open_loop sends to nginx (an event-loop server, Debian's nginx-light)\n"
         "  answering with bench_target's reply, not to bench_target (thread per connection); --nginx PATH: which\n"
         "  nginx to run\n";
}

// The cores the target servers (TargetProcess) run on; empty: wherever this program may (parse_options sets it).
inline std::string& target_cpus() {
  static std::string cpus;
  return cpus;
}

inline Options parse_options(int argc, char** argv) {
  Options o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--help" || a == "-h") {
        usage(argv[0]);
        std::exit(0);
      } else if (a == "--out")
        o.out_dir = value();
      else if (a == "--python")
        o.python = value();
      else if (a == "--asyncio-client")
        o.asyncio_client = value();
      else if (a == "--seconds")
        o.seconds = std::stod(value());
      else if (a == "--no-references")
        o.references = false;
      else if (a == "--wrk-threads")
        o.wrk_threads = std::stoi(value());
      else if (a == "--repeat") {
        o.repeat = std::stoi(value());
        if (o.repeat < 1) throw std::invalid_argument("--repeat needs a count of at least 1");
      } else if (a == "--no-asyncio")
        o.asyncio = false;
      else if (a == "--server-process")
        o.server_process = true;
      else if (a == "--server-nice")
        o.server_nice = std::stoi(value());
      else if (a == "--server-cpus")
        o.server_cpus = value();
      else if (a == "--client-cpus")
        o.client_cpus = value();
      else if (a == "--transport") {
        o.transport = value();
        if (o.transport != "threads" && o.transport != "event-loop")
          throw std::invalid_argument("--transport is threads or event-loop, not " + o.transport);
      } else if (a == "--loop-threads")
        o.loop_threads = static_cast<std::size_t>(std::stoul(value()));
      else if (a == "--no-records")
        o.keep_records = false;
      else if (a == "--no-kernel-timestamps")
        o.kernel_timestamps = false;
      else if (a == "--target-server") {
        o.target_server = value();
        if (o.target_server != "bench_target" && o.target_server != "nginx")
          throw std::invalid_argument("--target-server is bench_target or nginx, not " + o.target_server);
      } else if (a == "--nginx")
        o.nginx = value();
      else if (a == "--levels") {
        std::stringstream list(value());
        std::string item;
        while (std::getline(list, item, ',')) o.levels.push_back(std::stod(item));
      } else {
        usage(argv[0]);
        std::exit(2);
      }
    }
    pin_to_cpus(o.client_cpus);
    cpu_set_of(o.server_cpus);  // read now, so that a bad list is named before anything runs
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    usage(argv[0]);
    std::exit(2);
  }
  target_cpus() = o.server_cpus;
  return o;
}

// Thousands of connections need thousands of descriptors; the soft limit is often 1024.
inline void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

inline double seconds_of(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
}

// User + system CPU seconds of this process (all threads).
inline double cpu_seconds_self() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return seconds_of(u.ru_utime) + seconds_of(u.ru_stime);
}

// Resident set size of this process, KiB (VmRSS).
// A number field of /proc/self/status ("VmRSS:", "Threads:"); -1 when absent.
inline long status_field(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name, 0) == 0) return std::atol(line.c_str() + name.size());
  return -1;
}

inline long rss_kib() { return status_field("VmRSS:"); }
inline long thread_count() { return status_field("Threads:"); }

inline std::string self_directory() {
  char buffer[4096];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0) return ".";
  std::string path(buffer, static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/'));
}

namespace detail {
inline pid_t spawn(const std::vector<std::string>& argv, int& out_fd, bool merge_stderr) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    if (merge_stderr) dup2(pipe_fds[1], 2);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(pipe_fds[1]);
  out_fd = pipe_fds[0];
  return pid;
}
}  // namespace detail

// User + system CPU seconds process `pid` has used so far (/proc/<pid>/stat), -1 when unreadable.
inline double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15: utime, stime (clock ticks)
    if (i == 14) utime = std::atof(field.c_str());
    if (i == 15) stime = std::atof(field.c_str());
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Starts `argv` on target_cpus(): a child inherits the mask of the thread that starts it, so this thread takes the
// server's cores for the spawn and gives them back after.
inline pid_t spawn_on_target_cpus(const std::vector<std::string>& argv, int& out_fd, bool merge_stderr) {
  cpu_set_t own;
  const bool pinned = !target_cpus().empty() && ::sched_getaffinity(0, sizeof own, &own) == 0;
  if (pinned) pin_to_cpus(target_cpus());
  const pid_t pid = detail::spawn(argv, out_fd, merge_stderr);
  if (pinned) ::sched_setaffinity(0, sizeof own, &own);
  return pid;
}

// The trivial target server (bench_target) in its own process, so its CPU never counts as the client's.
class TargetProcess {
 public:
  // `program` (beside this one) with `args`; it prints "port <n>" once it listens and serves until killed.
  explicit TargetProcess(std::vector<std::string> args, const std::string& program = "bench_target") {
    args.insert(args.begin(), self_directory() + "/" + program);
    pid_ = spawn_on_target_cpus(args, fd_, false);
    std::string line;
    char c;
    while (read(fd_, &c, 1) == 1 && c != '\n') line += c;
    if (line.rfind("port ", 0) != 0) throw std::runtime_error(program + " did not start: '" + line + "'");
    port_ = std::atoi(line.c_str() + 5);
  }
  // User + system CPU seconds the server has used so far, -1 when unreadable.
  double cpu_seconds() const { return process_cpu_seconds(pid_); }
  ~TargetProcess() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    close(fd_);
  }
  TargetProcess(const TargetProcess&) = delete;
  TargetProcess& operator=(const TargetProcess&) = delete;
  int port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  int port_ = 0;
};

// nginx — Debian's nginx-light, an event-loop server we did not write — in its own processes (a master and
// `workers` workers, 0: one per core it may run on, on target_cpus() when set), answering POST /v1/completions at
// once with bench_target's reply (completion_body()). For open-loop rates where bench_target, thread per connection,
// is the limit (docs/performance.md). It listens with `reuseport` (a socket per worker: the kernel spreads the
// connections over them; with one shared socket a few workers take most). Its configuration and error log live in
// a temporary directory removed after.
class NginxProcess {
 public:
  NginxProcess(const std::string& program, int workers) {
    std::string dir_template = (std::filesystem::temp_directory_path() / "servebench-nginx-XXXXXX").string();
    if (!mkdtemp(dir_template.data())) throw std::runtime_error("cannot make a directory for nginx's files");
    dir_ = dir_template;
    try {
      start(program, workers);
    } catch (...) {
      stop();  // a constructor that throws runs no destructor
      throw;
    }
  }
  ~NginxProcess() { stop(); }
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  // User + system CPU seconds of the master and its workers so far.
  double cpu_seconds() const {
    double total = process_cpu_seconds(pid_);
    for (pid_t w : children()) total += std::max(0.0, process_cpu_seconds(w));
    return total;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void start(const std::string& program, int workers) {
    port_ = free_port();
    {
      std::ofstream conf(dir_ + "/nginx.conf");
      conf << "daemon off;\nmaster_process on;\nworker_processes " << (workers > 0 ? std::to_string(workers) : "auto")
           << ";\npid " << dir_ << "/nginx.pid;\nerror_log " << dir_ << "/error.log warn;\n"
           << "events { worker_connections 65536; }\n"
           << "http {\n  access_log off;\n  client_body_temp_path " << dir_ << "/body;\n"
           << "  keepalive_requests 1000000000;\n  keepalive_timeout 60s;\n  tcp_nodelay on;\n"
           << "  server {\n    listen 127.0.0.1:" << port_ << " backlog=4096 reuseport;\n"
           << "    location = /v1/completions {\n      default_type application/json;\n      return 200 '"
           << completion_body() << "';\n    }\n  }\n}\n";
      if (!conf) throw std::runtime_error("cannot write " + dir_ + "/nginx.conf");
    }
    pid_ = spawn_on_target_cpus({program, "-p", dir_, "-e", dir_ + "/error.log", "-c", dir_ + "/nginx.conf"}, fd_,
                                true);
    // Ready once it accepts a connection; an nginx that exits says why in its log.
    for (int attempt = 0;; ++attempt) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error(program + " exited before listening: " + read_log() +
                                 " (Debian: apt-get install nginx-light; --nginx PATH names another)");
      }
      if (accepts()) break;
      if (attempt == 500) throw std::runtime_error(program + " is not listening on " + url() + " after 5 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  void stop() {
    if (pid_ > 0) {
      const std::vector<pid_t> workers = children();
      kill(pid_, SIGTERM);  // the master stops its workers
      int status = 0;
      for (int i = 0; i < 300 && waitpid(pid_, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        for (pid_t w : workers) kill(w, SIGKILL);
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
      pid_ = -1;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    const bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    if (fd >= 0) close(fd);
    if (!ok) throw std::runtime_error(std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(errno));
    return ntohs(addr.sin_port);
  }
  bool accepts() const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    const bool ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (fd >= 0) close(fd);
    return ok;
  }
  std::vector<pid_t> children() const {
    std::vector<pid_t> out;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children");
    for (pid_t p; in >> p;) out.push_back(p);
    return out;
  }
  std::string read_log() const {
    std::ifstream in(dir_ + "/error.log");
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd_, buffer, sizeof buffer)) > 0) log.append(buffer, static_cast<std::size_t>(n));
    while (!log.empty() && log.back() == '\n') log.pop_back();
    return log.empty() ? "no message" : log;
  }

  std::string dir_;
  pid_t pid_ = -1;
  int fd_ = -1;
  int port_ = 0;
};

struct ProcessResult {
  int exit_code = -1;
  std::string output;
  double cpu_s = 0;  // user + system of that process alone (wait4)
};

inline ProcessResult run_process(const std::vector<std::string>& argv) {
  int fd = -1;
  const pid_t pid = detail::spawn(argv, fd, true);
  ProcessResult r;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) r.output.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  int status = 0;
  rusage u{};
  wait4(pid, &status, 0, &u);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.cpu_s = seconds_of(u.ru_utime) + seconds_of(u.ru_stime);
  return r;
}

// One reference measurement: requests (or events) per second and CPU per unit.
struct Reference {
  double per_s = 0;              // requests/s (or events/s)
  double cpu_us_per = 0;         // client CPU microseconds per request (or event)
  double steady_cpu_us_per = 0;  // the same between 20% and 80% of the run (servebench)
  double units = 0;              // requests (or events) done
  int threads = 0;               // client threads, where the reference chooses them (wrk -t)
  bool ok = false;
  std::string note;
};

inline void to_json(nlohmann::json& j, const Reference& r) {
  j = {{"per_s", r.per_s}, {"cpu_us_per", r.cpu_us_per}, {"units", r.units}, {"ok", r.ok}, {"note", r.note}};
  if (r.threads > 0) j["threads"] = r.threads;
  if (r.steady_cpu_us_per > 0) j["steady_cpu_us_per"] = r.steady_cpu_us_per;
}

inline std::string number_after(const std::string& text, const std::string& key) {
  const auto at = text.find(key);
  if (at == std::string::npos) return {};
  std::istringstream in(text.substr(at + key.size()));
  std::string token;
  in >> token;
  return token;
}

// wrk, POSTing `body` with keep-alive connections. wrk counts every reply; a non-2xx count makes the point invalid.
inline Reference run_wrk(const Options& o, const std::string& url, int connections, const std::string& body) {
  const std::string script = o.out_dir + "/wrk_post.lua";
  {
    servebench::detail::make_parent_directories(script);
    std::ofstream lua(script);
    lua << "wrk.method = \"POST\"\nwrk.path = \"/v1/completions\"\nwrk.headers[\"Content-Type\"] = "
           "\"application/json\"\nwrk.body = [["
        << body << "]]\n";
  }
  // One thread per core (more only contend), never more than connections; --wrk-threads sets it.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::min(connections, o.wrk_threads > 0 ? o.wrk_threads : cores);
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.0fs", std::max(1.0, std::round(o.seconds)));
  const auto p = run_process({"wrk", "-t" + std::to_string(threads), "-c" + std::to_string(connections), "-d", duration,
                              "-s", script, url + "/v1/completions"});
  Reference r;
  const std::string rate = number_after(p.output, "Requests/sec:");
  const std::string count = number_after(p.output, "\n  ");  // "  N requests in Xs"
  const auto in_at = p.output.find(" requests in ");
  if (in_at != std::string::npos) {
    const auto start = p.output.rfind('\n', in_at);
    r.units = std::atof(p.output.substr(start + 1, in_at - start - 1).c_str());
  }
  (void)count;
  r.per_s = std::atof(rate.c_str());
  r.cpu_us_per = r.units > 0 ? p.cpu_s * 1e6 / r.units : 0;
  r.threads = threads;
  r.ok = p.exit_code == 0 && r.per_s > 0 && p.output.find("Non-2xx") == std::string::npos;
  if (!r.ok) r.note = p.output;
  return r;
}

// The Python asyncio reference client (bench/asyncio_client.py): prints one JSON object.
inline Reference run_asyncio(const Options& o, const std::string& url, int concurrency, long requests, bool stream) {
  std::vector<std::string> argv = {o.python,        o.asyncio_client,
                                   "--url",         url + "/v1/completions",
                                   "--concurrency", std::to_string(concurrency),
                                   "--requests",    std::to_string(requests)};
  if (stream) argv.push_back("--stream");
  const auto p = run_process(argv);
  Reference r;
  try {
    const auto last_brace = p.output.rfind('{');
    const auto j = nlohmann::json::parse(p.output.substr(last_brace));
    const double wall = j.at("wall_s").get<double>();
    const double units = stream ? j.at("events").get<double>() : j.at("ok").get<double>();
    r.units = units;
    r.per_s = wall > 0 ? units / wall : 0;
    // The process's own total CPU (wait4) includes interpreter start-up; the script's rusage around the run does
    // not, so the latter is what is compared.
    r.cpu_us_per = units > 0 ? j.at("cpu_s").get<double>() * 1e6 / units : 0;
    r.ok = p.exit_code == 0 && j.at("failed").get<long>() == 0;
    if (!r.ok) r.note = "failed: " + std::to_string(j.at("failed").get<long>());
  } catch (const std::exception& e) {
    r.note = std::string("cannot read asyncio client output: ") + e.what() + ": " + p.output.substr(0, 400);
  }
  return r;
}

inline std::string read_first_line(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return {};
}

inline nlohmann::json machine_info() {
  utsname u{};
  uname(&u);
  return {{"nproc", std::thread::hardware_concurrency()},
          {"cpu_model", read_first_line("/proc/cpuinfo", "model name")},
          {"kernel", std::string(u.sysname) + " " + u.release},
          {"utc", servebench::utc_now_iso8601()}};
}

inline void write_result(const Options& o, const std::string& name, nlohmann::json result) {
  result["machine"] = machine_info();
  result["transport"] = o.transport;
  if (o.server_nice) result["server_nice"] = o.server_nice;
  if (!o.server_cpus.empty()) result["server_cpus"] = o.server_cpus;
  if (!o.client_cpus.empty()) result["client_cpus"] = o.client_cpus;
  if (o.transport == "event-loop") {
    result["loop_threads"] = o.loop_threads;
    result["kernel_timestamps"] = o.kernel_timestamps;
  }
  result["keep_records"] = o.keep_records;
  const std::string path = o.out_dir + "/" + name + ".json";
  servebench::write_json_atomic(path, result);
  std::printf("wrote %s\n", path.c_str());
}

// A plain-text table: header row, then rows, columns padded to the widest cell.
inline void print_table(const std::string& title, const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::printf("\n%s\n", title.c_str());
  auto line = [&](const std::vector<std::string>& cells) {
    std::printf("|");
    for (std::size_t c = 0; c < width.size(); ++c)
      std::printf(" %*s |", static_cast<int>(width[c]), c < cells.size() ? cells[c].c_str() : "");
    std::printf("\n");
  };
  line(header);
  std::printf("|");
  for (auto w : width) std::printf("%s|", std::string(w + 2, '-').c_str());
  std::printf("\n");
  for (const auto& row : rows) line(row);
  std::fflush(stdout);
}

inline std::string fmt(double value, int decimals = 0) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// Where this process's resident memory is, from /proc/self/smaps (KiB), and what malloc holds (mallinfo2, bytes).
struct MemoryBreakdown {
  long thread_stacks_kib = 0;  // writable anonymous mappings the size of a thread stack (the pthread default; glibc
                               // maps its guard page beside it)
  long thread_stack_mappings = 0;
  long heap_kib = 0;        // [heap]: the main malloc arena
  long other_anon_kib = 0;  // the other anonymous mappings: the threads' malloc arenas, large allocations
  long files_kib = 0;       // the program, its libraries, [stack], [vdso] and the like
  long malloc_in_use = -1;  // bytes in use (uordblks + hblkhd), -1 without mallinfo2
  long malloc_free = -1;    // bytes malloc holds free in its arenas (fordblks)
  long malloc_arenas = -1;  // bytes of the arenas (arena)
};

inline void to_json(nlohmann::json& j, const MemoryBreakdown& m) {
  j = {{"thread_stacks_kib", m.thread_stacks_kib},
       {"thread_stack_mappings", m.thread_stack_mappings},
       {"heap_kib", m.heap_kib},
       {"other_anon_kib", m.other_anon_kib},
       {"files_kib", m.files_kib},
       {"malloc_in_use_bytes", m.malloc_in_use},
       {"malloc_free_bytes", m.malloc_free},
       {"malloc_arena_bytes", m.malloc_arenas}};
}

inline MemoryBreakdown memory_breakdown() {
  MemoryBreakdown m;
  std::size_t stack_bytes = 0;
  pthread_attr_t attr;
  if (pthread_getattr_default_np(&attr) == 0) {
    pthread_attr_getstacksize(&attr, &stack_bytes);
    pthread_attr_destroy(&attr);
  }
  const long stack_kib = static_cast<long>(stack_bytes / 1024);
  std::ifstream in("/proc/self/smaps");
  std::string line, path;
  long size = 0;
  bool anonymous = false, writable = false;
  while (std::getline(in, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find(' ') < line.find(':')) {
      std::istringstream fields(line);
      std::string range, perms, offset, dev, inode;
      fields >> range >> perms >> offset >> dev >> inode;
      path.clear();
      fields >> path;
      anonymous = path.empty();
      writable = perms.size() > 1 && perms[1] == 'w';
      const auto dash = range.find('-');
      size = static_cast<long>(
          (std::stoull(range.substr(dash + 1), nullptr, 16) - std::stoull(range.substr(0, dash), nullptr, 16)) / 1024);
    } else if (line.rfind("Rss:", 0) == 0) {
      const long rss = std::atol(line.c_str() + 4);
      if (path == "[heap]")
        m.heap_kib += rss;
      else if (anonymous && writable && size == stack_kib)
        m.thread_stacks_kib += rss, ++m.thread_stack_mappings;
      else if (anonymous)
        m.other_anon_kib += rss;
      else
        m.files_kib += rss;
    }
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 info = mallinfo2();
  m.malloc_in_use = static_cast<long>(info.uordblks + info.hblkhd);
  m.malloc_free = static_cast<long>(info.fordblks);
  m.malloc_arenas = static_cast<long>(info.arena);
#endif
  return m;
}

// Peak of rss_kib() (and of the thread count) sampled every few milliseconds on a thread, for as long as it lives;
// with breakdowns(true), also memory_breakdown() at the highest RSS seen (taken at most every 200 ms: it reads
// /proc/self/smaps).
// CPU over a window of a run: samples every 20 ms (on the steady clock of now_ns()) of this process's CPU seconds,
// the server's (`server_cpu`, -1 when unknown) and the whole host's busy seconds (/proc/stat: all but idle and
// iowait), so that a level's figures cover its measured phase (summary first_send to last_end), not its set-up and
// its summary.
class CpuSampler {
 public:
  struct Cores {
    double client = -1, server = -1, host = -1;  // cores in use on average over the window; -1: no samples
  };
  explicit CpuSampler(std::function<double()> server_cpu)
      : server_cpu_(std::move(server_cpu)), thread_([this] {
          while (!stop_.load()) {
            const Sample s{now_ns(), cpu_seconds_self(), server_cpu_(), host_busy_seconds()};
            {
              std::lock_guard<std::mutex> lock(mutex_);
              samples_.push_back(s);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~CpuSampler() { stop(); }
  CpuSampler(const CpuSampler&) = delete;
  CpuSampler& operator=(const CpuSampler&) = delete;
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Between the first sample at or after `from` and the last at or before `to` (after stop()).
  Cores between(Nanos from, Nanos to) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const Sample* a = nullptr;
    const Sample* b = nullptr;
    for (const auto& s : samples_) {
      if (!a && s.t >= from) a = &s;
      if (s.t <= to) b = &s;
    }
    Cores c;
    if (!a || !b || b->t <= a->t) return c;
    const double dt = ns_to_s(b->t - a->t);
    c.client = (b->client - a->client) / dt;
    if (a->server >= 0 && b->server >= 0) c.server = (b->server - a->server) / dt;
    if (a->host >= 0 && b->host >= 0) c.host = (b->host - a->host) / dt;
    return c;
  }

 private:
  struct Sample {
    Nanos t;
    double client, server, host;
  };
  static double host_busy_seconds() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    double ticks[8] = {};
    if (!(in >> cpu) || cpu != "cpu") return -1;
    for (double& t : ticks) in >> t;  // user nice system idle iowait irq softirq steal
    return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) /
           static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  std::function<double()> server_cpu_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Sample> samples_;
  std::thread thread_;
};

class RssSampler {
 public:
  explicit RssSampler(bool breakdowns = false)
      : thread_([this, breakdowns] {
          auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
          long broken_down_at = 0;
          while (!stop_.load()) {
            const long rss = rss_kib();
            peak_.store(std::max(peak_.load(), rss));
            peak_threads_.store(std::max(peak_threads_.load(), thread_count()));
            if (breakdowns && rss > broken_down_at &&
                std::chrono::steady_clock::now() - last > std::chrono::milliseconds(200)) {
              breakdown_ = memory_breakdown();
              broken_down_at = rss;
              last = std::chrono::steady_clock::now();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  ~RssSampler() { stop(); }
  long stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return peak_.load();
  }
  long peak_threads() const noexcept { return peak_threads_.load(); }
  // After stop(): the breakdown at the highest RSS sampled.
  const MemoryBreakdown& breakdown() const noexcept { return breakdown_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<long> peak_{0};
  std::atomic<long> peak_threads_{0};
  MemoryBreakdown breakdown_;
  std::thread thread_;
};

}  // namespace servebench::bench
