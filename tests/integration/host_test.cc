// Host metrics of the whole llm_log_exporter binary: its own process_* series
// read from /proc, and the GPU collector loading NVML at run time. The GPU
// tests load tests/fake_nvml (a libnvidia-ml.so.1 with two fixed GPUs, steered
// by environment variables the daemon inherits) through --gpu.nvml-library,
// i.e. through the same dlopen path as NVIDIA's library.

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.h"
#include "support/daemon.h"
#include "support/exposition.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace lle::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kBinary[] = LLE_BINARY;
constexpr char kFakeNvml[] = LLE_FAKE_NVML;
constexpr char kPromtool[] = LLE_PROMTOOL;
constexpr seconds kDeadline{10};  // only reached when a test fails

// The fake's two GPUs (tests/fake_nvml/fake_nvml.cc).
constexpr char kGpu0[] = "gpu=\"0\",uuid=\"GPU-6f1c2a3b-0d4e-5f60-7182-93a4b5c6d7e8\"";
constexpr char kGpu1[] = "gpu=\"1\",uuid=\"GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\"";

std::string Series(const std::string& name, const char* labels) {
  return name + "{" + labels + "}";
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// Lines of `text` that contain `needle`.
int CountLinesWith(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// Sets an environment variable for the daemons this test starts (they inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

std::optional<double> Scraped(int port, const std::string& series) {
  const HttpResponse response = HttpGet(port, "/metrics");
  if (response.status != 200) return std::nullopt;
  return MetricValue(response.body, series);
}

// Scrapes until `predicate(body)` holds or the deadline passes; the last body.
template <typename Predicate>
::testing::AssertionResult WaitForScrape(int port, Predicate predicate, std::string* body) {
  const auto deadline = Clock::now() + kDeadline;
  for (;;) {
    const HttpResponse response = HttpGet(port, "/metrics");
    *body = response.body;
    if (response.status == 200 && predicate(response.body)) return ::testing::AssertionSuccess();
    if (Clock::now() >= deadline) {
      return ::testing::AssertionFailure() << "condition not met; last scrape:\n" << *body;
    }
    std::this_thread::sleep_for(milliseconds(10));  // poll interval, not a synchronisation
  }
}

std::size_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}

// --- GPU ---------------------------------------------------------------------

TEST(HostTest, GpuMetricsCarryTheValuesNvmlReports) {
  Daemon daemon = LaunchDaemon(kBinary, {std::string("--gpu.nvml-library=") + kFakeNvml});
  EXPECT_EQ(CountLinesWith(daemon.log, "GPU metrics from NVML"), 1) << daemon.log;
  EXPECT_TRUE(Contains(daemon.log, "2 GPU(s)")) << daemon.log;
  std::string body;
  ASSERT_TRUE(WaitForMetrics(daemon.port,
                             {
                                 {Series("nvml_gpu_memory_total_bytes", kGpu0), 85899345920.0},
                                 {Series("nvml_gpu_memory_used_bytes", kGpu0), 19327352832.0},
                                 {Series("nvml_gpu_utilization_ratio", kGpu0), 0.87},
                                 {Series("nvml_gpu_memory_total_bytes", kGpu1), 25769803776.0},
                                 {Series("nvml_gpu_memory_used_bytes", kGpu1), 1073741824.0},
                                 {"llm_log_exporter_nvml_errors_total", 0},
                             },
                             &body));
  // GPU 1 answers NOT_SUPPORTED for utilisation: no series rather than a 0.
  EXPECT_FALSE(Contains(body, Series("nvml_gpu_utilization_ratio", kGpu1))) << body;
  EXPECT_TRUE(Contains(body, "# TYPE nvml_gpu_memory_used_bytes gauge")) << body;
  EXPECT_TRUE(Contains(body, "# TYPE llm_log_exporter_nvml_errors_total counter")) << body;
  // The log-derived gauge of a like meaning stays apart: no log line has set it.
  EXPECT_EQ(MetricValue(body, "qwen_gpu_memory_used_bytes"), std::nullopt) << body;
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
}

TEST(HostTest, MissingNvmlLeavesGpuMetricsAbsentAndLogsOneLine) {
  TempDir dir;
  const std::string missing = dir.File("libnvidia-ml.so.1");
  Daemon daemon = LaunchDaemon(kBinary, {"--gpu.nvml-library=" + missing});
  EXPECT_EQ(CountLinesWith(daemon.log, "GPU"), 1) << daemon.log;
  EXPECT_EQ(CountLinesWith(daemon.log, "GPU metrics off: " + missing), 1) << daemon.log;
  EXPECT_TRUE(Contains(daemon.log, " info ")) << daemon.log;
  daemon.process->Write("{\"status\":\"success\",\"total_time_ms\":100}\n");
  std::string body;
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{"qwen_requests_total{status=\"success\"}", 1}}, &body));
  EXPECT_FALSE(Contains(body, "nvml")) << body;
  EXPECT_TRUE(Contains(body, "process_cpu_seconds_total ")) << body;
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
}

