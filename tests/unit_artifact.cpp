#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include <servebench/artifact.hpp>
#include <servebench/driver.hpp>

namespace {
// A fresh directory under the build tree's temp area for each test.
std::string fresh_directory() {
  std::string pattern = "/tmp/servebench-artifact-XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

servebench::Artifact sample_artifact() {
  servebench::Artifact a;
  a.metadata.command_line = {"lab2_3_concurrent", "--concurrency", "1,5"};
  a.metadata.configuration = {{"max_tokens", 50}};
  a.metadata.time_scale = 20.0;
  servebench::RequestRecord r;
  r.target = "hf";
  r.t_send = 10;
  r.t_first_token = r.t_end = 1000000010;
  r.n_out = 50;
  servebench::LevelResult level;
  level.target = {"hf", "http://127.0.0.1:8001", "hf_simple", "llama"};
  level.config.concurrency = 1;
  level.summary = servebench::summarize({r});
  level.summary.level = 1;
  level.records = {r};
  a.levels.push_back(level);
  a.extra = {{"note", "kept"}};
  return a;
}
}  // namespace

TEST_CASE("an artifact survives a write and a read") {
  const auto dir = fresh_directory();
  const auto path = dir + "/nested/deeper/run.json";  // parent directories are created
  servebench::write_artifact(path, sample_artifact());
  const auto back = servebench::read_artifact(path);
  CHECK(back.metadata.servebench_version == SERVEBENCH_VERSION_STRING);
  CHECK(back.metadata.command_line.size() == 3);
  CHECK(back.targets().at(0).url == "http://127.0.0.1:8001");
  CHECK(back.levels.at(0).target.dialect == "hf_simple");
  CHECK_FALSE(back.interrupted());
  CHECK(back.metadata.time_scale == 20.0);
  CHECK(back.metadata.utc_time.size() == 20);
  CHECK(back.metadata.utc_time.back() == 'Z');
  REQUIRE(back.levels.size() == 1);
  CHECK(back.levels[0].summary.level == 1);
  CHECK(back.levels[0].records.at(0).n_out == 50);
  CHECK(back.extra["note"] == "kept");

  SUBCASE("the wall-clock anchor puts steady timestamps on UTC") {
    REQUIRE(back.metadata.wall_anchor);
    const auto& anchor = *back.metadata.wall_anchor;
    CHECK(anchor.system_ns > 1'700'000'000'000'000'000);  // after 2023
    CHECK(anchor.to_wall(anchor.steady_ns) == anchor.system_ns);
    CHECK(anchor.to_wall(anchor.steady_ns + 5) == anchor.system_ns + 5);
    const auto written = sample_artifact();
    servebench::write_artifact(dir + "/anchor.json", written);
    const auto read = servebench::read_artifact(dir + "/anchor.json").metadata.wall_anchor;
    REQUIRE(read);
    CHECK(read->system_ns == written.metadata.wall_anchor->system_ns);
    CHECK(read->steady_ns == written.metadata.wall_anchor->steady_ns);
  }

  SUBCASE("without records the summaries remain") {
    servebench::write_artifact(path, sample_artifact(), false);
    const auto lean = servebench::read_artifact(path);
    CHECK(lean.levels.at(0).records.empty());
    CHECK(lean.levels.at(0).summary.successful == 1);
  }
}

TEST_CASE("an atomic write leaves no temporary file and replaces the old content whole") {
  const auto dir = fresh_directory();
  const auto path = dir + "/out.json";
  servebench::write_file_atomic(path, "old");
  servebench::write_file_atomic(path, "new content");
  CHECK(servebench::read_file(path) == "new content");
  int entries = 0;
  for (const auto& name : {std::string("/out.json")}) entries += ::access((dir + name).c_str(), F_OK) == 0;
  CHECK(entries == 1);
  // Nothing else in the directory: the temporary file was renamed, not left behind.
  CHECK(std::system(("test $(ls -A '" + dir + "' | wc -l) -eq 1").c_str()) == 0);
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0044) != 0);  // readable by others like any file the user writes, not mkstemp's 0600
}

TEST_CASE("an unwritable path is an error naming the path and the reason") {
  const auto dir = fresh_directory();
  SUBCASE("parent is a file") {
    servebench::write_file_atomic(dir + "/file", "x");
    CHECK_THROWS_WITH_AS(servebench::write_file_atomic(dir + "/file/out.json", "x"),
                         doctest::Contains((dir + "/file").c_str()), std::runtime_error);
  }
  SUBCASE("directory without write permission") {
    if (::geteuid() == 0) {
      // root ignores permission bits; a path under /proc cannot be created by anyone.
      CHECK_THROWS_WITH_AS(servebench::write_file_atomic("/proc/servebench/out.json", "x"),
                           doctest::Contains("/proc/servebench"), std::runtime_error);
    } else {
      ::chmod(dir.c_str(), 0500);
      CHECK_THROWS_WITH_AS(servebench::write_file_atomic(dir + "/out.json", "x"), doctest::Contains("Permission"),
                           std::runtime_error);
      ::chmod(dir.c_str(), 0700);
    }
  }
  SUBCASE("a path naming a directory") {
    CHECK_THROWS_AS(servebench::write_file_atomic(dir + "/", "x"), std::runtime_error);
  }
}

