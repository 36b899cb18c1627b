// servebench — statistics: percentiles by three named methods, sample summaries, Student's t and the confidence
// interval of a mean (across repetitions), and a mergeable log-bucketed histogram for runs too long to keep every
// sample.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "serialize.hpp"

namespace servebench {

// How a percentile is read off a sorted sample.
//  linear       : interpolate between the closest ranks (numpy's default; what vLLM's benchmark reports).
//  nearest_rank : the smallest sample with at least p% of the samples at or below it.
//  floor_rank   : sorted[floor(n * p / 100)], clamped to the last sample: what a script computing
//                 `sorted(x)[int(len(x) * 0.95)]` reports, so such numbers can be reproduced exactly.
enum class PercentileMethod { linear, nearest_rank, floor_rank };

template <>
struct EnumNames<PercentileMethod> {
  static constexpr const char* what = "percentile method";
  static constexpr EnumName<PercentileMethod> entries[] = {
      {PercentileMethod::linear, "linear"},
      {PercentileMethod::nearest_rank, "nearest_rank"},
      {PercentileMethod::floor_rank, "floor_rank"},
      {PercentileMethod::floor_rank, "lab"},  // the name artifacts of schema 1 used
  };
};
SERVEBENCH_ENUM_JSON(PercentileMethod)

namespace detail {
inline void check_percentile_rank(double p) {
  if (!(p >= 0.0 && p <= 100.0))
    throw std::invalid_argument("percentile must be within [0, 100], got " + std::to_string(p));
}
inline void check_samples(const std::vector<double>& values) {
  if (values.empty()) throw std::invalid_argument("cannot summarize an empty sample set");
  for (double v : values)
    if (std::isnan(v)) throw std::invalid_argument("sample set contains NaN");
}
}  // namespace detail

// p in [0, 100]; `sorted` must be sorted ascending and non-empty.
inline double percentile_of_sorted(const std::vector<double>& sorted, double p,
                                   PercentileMethod method = PercentileMethod::linear) {
  detail::check_percentile_rank(p);
  if (sorted.empty()) throw std::invalid_argument("cannot take a percentile of an empty sample set");
  const std::size_t n = sorted.size();
  switch (method) {
    case PercentileMethod::linear: {
      const double h = static_cast<double>(n - 1) * p / 100.0;
      const auto lower = static_cast<std::size_t>(std::floor(h));
      if (lower + 1 >= n) return sorted[n - 1];
      return sorted[lower] + (h - static_cast<double>(lower)) * (sorted[lower + 1] - sorted[lower]);
    }
    case PercentileMethod::nearest_rank: {
      auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
      rank = std::max<std::size_t>(rank, 1);
      return sorted[std::min(rank, n) - 1];
    }
    case PercentileMethod::floor_rank: {
      // int(len * 0.95): multiply by the fraction (not by p then divide) so the rounding is the
      // same as Python's for every n; int() truncates, which for non-negative values is floor.
      auto index = static_cast<std::size_t>(std::floor(static_cast<double>(n) * (p / 100.0)));
      return sorted[std::min(index, n - 1)];
    }
  }
  return sorted[0];
}

template <class Values = std::vector<double>>
double percentile(Values values, double p, PercentileMethod method = PercentileMethod::linear) {
  detail::check_samples(values);
  std::sort(values.begin(), values.end());
  return percentile_of_sorted(values, p, method);
}

struct Quantile {
  double p = 0;  // in [0, 100]
  double value = 0;
};

// A summary of one sample set. `stddev` is the sample standard deviation (n - 1 in the denominator; 0 for one
// sample). `extra` holds any further percentiles asked for.
struct Summary {
  std::size_t count = 0;
  double mean = 0, stddev = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;
  std::vector<Quantile> extra;
  PercentileMethod method = PercentileMethod::linear;
};

template <class Values = std::vector<double>>
Summary summarize_samples(Values values, PercentileMethod method = PercentileMethod::linear,
                          const std::vector<double>& extra_percentiles = {}) {
  detail::check_samples(values);
  std::sort(values.begin(), values.end());
  Summary s;
  s.method = method;
  s.count = values.size();
  s.min = values.front();
  s.max = values.back();
  // Welford's update keeps the variance exact for large sets of nearly equal values.
  double mean = 0, m2 = 0;
  std::size_t k = 0;
  for (double v : values) {
    ++k;
    const double delta = v - mean;
    mean += delta / static_cast<double>(k);
    m2 += delta * (v - mean);
  }
  s.mean = mean;
  s.stddev = s.count > 1 ? std::sqrt(m2 / static_cast<double>(s.count - 1)) : 0.0;
  s.p50 = percentile_of_sorted(values, 50, method);
  s.p90 = percentile_of_sorted(values, 90, method);
  s.p95 = percentile_of_sorted(values, 95, method);
  s.p99 = percentile_of_sorted(values, 99, method);
  for (double p : extra_percentiles) s.extra.push_back({p, percentile_of_sorted(values, p, method)});
  return s;
}

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const Quantile*) {
  return field_list<Deferred>(required("p", &Quantile::p), required("value", &Quantile::value));
}
template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const Summary*) {
  return field_list<Deferred>(required("count", &Summary::count), required("mean", &Summary::mean),
                              required("stddev", &Summary::stddev), required("min", &Summary::min),
                              required("max", &Summary::max), required("p50", &Summary::p50),
                              required("p90", &Summary::p90), required("p95", &Summary::p95),
                              required("p99", &Summary::p99), field("extra", &Summary::extra),
                              field("method", &Summary::method));
}