TEST(HostTest, NvmlThatCannotInitialiseLeavesGpuMetricsAbsent) {
  ScopedEnv fail("LLE_FAKE_NVML_INIT_FAIL", "1");
  Daemon daemon = LaunchDaemon(kBinary, {std::string("--gpu.nvml-library=") + kFakeNvml});
  EXPECT_EQ(CountLinesWith(daemon.log, "GPU"), 1) << daemon.log;
  EXPECT_EQ(CountLinesWith(daemon.log, "nvmlInit_v2 failed: Driver Not Loaded (code 9)"), 1)
      << daemon.log;
  const HttpResponse response = HttpGet(daemon.port, "/metrics");
  ASSERT_EQ(response.status, 200);
  EXPECT_FALSE(Contains(response.body, "nvml")) << response.body;
}

TEST(HostTest, LibraryWithoutNvmlFunctionsLeavesGpuMetricsAbsent) {
  // A real shared library that is not NVML: dlopen loads it, dlsym finds no NVML in it.
  Daemon daemon = LaunchDaemon(kBinary, {"--gpu.nvml-library=libz.so.1"});
  EXPECT_EQ(CountLinesWith(daemon.log, "GPU metrics off: libz.so.1: no nvmlInit_v2"), 1)
      << daemon.log;
  const HttpResponse response = HttpGet(daemon.port, "/metrics");
  ASSERT_EQ(response.status, 200);
  EXPECT_FALSE(Contains(response.body, "nvml")) << response.body;
}

TEST(HostTest, NvmlErrorAtScrapeDropsGpuMetricsCountsAndRecovers) {
  TempDir dir;
  const std::string fail_file = dir.File("fail");
  ScopedEnv fail("LLE_FAKE_NVML_FAIL_FILE", fail_file);
  Daemon daemon = LaunchDaemon(kBinary, {std::string("--gpu.nvml-library=") + kFakeNvml});
  const std::string used0 = Series("nvml_gpu_memory_used_bytes", kGpu0);
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{used0, 19327352832.0}}));

  std::ofstream(fail_file) << "lost\n";
  std::string body;
  // Within the cache period the last read is still served; then it fails.
  ASSERT_TRUE(WaitForScrape(
      daemon.port,
      [](const std::string& b) {
        return MetricValue(b, "llm_log_exporter_nvml_errors_total").value_or(0) >= 1;
      },
      &body));
  // Nothing of the failed read, not even the GPUs that did answer: no stale or partial values.
  EXPECT_FALSE(Contains(body, "nvml_gpu_")) << body;
  EXPECT_TRUE(Contains(body, "process_open_fds ")) << body;
  EXPECT_EQ(HttpGet(daemon.port, "/-/healthy").status, 200);

  ASSERT_EQ(unlink(fail_file.c_str()), 0);
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{used0, 19327352832.0}}, &body));
  EXPECT_GE(MetricValue(body, "llm_log_exporter_nvml_errors_total").value_or(0), 1) << body;
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
  // One warning when reads started failing and one line when they recovered,
  // however many scrapes fell in between.
  const std::string log = daemon.process->DrainStderr(seconds(5));
  EXPECT_EQ(CountLinesWith(log,
                           "GPU metrics absent: nvmlDeviceGetMemoryInfo failed: GPU is lost "
                           "(code 15) for GPU 0"),
            1)
      << log;
  EXPECT_EQ(CountLinesWith(log, "GPU metrics back"), 1) << log;
}

