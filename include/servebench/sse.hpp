// servebench — an incremental Server-Sent-Events parser that yields the same events however the byte stream was
// split: a read may end inside a field name, inside `data:`, or between the CR and LF of one line break.
// Follows the WHATWG event-stream rules (https://html.spec.whatwg.org/multipage/server-sent-events.html), with one
// deliberate difference: finish() dispatches a final event that lacks its trailing blank line, because a benchmark
// would rather see the last token than silently drop it.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace servebench {

// One dispatched event. `event` is empty when the stream gave no `event:` field (the spec's "message").
// `data` joins multi-line data with '\n' and has no trailing newline. `id` is the last `id:` seen on the stream so
// far (the spec's last-event-ID, which persists across events). "[DONE]" is ordinary data here; dialects decide
// what it means.
struct SseEvent {
  std::string event;
  std::string data;
  std::string id;
};

class SseParser {
 public:
  // Feeds the next bytes of the stream; calls on_event(const SseEvent&) for every event completed by them.
  template <class F>
  void feed(std::string_view bytes, F&& on_event) {
    std::size_t i = 0;
    while (i < bytes.size()) {
      // A CR ended the previous line; an LF right after it (possibly in this new read) belongs to the same break.
      if (skip_lf_) {
        skip_lf_ = false;
        if (bytes[i] == '\n') {
          ++i;
          continue;
        }
      }
      const std::size_t end = bytes.find_first_of("\r\n", i);
      if (end == std::string_view::npos) {
        line_.append(bytes.data() + i, bytes.size() - i);
        break;
      }
      line_.append(bytes.data() + i, end - i);
      skip_lf_ = bytes[end] == '\r';
      i = end + 1;
      process_line(on_event);
      line_.clear();
    }
  }

  // The stream ended: a pending line counts as complete and a pending event is dispatched even without its
  // trailing blank line. The parser is then ready for a new stream.
  template <class F>
  void finish(F&& on_event) {
    if (!line_.empty()) process_line(on_event);
    line_.clear();
    dispatch(on_event);
    reset();
  }

  // Forgets everything, including the last event id: ready for a new stream.
  void reset() {
    line_.clear();
    data_.clear();
    event_.clear();
    id_.clear();
    has_data_ = false;
    skip_lf_ = false;
    first_line_ = true;
  }

 private:
  template <class F>
  void process_line(F& on_event) {
    std::string_view line = line_;
    if (first_line_) {
      first_line_ = false;
      // A UTF-8 byte-order mark may open the stream; it is not part of the first field name.
      if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    }
    if (line.empty()) {
      dispatch(on_event);
      return;
    }
    if (line.front() == ':') return;  // a comment (servers send them as keep-alive pings)
    std::string_view field = line, value;
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      field = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_.append(value.data(), value.size());
      has_data_ = true;
    } else if (field == "event") {
      event_.assign(value.data(), value.size());
    } else if (field == "id") {
      if (value.find('\0') == std::string_view::npos) id_.assign(value.data(), value.size());
    }
    // `retry` and unknown fields are ignored, as the spec says.
  }

  template <class F>
  void dispatch(F& on_event) {
    // The spec dispatches nothing for an event without data (an `event:` line alone), and resets its type.
    if (has_data_) {
      SseEvent ev{std::move(event_), std::move(data_), id_};
      on_event(static_cast<const SseEvent&>(ev));
    }
    data_.clear();
    event_.clear();
    has_data_ = false;
  }

  std::string line_;
  std::string data_;
  std::string event_;
  std::string id_;
  bool has_data_ = false;
  bool skip_lf_ = false;
  bool first_line_ = true;
};

}  // namespace servebench
