// servebench — open-loop arrival processes (constant, Poisson, gamma), sampled from a seed with arithmetic written
// out here so that a seed repeats a schedule on every platform.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "../record.hpp"
#include "../result.hpp"
#include "../workload.hpp"
#include "options.hpp"

namespace servebench {

namespace detail {

// The sampling is written out here rather than taken from <random>: the standard fixes mt19937's output but not
// what exponential_distribution or gamma_distribution make of it, and a seed must repeat a run on any platform.
class ArrivalSampler {
 public:
  ArrivalSampler(double rate, Arrival arrival, double burstiness, std::uint64_t seed)
      : rate_(rate), arrival_(arrival), burstiness_(burstiness), state_(seed) {
    if (!(rate > 0) || !std::isfinite(rate)) throw std::invalid_argument("servebench: arrival rate must be > 0");
    if (arrival == Arrival::gamma && (!(burstiness > 0) || !std::isfinite(burstiness)))
      throw std::invalid_argument("servebench: gamma burstiness must be > 0");
  }

  // The next inter-arrival gap, seconds.
  double next_gap_s() {
    switch (arrival_) {
      case Arrival::constant: return 1.0 / rate_;
      case Arrival::poisson: return -std::log(uniform_open()) / rate_;
      case Arrival::gamma: return gamma(burstiness_) / (rate_ * burstiness_);
    }
    return 1.0 / rate_;
  }

 private:
  // Uniform on (0, 1), never 0 or 1, from the top 53 bits.
  double uniform_open() { return (static_cast<double>(splitmix64(state_) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

  double standard_normal() {  // Box–Muller, one value per pair: simple and deterministic
    const double u1 = uniform_open(), u2 = uniform_open();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  // Marsaglia & Tsang (2000), with the shape < 1 boost: Gamma(a) = Gamma(a + 1) * U^(1/a). Unit scale.
  double gamma(double shape) {
    if (shape < 1.0) return gamma(shape + 1.0) * std::pow(uniform_open(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = standard_normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform_open();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

  double rate_;
  Arrival arrival_;
  double burstiness_;
  std::uint64_t state_;
};

// Arrivals under a rate ramp: gaps drawn at rate 1 in the ramp's cumulative intensity L(t) = integral of the rate,
// then mapped back to time by inverting L (a time change of the arrival process, exact for Poisson).
template <class = void>  // deferred: see serialize.hpp
std::vector<Nanos> ramp_offsets(const OpenLoop& options, const OpenLoop::Ramp& ramp, std::uint64_t count,
                                Nanos duration) {
  const double a = ramp.from, b = ramp.to, span = std::chrono::duration<double>(ramp.over).count();
  if (!(a > 0) || !(b > 0) || !std::isfinite(a) || !std::isfinite(b) || !(span > 0))
    throw std::invalid_argument("servebench: a ramp needs rates > 0 and a duration > 0 (FROM:TO:SECONDS)");
  if (count == 0 && duration == 0) duration = ramp.over.count();
  const bool flat = std::fabs(b - a) < 1e-12 * a;
  const double k = std::log(b / a);
  const double at_end = ramp.exponential && !flat ? a * span * (b / a - 1) / k : (a + b) / 2 * span;
  auto time_of = [&](double intensity) {  // L^-1
    if (intensity >= at_end) return span + (intensity - at_end) / b;
    if (flat) return intensity / a;
    if (ramp.exponential) return span * std::log1p(intensity * k / (a * span)) / k;
    const double slope = (b - a) / span;  // a t + slope t^2 / 2 = intensity
    return (-a + std::sqrt(a * a + 2 * slope * intensity)) / slope;
  };
  ArrivalSampler sampler(1.0, options.distribution(), options.burstiness(), options.seed());
  std::vector<Nanos> offsets;
  double intensity = 0;
  for (;;) {
    if (count > 0 && offsets.size() >= count) break;
    const auto at = static_cast<Nanos>(std::llround(time_of(intensity) * 1e9));
    if (duration > 0 && at >= duration) break;
    offsets.push_back(at);
    intensity += sampler.next_gap_s();
  }
  return offsets;
}

}  // namespace detail

// `count` inter-arrival gaps in seconds, exactly what an open loop with these settings waits between arrivals.
template <class = void>  // deferred: see serialize.hpp
std::vector<double> inter_arrival_gaps_s(std::size_t count, double rate, Arrival arrival, double burstiness = 1.0,
                                         std::uint64_t seed = 0) {
  detail::ArrivalSampler sampler(rate, arrival, burstiness, seed);
  std::vector<double> gaps(count);
  for (auto& g : gaps) g = sampler.next_gap_s();
  return gaps;
}

// Arrival times of the measured requests, nanoseconds after the start of the measured phase: the first at 0, then
// the sampled gaps; as many as requests(), or those before duration(). `workload_size` stands in for requests() when
// neither a count nor a duration is set.
template <class = void>  // deferred: see serialize.hpp
std::vector<Nanos> arrival_offsets(const OpenLoop& options, std::optional<std::uint64_t> workload_size = std::nullopt) {
  std::uint64_t count = options.requests();
  Nanos duration = options.duration().count();
  if (!options.schedule().empty()) {
    std::vector<Nanos> offsets;
    for (const Nanos at : options.schedule()) {
      if (at < 0 || (!offsets.empty() && at < offsets.back()))
        throw std::invalid_argument("servebench: an arrival schedule must be non-negative and non-decreasing");
      if ((count > 0 && offsets.size() >= count) || (duration > 0 && at >= duration)) break;
      offsets.push_back(at);
    }
    return offsets;
  }
  if (const auto* ramp = options.ramp_up()) return detail::ramp_offsets(options, *ramp, count, duration);
  if (count == 0 && duration == 0) {
    if (!workload_size)
      throw std::invalid_argument("servebench: an open loop over an infinite workload needs requests() or duration()");
    count = *workload_size;
  }
  detail::ArrivalSampler sampler(options.rate(), options.distribution(), options.burstiness(), options.seed());
  std::vector<Nanos> offsets;
  double t = 0;  // accumulated in seconds, rounded once per arrival, so rounding errors never add up
  for (;;) {
    if (count > 0 && offsets.size() >= count) break;
    const auto at = static_cast<Nanos>(std::llround(t * 1e9));
    if (duration > 0 && at >= duration) break;
    offsets.push_back(at);
    t += sampler.next_gap_s();
  }
  return offsets;
}

}  // namespace servebench
