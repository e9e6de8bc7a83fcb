#include "llm_log_exporter/map/metric_rules.h"

#include <cmath>

namespace lle {
namespace {

// m × 10^e, computed so that decimal bounds (0.001, 0.005) are the nearest
// doubles, as if written out: 10^-3 by division, not by repeated × 0.1.
double Decimal(double m, int e) { return e >= 0 ? m * std::pow(10.0, e) : m / std::pow(10.0, -e); }

}  // namespace

std::vector<double> OneTwoFiveBuckets(double max, double start) {
  std::vector<double> out;
  // start = s × 10^e with s in [1, 10).
  const int e0 = static_cast<int>(std::floor(std::log10(start) + 1e-9));
  const double s = start / std::pow(10.0, e0);
  for (int e = e0;; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (e == e0 && m < s - 1e-9) continue;
      const double bound = Decimal(m, e);
      if (bound >= max) {
        out.push_back(max);
        return out;
      }
      out.push_back(bound);
    }
  }
}

std::vector<double> LinearBuckets(double start, double width, std::size_t count) {
  std::vector<double> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(start + width * static_cast<double>(i));
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor, std::size_t count) {
  std::vector<double> out;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(start * std::pow(factor, static_cast<double>(i)));
  }
  return out;
}

}  // namespace lle
