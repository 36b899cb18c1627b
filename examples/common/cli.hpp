// The example programs' command lines, on CLI11 (Debian's libcli11-dev): flags with --help, and one convention for
// every program — a bad command line prints "program: error: <what is wrong>" and the usage on stderr and exits 2;
// a world that does not cooperate (an unreachable server, an unwritable path) prints the error line alone, exit 2.
// This is the examples' own code, not part of the library: a program of yours may parse its flags any way it likes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace examples {

// A command line that cannot be used as given (thrown by a program's own checks after parsing).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses; returns the exit code when the program should stop now (0 after --help, 2 after a bad flag).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << "\n\n" << app.help();
    return 2;
  }
  return std::nullopt;
}

// The command line was wrong in a way only the program can tell: the error, then the usage. Returns 2.
inline int usage_error(const CLI::App& app, const std::string& message) {
  std::cerr << app.get_name() << ": error: " << message << "\n\n" << app.help();
  return 2;
}

// The command line was fine, the world was not: the error line alone. Returns 2.
inline int error(const CLI::App& app, const std::string& message) {
  std::cerr << app.get_name() << ": error: " << message << "\n";
  return 2;
}

// `text` as a whole number within [min, max], or empty when it is not one (junk, a trailing part, out of range).
inline std::optional<long long> whole_number(const std::string& text, long long min, long long max) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (text.empty() || used != text.size() || value < min || value > max) return std::nullopt;
  return value;
}

// A CLI11 check for a comma-separated list of distinct whole numbers within [min, max] ("1,5,10,20").
inline CLI::Validator distinct_list(long long min, long long max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        std::vector<std::string> seen;
        std::size_t start = 0;
        for (;;) {
          const auto comma = text.find(',', start);
          const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!whole_number(item, min, max))
            return "needs a comma-separated list of whole numbers from " + std::to_string(min) + " to " +
                   std::to_string(max) + " like 1,5,10,20, got '" + text + "'";
          if (std::find(seen.begin(), seen.end(), item) != seen.end()) return "lists " + item + " twice";
          seen.push_back(item);
          if (comma == std::string::npos) return {};
          start = comma + 1;
        }
      },
      "LIST");
}

// "1,5,10,20" after distinct_list() accepted it.
inline std::vector<std::size_t> split_sizes(const std::string& text) {
  std::vector<std::size_t> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    out.push_back(static_cast<std::size_t>(std::stoull(text.substr(start, comma - start))));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

}  // namespace examples
