// servebench — files that are never half-written: atomic writes (temporary file, fsync, rename), whole-file reads,
// and the two facts every artifact starts with (UTC time, host name). Errors name the path and the fix.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace servebench {

namespace detail {

inline std::string errno_text(int error) { return std::generic_category().message(error); }

template <class = void>  // deferred: see serialize.hpp
void make_parent_directories(const std::string& path) {
  // mkdir -p of everything before the last '/'.
  for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string dir = path.substr(0, pos);
    if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create directory '" + dir + "' for '" + path + "': " + errno_text(errno) +
                               " (choose another output path, or fix its permissions)");
    struct stat info {};
    if (::stat(dir.c_str(), &info) == 0 && !S_ISDIR(info.st_mode))
      throw std::runtime_error("cannot write '" + path + "': '" + dir + "' exists and is not a directory");
  }
}

inline std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace detail

// Writes `contents` to `path` atomically: a temporary file in the same directory, written, flushed, fsync'ed, then
// renamed over `path` (and the directory fsync'ed). Readers see the old file or the new one, never a mix. Parent
// directories are created. Throws std::runtime_error naming the path and the reason.
template <class = void>  // deferred: see serialize.hpp
void write_file_atomic(const std::string& path, const std::string& contents) {
  if (path.empty()) throw std::runtime_error("cannot write a file with an empty path");
  if (path.back() == '/') throw std::runtime_error("cannot write '" + path + "': the path names a directory");
  detail::make_parent_directories(path);
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0)
    throw std::runtime_error("cannot write '" + path + "': " + detail::errno_text(errno) +
                             " (choose another output path, or fix its permissions)");
  auto fail = [&](const char* step) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (" + step + "): " + detail::errno_text(error));
  };
  const char* data = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // mkstemp creates 0600; an artifact is ordinary user data.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) fail("chmod");
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (close): " + detail::errno_text(error));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error("cannot write '" + path + "' (rename): " + detail::errno_text(error));
  }
  const int dir = ::open(detail::directory_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: makes the rename itself durable
    ::close(dir);
  }
}

template <class Json>
void write_json_atomic(const std::string& path, const Json& value, int indent = 2) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

// Reads a whole file; throws std::runtime_error naming the path and the reason.
template <class = void>  // deferred: see serialize.hpp
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "': " + detail::errno_text(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Current UTC time as ISO 8601 ("2026-11-28T22:53:56Z").
template <class = void>  // deferred: see serialize.hpp
std::string utc_now_iso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

template <class = void>  // deferred: see serialize.hpp
std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

}  // namespace servebench
