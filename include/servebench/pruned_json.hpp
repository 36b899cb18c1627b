// servebench — a JSON reader that builds only the object keys a dialect reads. A vLLM reply or stream event carries
// ids, model names, logprobs, finish reasons and more that no dialect looks at. parse_pruned validates the whole text
// (JsonScanner, json_scanner.hpp: the texts and values nlohmann::json::parse accepts and gives) and builds a
// nlohmann::json of the rest: a value under a key `keep` refuses is skipped with everything inside it; arrays keep
// every element, so a list's length reads the same; duplicate keys: the last wins, as in nlohmann::json::parse.
// docs/performance.md has the cost of a read each way (bench_reply_parse).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "json_scanner.hpp"

namespace servebench::detail {

// The builder JsonScanner drives: a DOM into `root`, as nlohmann's json_sax_dom_parser builds one, except under
// refused keys.
template <class Keep>
class PrunedDom {
 public:
  using json = nlohmann::json;

  PrunedDom(json& root, Keep keep) : root_(&root), keep_(std::move(keep)) {}

  void null() { put(nullptr); }
  void boolean(bool value) { put(value); }
  void number_integer(json::number_integer_t value) { put(value); }
  void number_unsigned(json::number_unsigned_t value) { put(value); }
  void number_float(json::number_float_t value) { put(value); }
  void string(json::string_t& value) { put(std::move(value)); }

  void start_object() { open(json::value_t::object); }
  void start_array() { open(json::value_t::array); }
  void end_object() { close(); }
  void end_array() { close(); }

  // The key is made a string only when it is kept.
  void key(std::string_view name) {
    if (skip_depth_ > 0) return;
    if (!keep_(name)) {
      skip_value_ = true;
      return;
    }
    slot_ = &(*open_.back())[json::string_t(name)];
  }

  // False while the value now arriving will be skipped (JsonScanner then only validates it).
  bool building() const noexcept { return skip_depth_ == 0 && !skip_value_; }

 private:
  // True when the value now arriving is not built (inside a skipped value, or under a refused key).
  bool skipped() {
    if (skip_depth_ > 0) return true;
    if (!skip_value_) return false;
    skip_value_ = false;
    return true;
  }

  // Where the value now arriving goes: the root, the next element of an array, or the slot its key made.
  json* place(json value) {
    if (open_.empty()) {
      *root_ = std::move(value);
      return root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    *slot_ = std::move(value);
    return slot_;
  }

  template <class T>
  void put(T&& value) {
    if (!skipped()) place(json(std::forward<T>(value)));
  }

  void open(json::value_t type) {
    if (skipped())
      ++skip_depth_;
    else
      open_.push_back(place(json(type)));
  }

  void close() {
    if (skip_depth_ > 0)
      --skip_depth_;
    else
      open_.pop_back();
  }

  json* root_;
  Keep keep_;
  std::vector<json*> open_;  // the containers being built, innermost last
  json* slot_ = nullptr;     // the object member the last kept key made
  std::size_t skip_depth_ = 0;
  bool skip_value_ = false;
};

// Parses `text` into `out`, building only the object members whose key `keep(std::string_view)` accepts. False when
// the text is not valid JSON (out is then unspecified).
template <class Keep>
bool parse_pruned(std::string_view text, nlohmann::json& out, Keep keep) {
  PrunedDom<Keep> sax(out, std::move(keep));
  return JsonScanner<PrunedDom<Keep>>(text, sax).run();
}

}  // namespace servebench::detail