TEST(HostTest, FrequentScrapesShareOneNvmlReadPerSecond) {
  TempDir dir;
  const std::string calls = dir.File("calls");
  ScopedEnv env("LLE_FAKE_NVML_CALLS_FILE", calls);
  Daemon daemon = LaunchDaemon(kBinary, {std::string("--gpu.nvml-library=") + kFakeNvml});
  const std::size_t at_start = FileSize(calls);  // the device count read at start-up
  EXPECT_EQ(at_start, 1u);
  const auto start = Clock::now();
  constexpr int kScrapes = 30;
  for (int i = 0; i < kScrapes; ++i) {
    ASSERT_EQ(Scraped(daemon.port, Series("nvml_gpu_memory_used_bytes", kGpu0)), 19327352832.0);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  // One read per started second of scraping at most (the cache is 1 s).
  const std::size_t reads = FileSize(calls) - at_start;
  EXPECT_GE(reads, 1u);
  EXPECT_LE(static_cast<double>(reads), elapsed + 1)
      << kScrapes << " scrapes in " << elapsed << " s";
  EXPECT_LT(reads, static_cast<std::size_t>(kScrapes));
}

TEST(HostTest, GpuDisableDoesNotLoadNvml) {
  TempDir dir;
  const std::string calls = dir.File("calls");
  ScopedEnv env("LLE_FAKE_NVML_CALLS_FILE", calls);
  Daemon daemon =
      LaunchDaemon(kBinary, {std::string("--gpu.nvml-library=") + kFakeNvml, "--gpu.disable"});
  EXPECT_EQ(CountLinesWith(daemon.log, "GPU"), 0) << daemon.log;
  const HttpResponse response = HttpGet(daemon.port, "/metrics");
  ASSERT_EQ(response.status, 200);
  EXPECT_FALSE(Contains(response.body, "nvml")) << response.body;
  EXPECT_EQ(FileSize(calls), 0u);
}

TEST(HostTest, EmptyNvmlLibraryIsAUsageError) {
  const RunResult result = lle::test::Run({kBinary, "--gpu.nvml-library="}, "", kDeadline);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(CountLines(result.err), 1) << result.err;
  EXPECT_TRUE(Contains(result.err, "--gpu.nvml-library")) << result.err;
}

TEST(HostTest, OnceOutputHasNoHostMetrics) {
  // --once describes the log it read; host state would make it depend on the machine.
  const RunResult result =
      lle::test::Run({kBinary, "--once", std::string("--gpu.nvml-library=") + kFakeNvml},
                     "{\"status\":\"success\",\"total_time_ms\":100}\n", kDeadline);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(MetricValue(result.out, "qwen_requests_total{status=\"success\"}"), 1);
  EXPECT_FALSE(Contains(result.out, "process_")) << result.out;
  EXPECT_FALSE(Contains(result.out, "nvml")) << result.out;
  // Nor does stderr speak of host metrics: it holds the summary line alone.
  EXPECT_TRUE(Contains(result.err, "llm_log_exporter: --once: 1 line (request 1, event 0, "))
      << result.err;
  EXPECT_TRUE(Contains(result.err, "), 1 request, ")) << result.err;
  EXPECT_EQ(CountLines(result.err), 1) << result.err;
}

// --- process_* ---------------------------------------------------------------

// Counts the entries of /proc/<pid>/fd, as seen from outside the process.
int CountFds(pid_t pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

// Resident bytes of `pid` from /proc/<pid>/statm.
double ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  double size = 0;
  double resident = 0;
  in >> size >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Start time of `pid` in seconds since the epoch, from /proc/stat's btime and
// field 22 of /proc/<pid>/stat.
std::optional<double> StartTimeFromProcStat(pid_t pid) {
  std::ifstream stat_file("/proc/stat");
  double boot_time = -1;
  for (std::string key; stat_file >> key;) {
    if (key == "btime") stat_file >> boot_time;
  }
  std::ifstream pid_file("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(pid_file)), std::istreambuf_iterator<char>());
  const std::size_t paren = text.rfind(')');
  if (boot_time < 0 || paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) fields >> field;
  if (!fields) return std::nullopt;
  return boot_time + std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

TEST(HostTest, ProcessMetricsDescribeTheDaemonProcess) {
  // A soft fd limit the daemon inherits and must report exactly.
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const rlim_t kLimit = std::min<rlim_t>(saved.rlim_max, 1000 + 234);
  rlimit lowered = saved;
  lowered.rlim_cur = kLimit;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const double launched = static_cast<double>(std::time(nullptr));
  Daemon daemon = LaunchDaemon(kBinary, {"--gpu.disable"});
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);

  HttpResponse first = HttpGet(daemon.port, "/metrics");
  ASSERT_EQ(first.status, 200);
  const double now = static_cast<double>(std::time(nullptr));
  const auto value = [](const std::string& body, const char* name) {
    const std::optional<double> v = MetricValue(body, name);
    EXPECT_TRUE(v.has_value()) << name << " missing from:\n" << body;
    return v.value_or(-1);
  };
  EXPECT_EQ(value(first.body, "process_max_fds"), static_cast<double>(kLimit));
  const double fds = value(first.body, "process_open_fds");
  EXPECT_GE(fds, 3);  // stdin, stdout, stderr at least
  EXPECT_LE(fds, static_cast<double>(kLimit));
  // Seen from outside at about the same time; scrape connections come and go.
  EXPECT_NEAR(fds, CountFds(daemon.process->pid()), 4);
  const double resident = value(first.body, "process_resident_memory_bytes");
  EXPECT_GT(resident, 1 << 20);
  EXPECT_NEAR(resident, ResidentBytes(daemon.process->pid()), resident / 2);
  EXPECT_GE(value(first.body, "process_virtual_memory_bytes"), resident);
  const double started = value(first.body, "process_start_time_seconds");
  EXPECT_GE(started, launched - 1);
  EXPECT_LE(started, now + 1);
  // As the kernel has it: btime of /proc/stat (whole seconds) plus the start
  // ticks of /proc/<pid>/stat, seen from outside.
  const std::optional<double> kernel_started = StartTimeFromProcStat(daemon.process->pid());
  ASSERT_TRUE(kernel_started.has_value());
  EXPECT_NEAR(started, *kernel_started, 1);
  const double cpu_before = value(first.body, "process_cpu_seconds_total");
  EXPECT_GE(cpu_before, 0);
  EXPECT_TRUE(Contains(first.body, "# TYPE process_cpu_seconds_total counter")) << first.body;
  EXPECT_TRUE(Contains(first.body, "# TYPE process_resident_memory_bytes gauge")) << first.body;

  // Work to do: the counter must have moved on, never back. The kernel counts
  // CPU time in ticks of 10 ms, and 50,000 lines may take less than one, so
  // batches are fed until it has moved (or the deadline passes).
  std::string log;
  constexpr int kLines = 50000;
  for (int i = 0; i < kLines; ++i) {
    log += "{\"status\":\"success\",\"total_time_ms\":" + std::to_string(i % 5000) +
           ",\"input_tokens\":300,\"output_tokens\":40}\n";
  }
  std::string second;
  double cpu_after = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int batches = 1; cpu_after <= 0 && std::chrono::steady_clock::now() < deadline; ++batches) {
    daemon.process->Write(log);
    ASSERT_TRUE(WaitForMetrics(
        daemon.port, {{"qwen_requests_total{status=\"success\"}", batches * kLines}}, &second));
    cpu_after = value(second, "process_cpu_seconds_total");
  }
  EXPECT_GT(cpu_after, 0);
  EXPECT_GE(cpu_after, cpu_before);
  EXPECT_EQ(value(second, "process_start_time_seconds"), started);
}

TEST(HostTest, ProcessMetricsNeedNoProcStat) {
  // The shipped systemd unit's ProcSubset=pid: a /proc mounted with
  // subset=pid, which has /proc/self but no /proc/stat, made by unshare(1) in
  // user, mount and PID namespaces of its own.
  constexpr char kUnshare[] = "/usr/bin/unshare";
  constexpr char kSubsetPid[] = "mount -t proc -o subset=pid proc /proc && test ! -e /proc/stat";
  if (access(kUnshare, X_OK) != 0) GTEST_SKIP() << kUnshare << " not found (util-linux)";
  const RunResult probe = lle::test::Run({kUnshare, "-rmpf", "sh", "-c", kSubsetPid}, "", kDeadline);
  if (probe.exit_code != 0) {
    GTEST_SKIP() << "no user namespaces or proc subset=pid here: " << probe.err;
  }
  // The daemon with LaunchDaemon's flags, PID 1 of its namespaces. With
  // --kill-child it gets SIGTERM when the test's SIGKILL ends unshare.
  TempDir dir;
  const std::string wrapper = dir.File("in-subset-pid");
  std::ofstream(wrapper) << "#!/bin/sh\nexec " << kUnshare << " -rmpf --kill-child=SIGTERM sh -c '"
                         << kSubsetPid << " && exec \"$0\" \"$@\"' " << kBinary << " \"$@\"\n";
  ASSERT_EQ(chmod(wrapper.c_str(), 0755), 0);
  const double launched = static_cast<double>(std::time(nullptr));
  Daemon daemon = LaunchDaemon(wrapper, {"--gpu.disable"});
  EXPECT_FALSE(Contains(daemon.log, "process_* metrics off")) << daemon.log;
  const HttpResponse response = HttpGet(daemon.port, "/metrics");
  ASSERT_EQ(response.status, 200);
  const double now = static_cast<double>(std::time(nullptr));
  const std::optional<double> started = MetricValue(response.body, "process_start_time_seconds");
  ASSERT_TRUE(started.has_value()) << response.body;
  EXPECT_GE(*started, launched - 1);
  EXPECT_LE(*started, now + 1);
  EXPECT_TRUE(Contains(response.body, "process_cpu_seconds_total ")) << response.body;
  EXPECT_TRUE(Contains(response.body, "process_open_fds ")) << response.body;
}

TEST(HostTest, PromtoolAcceptsAScrapeWithHostMetrics) {
  if (std::string(kPromtool).empty()) GTEST_SKIP() << "promtool not found at configure time";
  Daemon daemon = LaunchDaemon(kBinary, {std::string("--gpu.nvml-library=") + kFakeNvml});
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Series("nvml_gpu_utilization_ratio", kGpu0), 0.87}},
                             &exposition));
  ASSERT_TRUE(Contains(exposition, "process_cpu_seconds_total ")) << exposition;
  EXPECT_TRUE(PromtoolAccepts(kPromtool, exposition));
}

}  // namespace
}  // namespace lle::test
