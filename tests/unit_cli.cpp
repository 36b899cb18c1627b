#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include <servebench/cli.hpp>

using namespace servebench::cli;

namespace {
struct Parsed {
  std::optional<int> exit_code;
  std::string out, err;
};

Parsed run(ArgParser& args, std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  std::ostringstream out, err;
  Parsed p;
  p.exit_code = args.parse(static_cast<int>(argv.size()), argv.data(), out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }
}  // namespace

TEST_CASE("parse_integer takes whole numbers within range and names the flag when it refuses") {
  CHECK(parse_integer("--n", "42", 1, 100) == 42);
  CHECK(parse_integer("--n", "1", 1, 100) == 1);
  for (const char* bad : {"", "0", "-3", "101", "5x", "4.5", " 7", "99999999999999999999999"}) {
    CAPTURE(std::string(bad));
    CHECK_THROWS_WITH_AS(parse_integer("--n", bad, 1, 100), doctest::Contains("--n needs a whole number from 1 to 100"),
                         UsageError);
  }
}

TEST_CASE("parse_number refuses NaN, junk and values outside the range") {
  CHECK(parse_number("--x", "2.5", 0, 10) == doctest::Approx(2.5));
  for (const char* bad : {"nan", "abc", "-1", "11", "1e400", ""}) {
    CAPTURE(std::string(bad));
    CHECK_THROWS_AS(parse_number("--x", bad, 0, 10), UsageError);
  }
}

TEST_CASE("parse_size_list reads the lab's concurrency list and refuses empty, negative, repeated items") {
  CHECK(parse_size_list("--concurrency", "1,5,10,20", 1, 1000) == std::vector<std::size_t>{1, 5, 10, 20});
  CHECK(parse_size_list("--concurrency", "7", 1, 1000) == std::vector<std::size_t>{7});
  for (const char* bad : {"", "1,,5", "1,5,", "1,-5", "a", "0", "5,5"}) {
    CAPTURE(std::string(bad));
    CHECK_THROWS_WITH_AS(parse_size_list("--concurrency", bad, 1, 1000), doctest::Contains("--concurrency"), UsageError);
  }
}

TEST_CASE("parse_choice lists the valid choices when the value is not one") {
  CHECK(parse_choice("--api", "chat", {"hf", "openai", "chat"}) == "chat");
  CHECK_THROWS_WITH_AS(parse_choice("--api", "grpc", {"hf", "openai", "chat"}),
                       "--api must be one of hf|openai|chat, got 'grpc'", UsageError);
}

TEST_CASE("ArgParser fills options and switches from both --flag value and --flag=value") {
  std::string url;
  int n = 3;
  double x = 1;
  bool stream = false;
  ArgParser args("prog", "does things");
  args.option("--url", "URL", "where", url).option("--n", "N", "how many", n, 1, 10).option("--x", "X", "scale", x, 0, 5)
      .flag("--stream", "stream", stream);
  const auto p = run(args, {"--url", "http://h:1", "--n=7", "--x", "2.5", "--stream"});
  CHECK_FALSE(p.exit_code);
  CHECK(url == "http://h:1");
  CHECK(n == 7);
  CHECK(x == doctest::Approx(2.5));
  CHECK(stream);
  CHECK(p.err.empty());
}

TEST_CASE("ArgParser prints the usage on stdout and asks for exit code 0 on --help") {
  int n = 0;
  ArgParser args("prog", "does things");
  args.option("--n", "N", "how many", n, 1, 10).epilog("example: prog --n 3");
  for (const char* help : {"--help", "-h"}) {
    const auto p = run(args, {help});
    REQUIRE(p.exit_code);
    CHECK(*p.exit_code == 0);
    CHECK(first_line(p.out) == "usage: prog [options]");
    CHECK(p.out.find("--n N") != std::string::npos);
    CHECK(p.out.find("example: prog --n 3") != std::string::npos);
    CHECK(p.err.empty());
  }
}

TEST_CASE("ArgParser answers a bad command line with one error line, the usage and exit code 2") {
  int n = 0;
  bool quiet = false;
  ArgParser args("prog", "");
  args.option("--concurrency", "LIST", "levels", [](const std::string& v) { parse_size_list("--concurrency", v, 1, 99); })
      .option("--n", "N", "how many", n, 1, 10)
      .flag("--quiet", "less", quiet);
  struct Case {
    std::vector<const char*> argv;
    const char* error;
  };
  const std::vector<Case> cases = {
      {{"--concurency", "5"}, "prog: error: unknown option '--concurency' (did you mean --concurrency?)"},
      {{"--bogus"}, "prog: error: unknown option '--bogus'"},
      {{"positional"}, "prog: error: unexpected argument 'positional' (every value follows its --flag)"},
      {{"--n"}, "prog: error: --n needs a value: --n N"},
      {{"--n", "many"}, "prog: error: --n needs a whole number from 1 to 10, got 'many'"},
      {{"--concurrency", "1,-5"}, "prog: error: --concurrency needs a whole number from 1 to 99, got '-5'"},
      {{"--quiet=yes"}, "prog: error: --quiet takes no value"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.error);
    const auto p = run(args, c.argv);
    REQUIRE(p.exit_code);
    CHECK(*p.exit_code == 2);
    CHECK(first_line(p.err) == c.error);
    CHECK(p.err.find("usage: prog [options]") != std::string::npos);
    CHECK(p.out.empty());
  }
}

TEST_CASE("Table aligns numbers right and text left, with rules under the header and between groups") {
  std::ostringstream out;
  Table({"engine", "req/s", "ratio"}).row({"HF", "0.52", ""}).row({"vLLM", "12.25", "23.6x"}).separator()
      .row({"HF", "-", ""}).print(out);
  CHECK(out.str() ==
        "engine  req/s  ratio\n"
        "--------------------\n"
        "HF       0.52\n"
        "vLLM    12.25  23.6x\n"
        "--------------------\n"
        "HF          -\n");
}
