// servebench — records that stream away as they complete, for runs too long to keep every record (ten million short
// requests): a running summary whose memory does not grow with the run (counts, sums, min, max, mean and spread
// exact; percentiles from LogHistogram within its relative accuracy), and a JSONL file of every record, written as
// they end and read back with read_records_jsonl. The schedulers use both through RunOptions::keep_records(false)
// and RunOptions::stream_records_to(path).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "files.hpp"
#include "record.hpp"
#include "stats.hpp"

namespace servebench {

// Mean and sample standard deviation kept exactly as values arrive (Welford's update), in constant memory.
struct RunningMoments {
  std::uint64_t count = 0;
  double mean = 0, m2 = 0;

  void add(double value) noexcept {
    ++count;
    const double delta = value - mean;
    mean += delta / static_cast<double>(count);
    m2 += delta * (value - mean);
  }
  double stddev() const noexcept { return count > 1 ? std::sqrt(m2 / static_cast<double>(count - 1)) : 0.0; }
};

// The relative accuracy of the percentiles of a RunningSummary.
inline constexpr double running_summary_accuracy = 0.01;

// A level's LevelSummary built one record at a time. Everything but the percentiles and peak_in_flight equals
// summarize() on the same records; each percentile is within running_summary_accuracy of the sample at rank
// floor(p / 100 * (n - 1)) (summarize's linear value lies between that sample and the next). peak_in_flight cannot
// be known from completions alone: whoever ran the requests sets it (the schedulers count requests in flight).
class RunningSummary {
 public:
  explicit RunningSummary(SummarizeOptions options = {}) : options_(std::move(options)) {}

  template <class Record = RequestRecord>  // deferred: see serialize.hpp
  void add(const Record& r) {
    if (r.warmup) return;
    if (s_.target.empty()) s_.target = r.target;
    ++s_.sent;
    if (r.t_connect) ++s_.connects;
    if (r.t_send > 0) {
      const Nanos end = std::max(r.t_end, r.t_send);
      first_send_ = any_sent_ ? std::min(first_send_, r.t_send) : r.t_send;
      last_end_ = any_sent_ ? std::max(last_end_, end) : end;
      any_sent_ = true;
      busy_ += end - r.t_send;
    }
    if (r.interrupted()) {
      ++s_.interrupted;
      return;
    }
    if (!r.ok()) {
      ++s_.failed;
      ++s_.failed_by_kind[to_string(r.error_kind)];
      return;
    }
    ++s_.successful;
    s_.total_output_tokens += r.n_out;
    latency_.add(r.latency_s());
    latency_from_sched_.add(r.latency_from_sched_s());
    client_queue_.add(r.client_queue_s());
    if (r.streamed) {
      ttft_.add(r.ttft_s());
      if (auto t = r.ttfa_s()) ttfa_.add(*t);
      if (auto t = r.tpot_s()) tpot_.add(*t);
      for (std::size_t i = 1; i < r.event_times.size(); ++i) itl_.add(ns_to_s(r.event_times[i] - r.event_times[i - 1]));
    }
    if (options_.slo.met_by(r)) ++good_;
  }

  // The summary so far; peak_in_flight as given.
  template <class = void>  // deferred: see serialize.hpp
  LevelSummary summary(std::size_t peak_in_flight = 0) const {
    LevelSummary s = s_;
    s.peak_in_flight = peak_in_flight;
    s.wall_s = any_sent_ ? ns_to_s(last_end_ - first_send_) : 0.0;
    if (s.wall_s > 0) {
      s.mean_in_flight = ns_to_s(busy_) / s.wall_s;
      s.throughput_req_per_sec = static_cast<double>(s.successful) / s.wall_s;
      s.output_tokens_per_sec = static_cast<double>(s.total_output_tokens) / s.wall_s;
      if (options_.slo.any()) s.goodput_req_per_sec = static_cast<double>(good_) / s.wall_s;
    } else if (options_.slo.any()) {
      s.goodput_req_per_sec = 0.0;
    }
    s.latency = latency_.summary(options_.method);
    s.latency_from_sched = latency_from_sched_.summary(options_.method);
    s.client_queue = client_queue_.summary(options_.method);
    s.ttft = ttft_.summary(options_.method);
    s.ttfa = ttfa_.summary(options_.method);
    s.tpot = tpot_.summary(options_.method);
    s.itl = itl_.summary(options_.method);
    return s;
  }

