// servebench — small command-line helpers for benchmark programs: flag parsing with --help and one-line errors
// (exit code 2, the usage after it), value parsers that say what would have been right, and a plain text table.
//
//   std::string url = "http://127.0.0.1:8000";
//   int max_tokens = 50;
//   bool stream = false;
//   servebench::cli::ArgParser args("my_bench", "Sends requests and prints a table.");
//   args.option("--url", "URL", "server base URL", url)
//       .option("--max-tokens", "N", "tokens per reply", max_tokens, 1, 100000)
//       .flag("--stream", "stream the replies", stream);
//   if (auto exit_code = args.parse(argc, argv)) return *exit_code;   // --help: 0; a bad flag: 2
#pragma once

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace servebench {
namespace cli {

// A command line that cannot be used as given. The message is one line and says how to fix it.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Strict number parsing: the whole text must be the number, within [min, max]. `flag` names it in the error.
inline long long parse_integer(const std::string& flag, const std::string& text, long long min, long long max) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  // strtoll skips leading blanks; a flag's value has none.
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) || end != text.c_str() + text.size() ||
      errno == ERANGE || value < min || value > max)
    throw UsageError(flag + " needs a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                     ", got '" + text + "'");
  return value;
}

inline double parse_number(const std::string& flag, const std::string& text, double min, double max) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  // !(a <= b) also rejects NaN.
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) || end != text.c_str() + text.size() ||
      errno == ERANGE || !(value >= min) || !(value <= max)) {
    std::ostringstream why;
    why << flag << " needs a number from " << min << " to " << max << ", got '" << text << "'";
    throw UsageError(why.str());
  }
  return value;
}

// "1,5,10,20" -> {1, 5, 10, 20}: each a whole number in [min, max], no empty items, no duplicates.
inline std::vector<std::size_t> parse_size_list(const std::string& flag, const std::string& text, long long min,
                                                long long max) {
  std::vector<std::size_t> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty())
      throw UsageError(flag + " needs a comma-separated list of whole numbers like 1,5,10,20, got '" + text + "'");
    const auto value = static_cast<std::size_t>(parse_integer(flag, item, min, max));
    if (std::find(out.begin(), out.end(), value) != out.end())
      throw UsageError(flag + " lists " + item + " twice in '" + text + "'");
    out.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// `text` must be one of `choices`.
inline std::string parse_choice(const std::string& flag, const std::string& text,
                                const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
  std::string valid;
  for (const auto& c : choices) valid += (valid.empty() ? "" : "|") + c;
  throw UsageError(flag + " must be one of " + valid + ", got '" + text + "'");
}

// Flags of the form `--name value`, `--name=value` and `--switch`; --help / -h prints the usage. Nothing
// positional: a benchmark's command line reads best when every value is named.
class ArgParser {
 public:
  ArgParser(std::string program, std::string description)
      : program_(std::move(program)), description_(std::move(description)) {}

  // A flag with a value; `apply` parses it (throwing UsageError, or std::invalid_argument, with the reason).
  ArgParser& option(std::string name, std::string value_name, std::string help,
                    std::function<void(const std::string&)> apply) {
    entries_.push_back({std::move(name), std::move(value_name), std::move(help), std::move(apply), nullptr});
    return *this;
  }
  ArgParser& option(std::string name, std::string value_name, std::string help, std::string& target) {
    return option(std::move(name), std::move(value_name), std::move(help),
                  [&target](const std::string& value) { target = value; });
  }
  ArgParser& option(std::string name, std::string value_name, std::string help, int& target, int min, int max) {
    const std::string flag = name;
    return option(std::move(name), std::move(value_name), std::move(help), [&target, flag, min, max](const std::string& v) {
      target = static_cast<int>(parse_integer(flag, v, min, max));
    });
  }
  ArgParser& option(std::string name, std::string value_name, std::string help, double& target, double min,
                    double max) {
    const std::string flag = name;
    return option(std::move(name), std::move(value_name), std::move(help), [&target, flag, min, max](const std::string& v) {
      target = parse_number(flag, v, min, max);
    });
  }
  // A switch without a value: sets `target` to true.
  ArgParser& flag(std::string name, std::string help, bool& target) {
    entries_.push_back({std::move(name), {}, std::move(help), nullptr, &target});
    return *this;
  }
  // Text printed after the flag list (examples, notes).
  ArgParser& epilog(std::string text) { epilog_ = std::move(text); return *this; }