TEST_CASE("a truncated or foreign JSON file gives a clear error") {
  const auto dir = fresh_directory();
  const auto path = dir + "/a.json";
  servebench::write_artifact(path, sample_artifact());
  const auto whole = servebench::read_file(path);
  SUBCASE("truncated") {
    servebench::write_file_atomic(path, whole.substr(0, whole.size() / 2));
    CHECK_THROWS_WITH_AS(servebench::read_artifact(path), doctest::Contains("not valid JSON"), std::runtime_error);
  }
  SUBCASE("foreign: the lab's concurrent_benchmark.json") {
    servebench::write_file_atomic(path, R"({"1": {"hf": {"total_time": 3.2}}})");
    CHECK_THROWS_WITH_AS(servebench::read_artifact(path), doctest::Contains("not a servebench artifact"),
                         std::runtime_error);
  }
  SUBCASE("a newer schema") {
    auto j = nlohmann::json::parse(whole);
    j["schema"] = "servebench.artifact/99";
    servebench::write_json_atomic(path, j);
    CHECK_THROWS_WITH_AS(servebench::read_artifact(path), doctest::Contains("servebench.artifact/99"),
                         std::runtime_error);
  }
  SUBCASE("damaged fields") {
    auto j = nlohmann::json::parse(whole);
    j["levels"][0]["summary"].erase("sent");
    servebench::write_json_atomic(path, j);
    CHECK_THROWS_WITH_AS(servebench::read_artifact(path), doctest::Contains("damaged"), std::runtime_error);
  }
  SUBCASE("missing file") {
    CHECK_THROWS_WITH_AS(servebench::read_artifact(dir + "/absent.json"), doctest::Contains("absent.json"),
                         std::runtime_error);
  }
}

// Found by fuzzing (tests/fuzz/fuzz_artifact.cpp): a number beyond a double's range (2.002251e308) made nlohmann
// throw out_of_range, which escaped parse_artifact's parse_error handler and terminated the program; a float where
// an integer belongs (an index of 1e30, a count of -5.0) was converted with undefined behaviour.
TEST_CASE("numbers out of range, floats in integer fields and absurd nesting are clear errors") {
  const auto whole = servebench::artifact_to_json(sample_artifact()).dump();
  SUBCASE("a number too large for a double") {
    auto text = whole;
    text.replace(text.find("\"wall_s\":") + 9, 0, "2.002251e308,\"x\":");
    CHECK_THROWS_WITH_AS(servebench::parse_artifact(text), doctest::Contains("not valid JSON"), std::runtime_error);
  }
  SUBCASE("a float in an integer field, anywhere in the schema") {
    for (const char* field : {"index", "t_send", "n_out", "http_status"}) {
      CAPTURE(field);
      auto j = nlohmann::json::parse(whole);
      j["levels"][0]["records"][0][field] = 1e30;
      const std::string expected = std::string("levels/0/records/0/") + field + ": must be an integer";
      CHECK_THROWS_WITH_AS(servebench::parse_artifact(j.dump()), doctest::Contains(expected.c_str()),
                           std::runtime_error);
    }
    auto j = nlohmann::json::parse(whole);
    j["levels"][0]["summary"]["sent"] = -5.0;
    CHECK_THROWS_WITH_AS(servebench::parse_artifact(j.dump()),
                         doctest::Contains("levels/0/summary/sent: must be an integer"), std::runtime_error);
    j["levels"][0]["summary"]["sent"] = -5;
    CHECK_THROWS_WITH_AS(servebench::parse_artifact(j.dump()),
                         doctest::Contains("levels/0/summary/sent: must not be negative"), std::runtime_error);
  }
  SUBCASE("floats in the program's own configuration and extra are left alone") {
    auto j = nlohmann::json::parse(whole);
    j["metadata"]["configuration"]["count"] = 1e30;
    j["extra"]["index"] = -2.5;
    CHECK(servebench::parse_artifact(j.dump()).metadata.configuration["count"].get<double>() == 1e30);
  }
  SUBCASE("nesting deeper than any artifact") {
    auto j = nlohmann::json::parse(whole);
    j["extra"] = nlohmann::json::parse(std::string(300, '[') + std::string(300, ']'));
    CHECK_THROWS_WITH_AS(servebench::parse_artifact(j.dump()), doctest::Contains("nested deeper than 256"),
                         std::runtime_error);
  }
}

