// servebench — JSON artifacts: the full record of a run (metadata, level summaries, optionally every request),
// written atomically so a crash or Ctrl-C never leaves half a file where the artifact should be.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "record.hpp"
#include "version.hpp"

namespace servebench {

// The schema name every artifact carries; the reader refuses files without it.
inline constexpr const char* artifact_schema = "servebench.artifact/1";

namespace detail {

inline std::string errno_text(int error) { return std::generic_category().message(error); }

inline void make_parent_directories(const std::string& path) {
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
inline void write_file_atomic(const std::string& path, const std::string& contents) {
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

inline void write_json_atomic(const std::string& path, const nlohmann::json& value, int indent = 2) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

// Reads a whole file; throws std::runtime_error naming the path and the reason.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "': " + detail::errno_text(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Current UTC time as ISO 8601 ("2026-11-28T22:53:56Z").
inline std::string utc_now_iso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

inline std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

struct TargetInfo {
  std::string label;  // "hf", "vllm", ...
  std::string url;
  std::string api;    // dialect name
  std::string model;
};

inline void to_json(nlohmann::json& j, const TargetInfo& t) {
  j = nlohmann::json{{"label", t.label}, {"url", t.url}, {"api", t.api}, {"model", t.model}};
}
inline void from_json(const nlohmann::json& j, TargetInfo& t) {
  j.at("label").get_to(t.label);
  t.url = j.value("url", std::string{});
  t.api = j.value("api", std::string{});
  t.model = j.value("model", std::string{});
}

struct RunMetadata {
  std::string servebench_version = SERVEBENCH_VERSION_STRING;
  std::string utc_time = utc_now_iso8601();   // when the run started
  std::string hostname = host_name();
  std::vector<std::string> command_line;
  nlohmann::json configuration = nlohmann::json::object();  // whatever the program was asked to do
  std::vector<TargetInfo> targets;
  std::optional<double> time_scale;           // set when simulated servers ran faster than real time
  std::string percentile_method = "linear";
  bool interrupted = false;                   // the run was stopped early; levels hold what completed
  std::string model;                          // for chart titles, when known
  std::string gpu;                            // for chart titles, when known
};

inline void to_json(nlohmann::json& j, const RunMetadata& m) {
  j = nlohmann::json{{"servebench_version", m.servebench_version},
                     {"utc_time", m.utc_time},
                     {"hostname", m.hostname},
                     {"command_line", m.command_line},
                     {"configuration", m.configuration},
                     {"targets", m.targets},
                     {"percentile_method", m.percentile_method},
                     {"interrupted", m.interrupted},
                     {"model", m.model},
                     {"gpu", m.gpu}};
  detail::put_optional(j, "time_scale", m.time_scale);
}
inline void from_json(const nlohmann::json& j, RunMetadata& m) {
  j.at("servebench_version").get_to(m.servebench_version);
  j.at("utc_time").get_to(m.utc_time);
  m.hostname = j.value("hostname", std::string{});
  m.command_line = j.value("command_line", std::vector<std::string>{});
  m.configuration = j.value("configuration", nlohmann::json::object());
  m.targets = j.value("targets", std::vector<TargetInfo>{});
  detail::get_optional(j, "time_scale", m.time_scale);
  m.percentile_method = j.value("percentile_method", std::string("linear"));
  m.interrupted = j.value("interrupted", false);
  m.model = j.value("model", std::string{});
  m.gpu = j.value("gpu", std::string{});
}

struct Artifact {
  RunMetadata metadata;
  std::vector<LevelResult> levels;
  nlohmann::json extra = nlohmann::json::object();  // program-specific results (e.g. single-request comparison)
};

inline nlohmann::json artifact_to_json(const Artifact& artifact, bool include_records = true) {
  nlohmann::json levels = nlohmann::json::array();
  for (const auto& level : artifact.levels) {
    nlohmann::json entry{{"summary", level.summary}};
    if (include_records) entry["records"] = level.records;
    levels.push_back(std::move(entry));
  }
  return nlohmann::json{
      {"schema", artifact_schema}, {"metadata", artifact.metadata}, {"levels", levels}, {"extra", artifact.extra}};
}

inline void to_json(nlohmann::json& j, const Artifact& artifact) { j = artifact_to_json(artifact); }
inline void from_json(const nlohmann::json& j, Artifact& artifact) {
  j.at("metadata").get_to(artifact.metadata);
  j.at("levels").get_to(artifact.levels);
  artifact.extra = j.value("extra", nlohmann::json::object());
}

inline void write_artifact(const std::string& path, const Artifact& artifact, bool include_records = true) {
  write_json_atomic(path, artifact_to_json(artifact, include_records));
}

namespace detail {

// Keys whose values servebench reads into integer types (RequestRecord, LevelSummary, Summary). nlohmann's get<>()
// converts a float to an integer with a plain cast: 1e30 or -5.0 into an unsigned count is undefined behaviour, so
// such a file must be refused before conversion (found by fuzzing). Keep this list in step with record.hpp and
// stats.hpp; the artifact fuzz target (tests/fuzz/fuzz_artifact.cpp) finds a missed one under UBSan.
inline bool is_integer_field(const std::string& key) {
  static const char* const keys[] = {"index",  "t_sched",     "t_send",    "t_first_token", "t_end",
                                     "n_in",   "n_out",       "http_status", "server_first_token", "server_end",
                                     "sent",   "successful",  "failed",    "interrupted",   "total_output_tokens",
                                     "count",  "event_times", "failed_by_kind"};
  for (const char* k : keys)
    if (key == k) return true;
  return false;
}

// The JSON pointer of the first float stored where an integer belongs, or "" when there is none. Free-form parts
// (metadata.configuration, extra) are the program's own and are not checked. Every integer field lies within 8
// levels of the root (/levels/0/records/0/event_times/0 is 5 deep), so deeper nesting is not walked: a hostile file
// nested a million deep must not overflow the stack here.
inline std::string find_float_in_integer_field(const nlohmann::json& j, const std::string& pointer,
                                               bool integer_context = false, int depth = 0) {
  if (j.is_number_float()) return integer_context ? pointer : std::string{};
  if (depth >= 8) return {};
  if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      auto found = find_float_in_integer_field(j[i], pointer + "/" + std::to_string(i), integer_context, depth + 1);
      if (!found.empty()) return found;
    }
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (pointer.empty() && it.key() == "extra") continue;
      if (pointer == "/metadata" && it.key() == "configuration") continue;
      auto found = find_float_in_integer_field(it.value(), pointer + "/" + it.key(),
                                               integer_context || is_integer_field(it.key()), depth + 1);
      if (!found.empty()) return found;
    }
  }
  return {};
}

}  // namespace detail

// Parses an artifact from text; `origin` names it in errors. Throws std::runtime_error that says what is wrong.
inline Artifact parse_artifact(const std::string& text, const std::string& origin = "artifact") {
  nlohmann::json j;
  // Copying and printing a json value recurse once per nesting level, so a hostile file nested a hundred thousand
  // deep would overflow the stack after parsing; no artifact comes near this depth.
  constexpr int max_depth = 256;
  const nlohmann::json::parser_callback_t limit_depth = [](int depth, nlohmann::json::parse_event_t,
                                                           nlohmann::json&) {
    if (depth > max_depth)
      throw std::runtime_error("nested deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
  try {
    j = nlohmann::json::parse(text, limit_depth);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("'" + origin + "' is not a servebench artifact: " + e.what());
  } catch (const nlohmann::json::exception& e) {
    // Not only parse_error: a number too large for a double (1e400) is out_of_range (found by fuzzing).
    throw std::runtime_error("'" + origin + "' is not valid JSON (truncated or not an artifact?): " + e.what());
  }
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string())
    throw std::runtime_error("'" + origin + "' is not a servebench artifact (no \"schema\" field; expected \"" +
                             artifact_schema + "\")");
  if (j["schema"].get<std::string>() != artifact_schema)
    throw std::runtime_error("'" + origin + "' has schema \"" + j["schema"].get<std::string>() +
                             "\"; this servebench reads \"" + artifact_schema + "\"");
  const std::string misplaced_float = detail::find_float_in_integer_field(j, "");
  if (!misplaced_float.empty())
    throw std::runtime_error("'" + origin + "' is a damaged servebench artifact: " + misplaced_float +
                             " must be an integer");
  try {
    return j.get<Artifact>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + origin + "' is a damaged servebench artifact: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("'" + origin + "' is a damaged servebench artifact: " + e.what());
  }
}

inline Artifact read_artifact(const std::string& path) { return parse_artifact(read_file(path), path); }

}  // namespace servebench