// ---------------------------------------------------------------------------------------------------------------
// Student's t distribution, for confidence intervals across repetitions, without a statistics library.
//
// The CDF is the regularized incomplete beta function: for t >= 0, P(T <= t) = 1 - I_x(df/2, 1/2) / 2 with
// x = df / (df + t^2), evaluated by its continued fraction (modified Lentz, relative tolerance 1e-15) with the
// symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly. The quantile solves CDF(t) = p by
// bisection to the last bit of a double (df 1 and 2 have closed forms and use them). Checked against a 40-digit
// mpmath inverse for df 0.5..1000 and p in (0.5, 0.9995]: relative error below 1e-9 (scipy 1.10's t.ppf is itself
// off by up to 5e-9, so tests/unit_stats.cpp and tests/repeat_check.py compare with it at 1e-8). df need not be a
// whole number (Welch's degrees of freedom are not).

namespace detail {
inline double incomplete_beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300, epsilon = 1e-15;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double step = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + step * d;
    c = 1 + step / c;
    if (std::abs(d) < tiny) d = tiny;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    step = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + step * d;
    c = 1 + step / c;
    if (std::abs(d) < tiny) d = tiny;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < epsilon) break;
  }
  return h;
}

// I_x(a, b), the regularized incomplete beta function, for x in [0, 1] and a, b > 0; y = 1 - x, given separately
// so that an x close to 1 keeps its precision.
inline double regularized_incomplete_beta(double a, double b, double x, double y) {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                                b * std::log(y));
  if (x < (a + 1) / (a + b + 2)) return front * incomplete_beta_fraction(a, b, x) / a;
  return 1 - front * incomplete_beta_fraction(b, a, y) / b;
}
}  // namespace detail

// P(T <= t) for Student's t with `df` > 0 degrees of freedom.
inline double student_t_cdf(double t, double df) {
  if (!(df > 0)) throw std::invalid_argument("student_t_cdf: degrees of freedom must be positive");
  if (std::isnan(t)) throw std::invalid_argument("student_t_cdf: t is NaN");
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  const double tail = 0.5 * detail::regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t), t * t / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

// The t with P(T <= t) = p, for p in (0, 1) and df > 0: scipy.stats.t.ppf(p, df).
inline double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1)) throw std::invalid_argument("student_t_quantile: p must be within (0, 1)");
  if (!(df > 0)) throw std::invalid_argument("student_t_quantile: degrees of freedom must be positive");
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  if (p == 0.5) return 0;
  constexpr double pi = 3.14159265358979323846;
  if (df == 1) return std::tan(pi * (p - 0.5));
  if (df == 2) return (2 * p - 1) * std::sqrt(2 / (4 * p * (1 - p)));
  double low = 0, high = 1;
  while (student_t_cdf(high, df) < p && high < 1e300) high *= 2;
  for (int i = 0; i < 2000 && low < high; ++i) {
    const double mid = low + (high - low) / 2;
    if (mid <= low || mid >= high) break;  // adjacent doubles: as close as a double gets
    (student_t_cdf(mid, df) < p ? low : high) = mid;
  }
  return low + (high - low) / 2;
}

// The mean of a few values (one per repetition) and its two-sided confidence interval by Student's t with n - 1
// degrees of freedom: mean ± t_{(1 + confidence)/2, n-1} · stddev / sqrt(n). With one value there is no interval:
// low = high = mean and half_width = 0 (n says so).
struct MeanInterval {
  std::size_t n = 0;
  double mean = 0, stddev = 0;  // stddev: sample standard deviation (n - 1)
  double low = 0, high = 0, half_width = 0;
  double confidence = 0.95;

  bool has_interval() const noexcept { return n >= 2; }
};