 private:
  struct Metric {
    LogHistogram histogram{running_summary_accuracy};
    RunningMoments moments;
    void add(double value) {
      histogram.add(value);
      moments.add(value);
    }
    template <class = void>  // deferred: see serialize.hpp
    std::optional<Summary> summary(PercentileMethod method) const {
      if (histogram.count() == 0) return std::nullopt;
      Summary s = summarize_histogram(histogram, moments.stddev(), method);
      s.mean = moments.mean;  // Welford's mean: exact where the histogram's sum / count can round
      return s;
    }
  };

  SummarizeOptions options_;
  LevelSummary s_;
  Nanos first_send_ = 0, last_end_ = 0, busy_ = 0;
  bool any_sent_ = false;
  std::size_t good_ = 0;
  Metric latency_, latency_from_sched_, client_queue_, ttft_, tpot_, itl_, ttfa_;
};

// Writes records to a JSONL file (one JSON object a line, RequestRecord's fields) as they come. The lines go to
// PATH.partial and the file is renamed to PATH by close(), so PATH exists only complete; a run that dies leaves
// PATH.partial with every record written until then.
class JsonlRecordWriter {
 public:
  explicit JsonlRecordWriter(std::string path) : path_(std::move(path)) {
    if (path_.empty()) throw std::invalid_argument("servebench: stream_records_to needs a file path");
    detail::make_parent_directories(path_);
    out_.open(partial_path(), std::ios::binary | std::ios::trunc);
    if (!out_)
      throw std::runtime_error("servebench: cannot write the records file " + partial_path() + ": " +
                               detail::errno_text(errno) + "; is the directory writable?");
  }
  JsonlRecordWriter(const JsonlRecordWriter&) = delete;
  JsonlRecordWriter& operator=(const JsonlRecordWriter&) = delete;

  template <class Record = RequestRecord>  // deferred: see serialize.hpp
  void write(const Record& record) {
    out_ << nlohmann::json(record).dump() << '\n';
    ++written_;
  }
  // Flushes, checks, and moves PATH.partial to PATH. Throws when a write failed (disk full).
  void close() {
    if (closed_) return;
    closed_ = true;
    out_.flush();
    const bool good = out_.good();
    out_.close();
    if (!good)
      throw std::runtime_error("servebench: writing the records file " + partial_path() +
                               " failed (disk full?); the records written so far are in it");
    if (std::rename(partial_path().c_str(), path_.c_str()) != 0)
      throw std::runtime_error("servebench: cannot rename " + partial_path() + " to " + path_ + ": " +
                               detail::errno_text(errno));
  }
  std::uint64_t written() const noexcept { return written_; }
  const std::string& path() const noexcept { return path_; }
  std::string partial_path() const { return path_ + ".partial"; }

 private:
  std::string path_;
  std::ofstream out_;
  std::uint64_t written_ = 0;
  bool closed_ = false;
};

// Every record of a JSONL records file (JsonlRecordWriter, RunOptions::stream_records_to), in file order. A line
// that is not a record is an error naming the file and the line.
template <class Record = RequestRecord>  // deferred: see serialize.hpp
std::vector<Record> read_records_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("servebench: cannot read the records file " + path + ": " + detail::errno_text(errno));
  std::vector<Record> records;
  std::size_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    try {
      records.push_back(nlohmann::json::parse(line).get<Record>());
    } catch (const std::exception& e) {
      throw std::runtime_error("servebench: " + path + " line " + std::to_string(line_number) +
                               " is not a record: " + e.what());
    }
  }
  return records;
}

}  // namespace servebench
