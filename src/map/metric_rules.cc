#include "llm_log_exporter/map/metric_rules.h"

namespace lle {

std::vector<double> OneTwoFiveBuckets(double max) {
  std::vector<double> out;
  for (double decade = 1;; decade *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m * decade >= max) {
        out.push_back(max);
        return out;
      }
      out.push_back(m * decade);
    }
  }
}

}  // namespace lle
