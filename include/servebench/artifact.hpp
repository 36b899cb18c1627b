// servebench — JSON artifacts: the whole record of a run (metadata, every level as the scheduler returned it,
// optionally every request), written atomically so a crash or Ctrl-C never leaves half a file where the artifact
// should be. What a run knows reaches the file without the program copying it: each level carries its target, its
// settings and how it went; the targets, the percentile methods and `interrupted` of the run are derived from the
// levels when written, never set by hand; so are the intervals across repetitions ("repetitions", see
// repetitions.hpp) when the levels came from a repeated sweep. Artifacts of schema 1 (servebench 0.1) still read.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "files.hpp"
#include "repetitions.hpp"
#include "result.hpp"
#include "serialize.hpp"
#include "version.hpp"

namespace servebench {

// The schema every artifact names; the reader refuses any other (older ones it knows are upgraded on reading).
inline constexpr const char* artifact_schema = "servebench.artifact/2";
inline constexpr const char* artifact_schema_v1 = "servebench.artifact/1";

// One instant read on both clocks: record timestamps are steady-clock nanoseconds of the process that made them, so
// `t - steady_ns + system_ns` puts them on the wall clock (UTC nanoseconds since 1970), where the records of several
// processes or hosts line up (as well as their clocks agree: NTP keeps hosts within milliseconds).
struct WallAnchor {
  std::int64_t system_ns = 0;  // std::chrono::system_clock, nanoseconds since 1970-01-01 UTC
  Nanos steady_ns = 0;         // now_ns() at the same instant

  static WallAnchor now() {
    WallAnchor a;
    a.steady_ns = now_ns();
    a.system_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    return a;
  }
  // A steady timestamp of this process on the wall clock.
  std::int64_t to_wall(Nanos steady) const noexcept { return steady - steady_ns + system_ns; }
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const WallAnchor*) {
  return field_list<Deferred>(required("system_ns", &WallAnchor::system_ns),
                              required("steady_ns", &WallAnchor::steady_ns));
}

struct RunMetadata {
  std::string servebench_version = SERVEBENCH_VERSION_STRING;
  std::string utc_time = utc_now_iso8601();  // when the run started
  std::string hostname = host_name();
  std::vector<std::string> command_line;
  // anything else the program wants to keep
  nlohmann::json configuration = nlohmann::json(nlohmann::json::value_t::object);
  std::optional<double> time_scale;                           // set when simulated servers ran faster than real time
  std::string model;                                          // for titles, when known
  std::string gpu;                                            // for titles, when known
  std::optional<WallAnchor> wall_anchor = WallAnchor::now();  // absent in artifacts written before it existed
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const RunMetadata*) {
  using M = RunMetadata;
  return field_list<Deferred>(required("servebench_version", &M::servebench_version),
                              required("utc_time", &M::utc_time), field("hostname", &M::hostname),
                              field("command_line", &M::command_line), field("configuration", &M::configuration),
                              field("time_scale", &M::time_scale), field("model", &M::model), field("gpu", &M::gpu),
                              field("wall_anchor", &M::wall_anchor));
}

struct Artifact {
  RunMetadata metadata;
  std::vector<LevelResult> levels;
  // program-specific results (e.g. a single-request comparison)
  nlohmann::json extra = nlohmann::json(nlohmann::json::value_t::object);

