#include "llm_log_exporter/host/process_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace lle {
namespace {

// Reads a small /proc file whole into `buf` (NUL-terminated); the byte count, or -1.
ssize_t ReadSmallFile(const char* path, char* buf, std::size_t size) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::size_t used = 0;
  while (used + 1 < size) {
    const ssize_t n = read(fd, buf + used, size - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  close(fd);
  buf[used] = '\0';
  return static_cast<ssize_t>(used);
}

// The fields of /proc/self/stat that the collector uses (proc(5) numbering).
struct Stat {
  double utime_ticks = 0;      // 14
  double stime_ticks = 0;      // 15
  double starttime_ticks = 0;  // 22, since boot
  double vsize_bytes = 0;      // 23
  double rss_pages = 0;        // 24
};

bool ReadStat(Stat* out) {
  char buf[1024];
  if (ReadSmallFile("/proc/self/stat", buf, sizeof buf) <= 0) return false;
  // Field 2 is the command name in parentheses and may itself hold spaces or
  // ')': the fields after it start after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return false;
  ++p;
  double fields[25] = {};
  for (int field = 3; field <= 24; ++field) {
    while (*p == ' ') ++p;
    if (*p == '\0') return false;
    if (field == 3) {  // the state letter
      while (*p != ' ' && *p != '\0') ++p;
      continue;
    }
    char* end = nullptr;
    fields[field] = std::strtod(p, &end);
    if (end == p) return false;
    p = end;
  }
  out->utime_ticks = fields[14];
  out->stime_ticks = fields[15];
  out->starttime_ticks = fields[22];
  out->vsize_bytes = fields[23];
  out->rss_pages = fields[24];
  return true;
}

// The boot time in seconds since the epoch: the wall clock less the time since
// boot (CLOCK_BOOTTIME counts suspended time too, as the kernel's starttime
// does). /proc/stat's btime says the same, but systemd's ProcSubset=pid hides
// /proc/stat; the clocks need no file. -1 if a clock cannot be read.
double BootTime() {
  timespec real{};
  timespec boot{};
  if (clock_gettime(CLOCK_REALTIME, &real) != 0 || clock_gettime(CLOCK_BOOTTIME, &boot) != 0) {
    return -1;
  }
  return static_cast<double>(real.tv_sec - boot.tv_sec) +
         static_cast<double>(real.tv_nsec - boot.tv_nsec) / 1e9;
}

// Entries of /proc/self/fd (the directory's own descriptor included, as in
// the Go client), or -1.
double CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

Family OneSeries(const char* name, const char* help, MetricType type, double value) {
  Family family;
  family.name = name;
  family.help = help;
  family.type = type;
  family.series.emplace_back();
  family.series.back().value = value;
  return family;
}

}  // namespace

ProcessCollector::ProcessCollector() {
  const long ticks = sysconf(_SC_CLK_TCK);
  if (ticks > 0) ticks_per_second_ = static_cast<double>(ticks);
  const long page = sysconf(_SC_PAGESIZE);
  if (page > 0) page_size_ = static_cast<double>(page);
  Stat stat;
  const double boot_time = BootTime();
  if (!ReadStat(&stat)) {
    error_ = std::string("cannot read /proc/self/stat: ") + std::strerror(errno);
  } else if (boot_time < 0) {
    error_ = std::string("cannot read the boot time: ") + std::strerror(errno);
  } else {
    start_time_ = boot_time + stat.starttime_ticks / ticks_per_second_;
  }
}

bool ProcessCollector::Available(std::string* error) const {
  if (error != nullptr) *error = error_;
  return error_.empty();
}

std::vector<Family> ProcessCollector::Collect() const {
  std::vector<Family> families;
  if (!error_.empty()) return families;
  // Help texts as the Go client's, so dashboards built on it read the same.
  Stat stat;
  const bool have_stat = ReadStat(&stat);
  if (have_stat) {
    families.push_back(
        OneSeries("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                  MetricType::kCounter, (stat.utime_ticks + stat.stime_ticks) / ticks_per_second_));
  }
  const double open_fds = CountOpenFds();
  if (open_fds >= 0) {
    families.push_back(OneSeries("process_open_fds", "Number of open file descriptors.",
                                 MetricType::kGauge, open_fds));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    // RLIM_INFINITY is reported as its value, as the Go client does.
    families.push_back(OneSeries("process_max_fds", "Maximum number of open file descriptors.",
                                 MetricType::kGauge, static_cast<double>(limit.rlim_cur)));
  }
  if (have_stat) {
    families.push_back(OneSeries("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                 MetricType::kGauge, stat.vsize_bytes));
    families.push_back(OneSeries("process_resident_memory_bytes", "Resident memory size in bytes.",
                                 MetricType::kGauge, stat.rss_pages * page_size_));
    families.push_back(OneSeries("process_start_time_seconds",
                                 "Start time of the process since unix epoch in seconds.",
                                 MetricType::kGauge, start_time_));
  }
  return families;
}

}  // namespace lle