TEST_CASE("the run's targets, percentile method and interrupted flag are derived from the levels when written") {
  auto a = sample_artifact();
  auto second = a.levels[0];
  second.target.label = "vllm";
  second.interrupted = true;
  a.levels.push_back(second);
  const auto j = servebench::artifact_to_json(a);
  CHECK(j["schema"] == servebench::artifact_schema);
  CHECK(j["metadata"]["interrupted"] == true);
  REQUIRE(j["metadata"]["targets"].size() == 2);
  CHECK(j["metadata"]["targets"][1]["label"] == "vllm");
  CHECK(j["levels"][1]["config"]["mode"] == "closed_loop");
  const auto back = servebench::parse_artifact(j.dump());
  CHECK(back.interrupted());
  CHECK(back.levels.at(1).interrupted);
}

TEST_CASE("an artifact of schema 1 (servebench 0.1) still reads, upgraded to the levels' new shape") {
  // tests/data/artifact_v1.json: written by servebench 0.1.0 (the fuzz corpus's with_records.json, with ground truth
  // on a record and the lab's percentile name "lab").
  const auto a = servebench::read_artifact(std::string(SERVEBENCH_SOURCE_DIR) + "/tests/data/artifact_v1.json");
  CHECK_FALSE(a.metadata.wall_anchor);  // it had none: not the time it was read
  REQUIRE(a.levels.size() == 1);
  const auto& level = a.levels[0];
  CHECK(level.target.label == "vllm");
  CHECK(level.target.url == "http://127.0.0.1:8000");
  CHECK(level.target.dialect == "openai_completions");
  CHECK(level.config.mode == servebench::LoopMode::closed_loop);
  CHECK(level.config.concurrency == static_cast<std::size_t>(level.summary.level));
  CHECK(level.config.percentile_method == servebench::PercentileMethod::floor_rank);
  REQUIRE(level.records.size() >= 1);
  REQUIRE(level.records[0].server_timing.has_value());
  CHECK(level.records[0].server_timing->first_token == 900);
  CHECK(level.records[0].server_timing->last_token == 4900);
  CHECK(a.metadata.time_scale == 0.01);
  CHECK_FALSE(a.interrupted());
  CHECK(level.repetition == 0);  // before repetitions existed: every level is repetition 0
  CHECK(servebench::artifact_to_json(a).count("repetitions") == 0);
}

TEST_CASE("repeated levels keep their repetition index, and the artifact carries their intervals") {
  auto a = sample_artifact();
  auto second = a.levels[0];
  second.repetition = 1;
  second.summary.throughput_req_per_sec = 3 * a.levels[0].summary.throughput_req_per_sec;
  a.levels.push_back(second);
  const auto j = servebench::artifact_to_json(a);
  CHECK(j["levels"][1]["repetition"] == 1);
  REQUIRE(j.count("repetitions") == 1);
  REQUIRE(j["repetitions"].size() == 1);  // one (target, level)
  const auto& r = j["repetitions"][0];
  CHECK(r["target"] == "hf");
  CHECK(r["repetitions"] == 2);
  // Two values, x and 3x: mean 2x, s = sqrt(2) x, t_{0.975, 1} = 12.7062047364 (scipy), half width 12.706 x.
  const double x = a.levels[0].summary.throughput_req_per_sec;
  CHECK(r["throughput_req_per_sec"]["mean"].get<double>() == doctest::Approx(2 * x));
  CHECK(r["throughput_req_per_sec"]["half_width"].get<double>() == doctest::Approx(12.7062047364 * x).epsilon(1e-8));
  const auto back = servebench::parse_artifact(j.dump());
  REQUIRE(back.levels.size() == 2);
  CHECK(back.levels[0].repetition == 0);
  CHECK(back.levels[1].repetition == 1);
}

TEST_CASE("a new artifact's configuration and extra, and a driver's extra body, are empty objects") {
  // They start as value_t::object; written with braces (json{value_t::object}) they would be the one-element array
  // [{}], as nlohmann's initializer-list constructor wins a braced initialisation.
  const servebench::Artifact artifact;
  CHECK(artifact.metadata.configuration.is_object());
  CHECK(artifact.metadata.configuration.empty());
  CHECK(artifact.extra.is_object());
  CHECK(artifact.extra.empty());
  const auto j = servebench::artifact_to_json(artifact);
  CHECK(j.at("extra").dump() == "{}");
  CHECK(j.at("metadata").at("configuration").dump() == "{}");
  const servebench::DriverOptions options;
  CHECK(options.extra_body().is_object());
  CHECK(options.extra_body().empty());
}