template <class Values = std::vector<double>>
MeanInterval mean_interval(const Values& values, double confidence = 0.95) {
  if (!(confidence > 0 && confidence < 1))
    throw std::invalid_argument("mean_interval: confidence must be within (0, 1)");
  MeanInterval m;
  m.confidence = confidence;
  if (values.empty()) return m;
  const Summary s = summarize_samples(std::vector<double>(values.begin(), values.end()));
  m.n = s.count;
  m.mean = s.mean;
  m.stddev = s.stddev;
  if (m.n >= 2)
    m.half_width = student_t_quantile((1 + confidence) / 2, static_cast<double>(m.n - 1)) * m.stddev /
                   std::sqrt(static_cast<double>(m.n));
  m.low = m.mean - m.half_width;
  m.high = m.mean + m.half_width;
  return m;
}

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const MeanInterval*) {
  using M = MeanInterval;
  return field_list<Deferred>(required("n", &M::n), required("mean", &M::mean), field("stddev", &M::stddev),
                              required("low", &M::low), required("high", &M::high), field("half_width", &M::half_width),
                              field("confidence", &M::confidence));
}

// A log-bucketed histogram of positive values (DDSketch's bucketing): bucket i holds values in
// (gamma^(i-1), gamma^i] with gamma = (1 + a) / (1 - a), so every percentile it reports is within a relative
// error `a` (1% by default) of the sample at rank floor(q * (n - 1)). Memory is fixed by [min_value, max_value]:
// about 1,700 counters for the default 1 ns .. 10^6 s range in seconds. Values at or below zero (or below
// min_value) count in a zero bucket; values above max_value in an overflow bucket that reports the exact maximum.
// Two histograms with the same parameters merge by adding counts, which equals the histogram of both sample sets.
class LogHistogram {
 public:
  explicit LogHistogram(double relative_accuracy = 0.01, double min_value = 1e-9, double max_value = 1e6)
      : relative_accuracy_(relative_accuracy), min_value_(min_value), max_value_(max_value) {
    if (!(relative_accuracy > 0 && relative_accuracy < 1))
      throw std::invalid_argument("LogHistogram: relative accuracy must be within (0, 1)");
    if (!(min_value > 0 && max_value > min_value))
      throw std::invalid_argument("LogHistogram: need 0 < min_value < max_value");
    gamma_ = (1 + relative_accuracy) / (1 - relative_accuracy);
    log_gamma_ = std::log(gamma_);
    offset_ = key_of(min_value);
    counts_.assign(static_cast<std::size_t>(key_of(max_value) - offset_ + 1), 0);
  }

  void add(double value, std::uint64_t times = 1) {
    if (std::isnan(value)) throw std::invalid_argument("LogHistogram: cannot add NaN");
    if (times == 0) return;
    if (count_ == 0) {
      min_ = max_ = value;
    } else {
      min_ = std::min(min_, value);
      max_ = std::max(max_, value);
    }
    count_ += times;
    sum_ += value * static_cast<double>(times);
    if (value < min_value_)
      zero_count_ += times;
    else if (value > max_value_)
      overflow_count_ += times;
    else
      counts_[static_cast<std::size_t>(key_of(value) - offset_)] += times;
  }

