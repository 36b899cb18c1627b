// Tests for workload/lengths.hpp. Expected moments come from scipy.stats, computed outside the code under test:
//   stats.randint(256, 769).mean(), .std()              -> 512.0, 148.09006268709143 (uniform 512, ratio 0.5)
//   stats.norm(256, 64)                                 -> 256, 64
//   stats.lognorm(sqrt(log1p(32**2/128**2)), scale=exp(log(128) - log1p(32**2/128**2)/2)) -> mean 128, std 32
// Over 10,000 draws the sample mean and standard deviation must be within 2% of those, for three seeds.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <servebench/workload/lengths.hpp>

using namespace servebench;

namespace {
struct Moments {
  double mean = 0, sd = 0;
  std::int64_t min = 0, max = 0;
};
Moments moments(const LengthDistribution& d, std::uint64_t seed, int n = 10000) {
  std::vector<double> x;
  Moments m;
  m.min = INT64_MAX;
  m.max = INT64_MIN;
  for (int i = 0; i < n; ++i) {
    const auto v = d.draw(seed, static_cast<std::uint64_t>(i));
    x.push_back(static_cast<double>(v));
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
  }
  for (double v : x) m.mean += v / n;
  double ss = 0;
  for (double v : x) ss += (v - m.mean) * (v - m.mean);
  m.sd = std::sqrt(ss / (n - 1));
  return m;
}
}  // namespace

TEST_CASE("length distributions match their parameters over 10,000 draws for three seeds") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    const auto fixed = moments(LengthDistribution::fixed(300), seed);
    CHECK(fixed.min == 300);
    CHECK(fixed.max == 300);

    const auto uniform = moments(LengthDistribution::uniform(512, 0.5), seed);
    CHECK(uniform.mean == doctest::Approx(512.0).epsilon(0.02));
    CHECK(uniform.sd == doctest::Approx(148.09006268709143).epsilon(0.02));
    CHECK(uniform.min == 256);  // vLLM's bounds: floor(512 * 0.5), ceil(512 * 1.5), both reached
    CHECK(uniform.max == 768);

    const auto normal = moments(LengthDistribution::normal(256, 64), seed);
    CHECK(normal.mean == doctest::Approx(256.0).epsilon(0.02));
    CHECK(normal.sd == doctest::Approx(64.0).epsilon(0.02));

    const auto lognormal = moments(LengthDistribution::lognormal(128, 32), seed);
    CHECK(lognormal.mean == doctest::Approx(128.0).epsilon(0.02));
    CHECK(lognormal.sd == doctest::Approx(32.0).epsilon(0.02));
  }
}

TEST_CASE("clamping keeps every draw within [min, max]") {
  const auto m = moments(LengthDistribution::normal(100, 200, 10, 150), 7);
  CHECK(m.min == 10);
  CHECK(m.max == 150);
}

TEST_CASE("the same seed gives the same lengths; another seed or salt other lengths") {
  const auto d = LengthDistribution::lognormal(512, 256);
  std::vector<std::int64_t> a, b, c, salted;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    a.push_back(d.draw(42, i));
    b.push_back(d.draw(42, i));
    c.push_back(d.draw(43, i));
    salted.push_back(d.draw(42, i, 1));
  }
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != salted);
}

TEST_CASE("parameters out of range are refused with the parameter named") {
  CHECK_THROWS_WITH_AS(LengthDistribution::uniform(100, 1.5), doctest::Contains("range ratio"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(LengthDistribution::normal(0, 1), doctest::Contains("mean"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(LengthDistribution::normal(10, -1), doctest::Contains("standard deviation"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(LengthDistribution::normal(10, 1, 20, 5), doctest::Contains("bounds"), std::invalid_argument);
}