  // Parses the command line. Returns the exit code when the program should stop now: 0 after --help (usage on
  // stdout), 2 after a bad flag (one line naming the problem, then the usage, on stderr). Empty: carry on.
  std::optional<int> parse(int argc, const char* const* argv, std::ostream& out = std::cout,
                           std::ostream& err = std::cerr) const {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        print_usage(out);
        return 0;
      }
      std::optional<std::string> inline_value;
      if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg.resize(eq);
      }
      const Entry* entry = find(arg);
      try {
        if (!entry) throw UsageError(unknown_message(arg));
        if (entry->flag_target) {
          if (inline_value) throw UsageError(arg + " takes no value");
          *entry->flag_target = true;
          continue;
        }
        if (!inline_value && i + 1 >= argc) throw UsageError(arg + " needs a value: " + arg + " " + entry->value_name);
        const std::string value = inline_value ? *inline_value : std::string(argv[++i]);
        entry->apply(value);
      } catch (const std::exception& e) {  // UsageError, or std::invalid_argument from a caller's parser
        return usage_error(e.what(), err);
      }
    }
    return std::nullopt;
  }
  std::optional<int> parse(int argc, char** argv, std::ostream& out = std::cout, std::ostream& err = std::cerr) const {
    return parse(argc, const_cast<const char* const*>(argv), out, err);
  }

  // Prints "program: error: <message>" and the usage on `err`; returns 2, the exit code for a bad command line.
  int usage_error(const std::string& message, std::ostream& err = std::cerr) const {
    err << program_ << ": error: " << message << "\n\n";
    print_usage(err);
    return 2;
  }
  // Prints "program: error: <message>" only (the command line was fine, the world was not); returns 2.
  int error(const std::string& message, std::ostream& err = std::cerr) const {
    err << program_ << ": error: " << message << "\n";
    return 2;
  }

  void print_usage(std::ostream& out) const {
    out << "usage: " << program_ << " [options]\n";
    if (!description_.empty()) out << description_ << "\n";
    out << "\noptions:\n";
    std::vector<std::string> heads;
    std::size_t width = 0;
    for (const auto& e : entries_) {
      heads.push_back(e.name + (e.value_name.empty() ? "" : " " + e.value_name));
      width = std::max(width, heads.back().size());
    }
    heads.push_back("--help");
    width = std::max(width, heads.back().size());
    for (std::size_t i = 0; i < entries_.size(); ++i)
      out << "  " << heads[i] << std::string(width - heads[i].size() + 2, ' ') << entries_[i].help << "\n";
    out << "  --help" << std::string(width - 6 + 2, ' ') << "show this text and exit\n";
    if (!epilog_.empty()) out << "\n" << epilog_ << (epilog_.back() == '\n' ? "" : "\n");
  }

  const std::string& program() const noexcept { return program_; }

 private:
  struct Entry {
    std::string name, value_name, help;
    std::function<void(const std::string&)> apply;
    bool* flag_target;
  };

  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }

  std::string unknown_message(const std::string& arg) const {
    if (arg.rfind("-", 0) != 0) return "unexpected argument '" + arg + "' (every value follows its --flag)";
    // Suggest the flag with the longest common prefix, so "--concurency" points at "--concurrency".
    const Entry* best = nullptr;
    std::size_t best_len = 0;
    for (const auto& e : entries_) {
      std::size_t n = 0;
      while (n < e.name.size() && n < arg.size() && e.name[n] == arg[n]) ++n;
      if (n > best_len) best_len = n, best = &e;
    }
    std::string message = "unknown option '" + arg + "'";
    if (best && best_len >= 4) message += " (did you mean " + best->name + "?)";
    return message;
  }

  std::string program_, description_, epilog_;
  std::vector<Entry> entries_;
};

// A plain text table: a header row, aligned columns (numbers right, text left), a rule under the header.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  Table& row(std::vector<std::string> cells) {
    cells.resize(header_.size());
    rows_.push_back(std::move(cells));
    return *this;
  }
  // A rule between groups of rows (e.g. one concurrency level and the next).
  Table& separator() {
    rows_.emplace_back();
    return *this;
  }

  void print(std::ostream& out) const {
    std::vector<std::size_t> width(header_.size(), 0);
    std::vector<bool> numeric(header_.size(), true);
    for (std::size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
    for (const auto& r : rows_)
      for (std::size_t c = 0; c < r.size(); ++c) {
        width[c] = std::max(width[c], r[c].size());
        if (!r[c].empty() && !looks_numeric(r[c])) numeric[c] = false;
      }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string text;
      for (std::size_t c = 0; c < cells.size(); ++c) {
        const std::string pad(width[c] - cells[c].size(), ' ');
        text += (c ? "  " : "") + (numeric[c] ? pad + cells[c] : cells[c] + pad);
      }
      while (!text.empty() && text.back() == ' ') text.pop_back();
      out << text << "\n";
    };
    std::size_t total = 0;
    for (std::size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
    line(header_);
    out << std::string(total, '-') << "\n";
    for (const auto& r : rows_) {
      if (r.empty())
        out << std::string(total, '-') << "\n";
      else
        line(r);
    }
  }

 private:
  // "12", "0.31", "6.6x", "-", "n/a": aligned right like numbers.
  static bool looks_numeric(const std::string& s) {
    if (s == "-" || s == "n/a") return true;
    const std::size_t n = (s.back() == 'x' || s.back() == '%') ? s.size() - 1 : s.size();
    if (n == 0) return false;
    for (std::size_t i = 0; i < n; ++i)
      if (!(std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == '-' || s[i] == '+')) return false;
    return true;
  }

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cli
}  // namespace servebench
