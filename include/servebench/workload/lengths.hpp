// servebench — length distributions for prompts and replies: fixed, uniform with a range ratio (vLLM's
// --random-range-ratio), normal and log-normal, clamped to [min, max]. A draw is a pure function of (seed, index),
// built on splitmix64 and Box-Muller rather than <random>'s distributions (whose output differs between standard
// libraries), so the same seed gives the same lengths on every run and every platform.
//
//   auto in  = servebench::LengthDistribution::uniform(512, 0.5);        // integers in [256, 768]
//   auto out = servebench::LengthDistribution::lognormal(128, 64, 1, 1024);
//   std::int64_t n = in.draw(/*seed=*/1, /*index=*/42);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "../serialize.hpp"
#include "../workload.hpp"  // detail::splitmix64

namespace servebench {

enum class LengthShape { fixed, uniform, normal, lognormal };

template <>
struct EnumNames<LengthShape> {
  static constexpr const char* what = "length distribution";
  static constexpr EnumName<LengthShape> entries[] = {{LengthShape::fixed, "fixed"},
                                                      {LengthShape::uniform, "uniform"},
                                                      {LengthShape::normal, "normal"},
                                                      {LengthShape::lognormal, "lognormal"}};
};
SERVEBENCH_ENUM_JSON(LengthShape)

namespace detail {

// Two independent uniform doubles in (0, 1] from the stream of (seed, index, salt).
inline std::pair<double, double> uniform_pair(std::uint64_t seed, std::uint64_t index, std::uint64_t salt) noexcept {
  std::uint64_t state = seed ^ (salt * 0x9E3779B97F4A7C15ULL);
  state = splitmix64(state) ^ (index * 0xD1B54A32D192ED03ULL);
  const std::uint64_t a = splitmix64(state), b = splitmix64(state);
  constexpr double scale = 1.0 / 9007199254740992.0;  // 2^-53
  return {(static_cast<double>(a >> 11) + 1.0) * scale, (static_cast<double>(b >> 11) + 1.0) * scale};
}

}  // namespace detail

// Lengths in tokens. `mean` is the fixed length, the centre of the uniform range, or the mean of the (unclamped)
// normal or log-normal; `stddev` their standard deviation (of the lengths themselves for the log-normal).
struct LengthDistribution {
  LengthShape shape = LengthShape::fixed;
  double mean = 128;
  double range_ratio = 0;  // uniform: integers in [floor(mean * (1 - r)), ceil(mean * (1 + r))], 0 <= r < 1
  double stddev = 0;       // normal, lognormal
  std::int64_t min = 1;    // every draw is clamped to [min, max]
  std::int64_t max = std::numeric_limits<std::int32_t>::max();

  static LengthDistribution fixed(std::int64_t n) {
    LengthDistribution d;
    d.mean = static_cast<double>(n);
    d.min = std::min<std::int64_t>(1, n);
    d.validate();
    return d;
  }
  static LengthDistribution uniform(double mean, double range_ratio) {
    LengthDistribution d;
    d.shape = LengthShape::uniform;
    d.mean = mean;
    d.range_ratio = range_ratio;
    d.validate();
    return d;
  }
  static LengthDistribution normal(double mean, double stddev, std::int64_t min = 1,
                                   std::int64_t max = std::numeric_limits<std::int32_t>::max()) {
    return spread(LengthShape::normal, mean, stddev, min, max);
  }
  static LengthDistribution lognormal(double mean, double stddev, std::int64_t min = 1,
                                      std::int64_t max = std::numeric_limits<std::int32_t>::max()) {
    return spread(LengthShape::lognormal, mean, stddev, min, max);
  }

  // Throws std::invalid_argument naming the parameter that is out of range.
  void validate() const {
    auto fail = [](const std::string& why) { throw std::invalid_argument("servebench::LengthDistribution: " + why); };
    if (!(mean >= 1) || !std::isfinite(mean)) fail("the mean length must be >= 1");
    if (!(range_ratio >= 0 && range_ratio < 1)) fail("the range ratio must be in [0, 1)");
    if (!(stddev >= 0) || !std::isfinite(stddev)) fail("the standard deviation must be >= 0");
    if (min < 0 || max < min) fail("the bounds must satisfy 0 <= min <= max");
  }

  // The smallest and largest length a uniform draw gives (vLLM's bounds).
  std::pair<std::int64_t, std::int64_t> uniform_bounds() const {
    return {static_cast<std::int64_t>(std::floor(mean * (1 - range_ratio))),
            static_cast<std::int64_t>(std::ceil(mean * (1 + range_ratio)))};
  }

  // The length of draw `index` of stream `seed`; `salt` separates streams that share a seed (input from output).
  std::int64_t draw(std::uint64_t seed, std::uint64_t index, std::uint64_t salt = 0) const {
    const auto [u1, u2] = detail::uniform_pair(seed, index, salt);
    double x = mean;
    switch (shape) {
      case LengthShape::fixed: break;
      case LengthShape::uniform: {
        const auto [low, high] = uniform_bounds();
        const auto span = static_cast<double>(high - low + 1);
        x = static_cast<double>(low) + std::min(std::floor((1.0 - u1) * span), span - 1);
        break;
      }
      case LengthShape::normal: x = mean + stddev * standard_normal(u1, u2); break;
      case LengthShape::lognormal: {
        const double sigma2 = std::log1p((stddev * stddev) / (mean * mean));
        x = std::exp(std::log(mean) - sigma2 / 2 + std::sqrt(sigma2) * standard_normal(u1, u2));
        break;
      }
    }
    const double clamped = std::min(std::max(std::round(x), static_cast<double>(min)), static_cast<double>(max));
    return static_cast<std::int64_t>(clamped);
  }

 private:
  static double standard_normal(double u1, double u2) {  // Box-Muller, u1 in (0, 1]
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  static LengthDistribution spread(LengthShape shape, double mean, double stddev, std::int64_t min, std::int64_t max) {
    LengthDistribution d;
    d.shape = shape;
    d.mean = mean;
    d.stddev = stddev;
    d.min = min;
    d.max = max;
    d.validate();
    return d;
  }
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LengthDistribution*) {
  using D = LengthDistribution;
  return field_list<Deferred>(required("shape", &D::shape), required("mean", &D::mean),
                              field("range_ratio", &D::range_ratio), field("stddev", &D::stddev), field("min", &D::min),
                              field("max", &D::max));
}

}  // namespace servebench