  // True when any level was interrupted: the run stopped early and the levels hold what completed.
  bool interrupted() const noexcept {
    for (const auto& l : levels)
      if (l.interrupted) return true;
    return false;
  }
  // Every target of the run, once each, in order of first appearance.
  template <class = void>  // deferred: see serialize.hpp
  std::vector<TargetInfo> targets() const {
    std::vector<TargetInfo> out;
    for (const auto& label : target_labels(levels))
      for (const auto& l : levels)
        if (l.target.label == label) {
          out.push_back(l.target);
          break;
        }
    return out;
  }
};

// The artifact as JSON. Without records the file holds the summaries only (much smaller for long runs).
template <class Json = nlohmann::json>  // deferred (the body depends on Json): see serialize.hpp
Json artifact_to_json(const Artifact& artifact, bool include_records = true) {
  Json metadata = artifact.metadata;
  metadata["targets"] = artifact.targets();
  metadata["interrupted"] = artifact.interrupted();
  Json levels = Json::array();
  for (const auto& level : artifact.levels) {
    Json entry = level;
    if (!include_records) entry.erase("records");
    levels.push_back(std::move(entry));
  }
  Json j{{"schema", artifact_schema}, {"metadata", metadata}, {"levels", levels}, {"extra", artifact.extra}};
  if (has_repetitions(artifact.levels)) j["repetitions"] = repeated_levels(artifact.levels);
  return j;
}

template <class = void>  // deferred: see serialize.hpp
void write_artifact(const std::string& path, const Artifact& artifact, bool include_records = true) {
  write_json_atomic(path, artifact_to_json(artifact, include_records));
}

namespace detail {

// Rewrites a schema-1 artifact into schema 2's shape: levels carried only their summary, records and the run's
// flags; targets and the percentile method were run-wide metadata; ground truth was two record fields.
template <class Json>
void upgrade_artifact_v1(Json& j) {
  auto& metadata = j.at("metadata");
  if (!metadata.is_object()) throw std::invalid_argument("metadata must be an object");
  const Json targets = metadata.value("targets", Json::array());
  const Json method = metadata.value("percentile_method", Json("linear"));
  for (const char* gone : {"targets", "percentile_method", "interrupted"}) metadata.erase(gone);
  auto& levels = j.at("levels");
  if (!levels.is_array()) throw std::invalid_argument("levels must be a list");
  for (auto& level : levels) {
    if (!level.is_object() || !level.contains("summary") || !level["summary"].is_object()) continue;
    const auto& summary = level["summary"];
    // Built key by key: built from initializer lists here, LeakSanitizer reported the object leaked (nlohmann
    // 3.11.2; a reduced copy of the code did not leak, so the cause is not pinned down).
    Json target = Json::object();
    target["label"] = summary.value("target", Json(""));
    if (targets.is_array())
      for (const auto& t : targets)
        if (t.is_object() && t.value("label", Json()) == target["label"]) {
          target["url"] = t.value("url", Json(""));
          target["dialect"] = t.value("api", Json(""));
          target["model"] = t.value("model", Json(""));
        }
    const Json mode = level.value("mode", Json("closed_loop"));
    Json config = Json::object();
    config["mode"] = mode.is_string() && !mode.template get<std::string>().empty() ? mode : Json("closed_loop");
    config["percentile_method"] = method;
    const Json value = summary.value("level", Json(0));
    if (config["mode"] == "open_loop")
      config["rate"] = value;
    else if (value.is_number() && value.template get<double>() >= 0 &&
             value.template get<double>() < 1e12)  // never cast 1e30
      config["concurrency"] = static_cast<std::int64_t>(value.template get<double>());
    level["target"] = target;
    level["config"] = config;
    level.erase("mode");
    if (auto records = level.find("records"); records != level.end() && records->is_array())
      for (auto& r : *records) {
        if (!r.is_object()) continue;
        const auto first = r.find("server_first_token"), last = r.find("server_end");
        if (first != r.end() && last != r.end() && first->is_number_integer() && last->is_number_integer() &&
            (first->template get<std::int64_t>() != 0 || last->template get<std::int64_t>() != 0)) {
          Json timing = Json::object();
          timing["first_token"] = *first;
          timing["last_token"] = *last;
          r["server_timing"] = timing;
        }
        r.erase("server_first_token");
        r.erase("server_end");
      }
  }
}

}  // namespace detail

// Parses an artifact from text; `origin` names it in errors. Throws std::runtime_error that says what is wrong and
// where ("'run.json' is a damaged servebench artifact: levels/0/records/3/t_send: must be an integer").
template <class Json = nlohmann::json>  // deferred (the body depends on Json): see serialize.hpp
Artifact parse_artifact(const std::string& text, const std::string& origin = "artifact") {
  Json j;
  // Copying and printing a json value recurse once per nesting level, so a hostile file nested a hundred thousand
  // deep would overflow the stack after parsing; no artifact comes near this depth.
  constexpr int max_depth = 256;
  const typename Json::parser_callback_t limit_depth = [](int depth, typename Json::parse_event_t, Json&) {
    if (depth > max_depth) throw std::runtime_error("nested deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
  try {
    j = Json::parse(text, limit_depth);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("'" + origin + "' is not a servebench artifact: " + e.what());
  } catch (const typename Json::exception& e) {
    // Not only parse_error: a number too large for a double (1e400) is out_of_range (found by fuzzing).
    throw std::runtime_error("'" + origin + "' is not valid JSON (truncated or not an artifact?): " + e.what());
  }
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string())
    throw std::runtime_error("'" + origin + "' is not a servebench artifact (no \"schema\" field; expected \"" +
                             artifact_schema + "\")");
  const std::string schema = j["schema"].template get<std::string>();
  if (schema != artifact_schema && schema != artifact_schema_v1)
    throw std::runtime_error("'" + origin + "' has schema \"" + schema + "\"; this servebench (" +
                             SERVEBENCH_VERSION_STRING + ") reads \"" + artifact_schema + "\" and \"" +
                             artifact_schema_v1 + "\" (a newer servebench wrote it? upgrade to read it)");
  try {
    if (!j.contains("metadata") || !j.contains("levels")) throw std::invalid_argument("needs metadata and levels");
    if (schema == artifact_schema_v1) detail::upgrade_artifact_v1(j);
    Artifact artifact;
    detail::at_key("metadata", [&] { detail::read_value(j["metadata"], artifact.metadata); });
    if (!j["metadata"].contains("wall_anchor")) artifact.metadata.wall_anchor.reset();  // not the reading's time
    detail::at_key("levels", [&] { detail::read_value(j["levels"], artifact.levels); });
    if (const auto extra = j.find("extra"); extra != j.end()) artifact.extra = *extra;
    return artifact;
  } catch (const std::exception& e) {
    throw std::runtime_error("'" + origin + "' is a damaged servebench artifact: " + e.what());
  }
}

template <class = void>  // deferred: see serialize.hpp
Artifact read_artifact(const std::string& path) {
  return parse_artifact(read_file(path), path);
}

}  // namespace servebench
