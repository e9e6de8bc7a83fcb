#pragma once

#include <string>
#include <vector>

#include "llm_log_exporter/exposition/family.h"

namespace lle {

/// The exporter's own process_* metrics, named and defined as the Prometheus
/// Go client's process collector does, read from /proc/self at every scrape
/// (prometheus-cpp has none). Needs /proc/self only, not /proc/stat (hidden
/// by systemd's ProcSubset=pid). Holds no state besides the constants read at
/// construction: thread-safe.
class ProcessCollector {
 public:
  ProcessCollector();

  /// False with `*error` if /proc cannot be read (then Collect returns nothing).
  bool Available(std::string* error) const;

  /// process_cpu_seconds_total, process_open_fds, process_max_fds,
  /// process_virtual_memory_bytes, process_resident_memory_bytes,
  /// process_start_time_seconds; a family whose source cannot be read at this
  /// scrape is left out rather than reported as 0.
  std::vector<Family> Collect() const;

 private:
  double ticks_per_second_ = 100;
  double page_size_ = 4096;
  double start_time_ = 0;  // seconds since the epoch, read once (it does not change)
  std::string error_;
};

}  // namespace lle