  // The value at percentile p in [0, 100]. Throws on an empty histogram.
  double percentile(double p) const {
    detail::check_percentile_rank(p);
    if (count_ == 0) throw std::invalid_argument("LogHistogram: cannot take a percentile of an empty histogram");
    const auto rank = static_cast<std::uint64_t>(std::floor(p / 100.0 * static_cast<double>(count_ - 1)));
    std::uint64_t seen = zero_count_;
    if (rank < seen) return std::max(min_, std::min(0.0, max_));
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (rank < seen) {
        const double estimate = 2 * std::pow(gamma_, static_cast<double>(static_cast<long>(i) + offset_)) /
                                (gamma_ + 1);
        return std::min(std::max(estimate, min_), max_);
      }
    }
    return max_;
  }

  void merge(const LogHistogram& other) {
    if (other.relative_accuracy_ != relative_accuracy_ || other.min_value_ != min_value_ ||
        other.max_value_ != max_value_)
      throw std::invalid_argument("LogHistogram: cannot merge histograms with different parameters");
    if (other.count_ == 0) return;
    if (count_ == 0) {
      min_ = other.min_;
      max_ = other.max_;
    } else {
      min_ = std::min(min_, other.min_);
      max_ = std::max(max_, other.max_);
    }
    count_ += other.count_;
    sum_ += other.sum_;
    zero_count_ += other.zero_count_;
    overflow_count_ += other.overflow_count_;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  }

  std::uint64_t count() const noexcept { return count_; }
  double sum() const noexcept { return sum_; }
  double mean() const noexcept { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  double min() const noexcept { return min_; }
  double max() const noexcept { return max_; }
  double relative_accuracy() const noexcept { return relative_accuracy_; }
  std::size_t bucket_count() const noexcept { return counts_.size(); }

  template <class = void>  // deferred: see serialize.hpp
  friend bool operator==(const LogHistogram& a, const LogHistogram& b) {
    return a.relative_accuracy_ == b.relative_accuracy_ && a.min_value_ == b.min_value_ &&
           a.max_value_ == b.max_value_ && a.count_ == b.count_ && a.zero_count_ == b.zero_count_ &&
           a.overflow_count_ == b.overflow_count_ && a.counts_ == b.counts_ && a.min_ == b.min_ && a.max_ == b.max_ &&
           std::abs(a.sum_ - b.sum_) <= 1e-9 * std::max(1.0, std::abs(a.sum_));
  }
  template <class = void>
  friend bool operator!=(const LogHistogram& a, const LogHistogram& b) {
    return !(a == b);
  }

  // Templates on the JSON type: see "deferred" in serialize.hpp.
  template <class Json>
  friend void to_json(Json& j, const LogHistogram& h) {
    // Sparse: only non-empty buckets, as [index, count] pairs.
    Json buckets = Json::array();
    for (std::size_t i = 0; i < h.counts_.size(); ++i)
      if (h.counts_[i]) buckets.push_back({i, h.counts_[i]});
    j = Json{{"relative_accuracy", h.relative_accuracy_},
             {"min_value", h.min_value_},
             {"max_value", h.max_value_},
             {"count", h.count_},
             {"sum", h.sum_},
             {"min", h.min_},
             {"max", h.max_},
             {"zero_count", h.zero_count_},
             {"overflow_count", h.overflow_count_},
             {"buckets", buckets}};
  }
  template <class Json>
  friend void from_json(const Json& j, LogHistogram& h) {
    h = LogHistogram(j.at("relative_accuracy").template get<double>(), j.at("min_value").template get<double>(),
                     j.at("max_value").template get<double>());
    j.at("count").get_to(h.count_);
    j.at("sum").get_to(h.sum_);
    j.at("min").get_to(h.min_);
    j.at("max").get_to(h.max_);
    j.at("zero_count").get_to(h.zero_count_);
    j.at("overflow_count").get_to(h.overflow_count_);
    std::uint64_t total = h.zero_count_ + h.overflow_count_;
    for (const auto& pair : j.at("buckets")) {
      const auto index = pair.at(0).template get<std::size_t>();
      if (index >= h.counts_.size()) throw std::invalid_argument("LogHistogram: bucket index out of range in JSON");
      h.counts_[index] = pair.at(1).template get<std::uint64_t>();
      total += h.counts_[index];
    }
    if (total != h.count_) throw std::invalid_argument("LogHistogram: bucket counts do not add up to count in JSON");
  }

 private:
  long key_of(double value) const { return static_cast<long>(std::ceil(std::log(value) / log_gamma_)); }

  double relative_accuracy_, min_value_, max_value_;
  double gamma_ = 0, log_gamma_ = 0;
  long offset_ = 0;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0, zero_count_ = 0, overflow_count_ = 0;
  double sum_ = 0, min_ = 0, max_ = 0;
};

template <class = void>  // deferred: see serialize.hpp
LogHistogram merge(LogHistogram a, const LogHistogram& b) {
  a.merge(b);
  return a;
}

// The Summary of the samples a histogram holds: count, mean, min and max exact, percentiles within the histogram's
// relative accuracy of the sample at rank floor(p / 100 * (count - 1)) (an interpolating method's value lies between
// that sample and the next). A histogram keeps no spread, so `stddev` comes from whoever kept it (RunningMoments).
// `method` is recorded as given; the histogram reads off the rank as described whatever it is.
template <class = void>  // deferred: see serialize.hpp
Summary summarize_histogram(const LogHistogram& h, double stddev, PercentileMethod method = PercentileMethod::linear) {
  if (h.count() == 0) throw std::invalid_argument("cannot summarize an empty histogram");
  Summary s;
  s.method = method;
  s.count = static_cast<std::size_t>(h.count());
  s.mean = h.mean();
  s.stddev = stddev;
  s.min = h.min();
  s.max = h.max();
  s.p50 = h.percentile(50);
  s.p90 = h.percentile(90);
  s.p95 = h.percentile(95);
  s.p99 = h.percentile(99);
  return s;
}

}  // namespace servebench
