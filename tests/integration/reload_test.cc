// --config.file, --check-config and reloads (SIGHUP, POST /-/reload) of the
// real binary: configs written to a temporary directory, lines on stdin,
// results read from /metrics over HTTP.

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/child_process.h"
#include "support/daemon.h"
#include "support/exposition.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace lle::test {
namespace {

namespace fs = std::filesystem;

constexpr char kBinary[] = LLE_BINARY;
constexpr auto kDeadline = std::chrono::seconds(20);

// Requests by status, a latency histogram and a token counter.
constexpr char kConfigA[] = R"(namespace: t
requests: {keys: [status]}
metrics:
  - {name: requests_total, type: counter,
     labels: [{name: status, values: [ok], max_values: 4}]}
  - {name: latency_ms, type: histogram, value: ms, buckets: [100]}
  - {name: tokens_total, type: counter, value: tokens}
)";

// Keeps requests_total as it is, drops tokens_total, changes the latency
// buckets (so that histogram starts again) and adds errors_total.
constexpr char kConfigB[] = R"(namespace: t
requests: {keys: [status]}
metrics:
  - {name: requests_total, type: counter,
     labels: [{name: status, values: [ok], max_values: 4}]}
  - {name: latency_ms, type: histogram, value: ms, buckets: [100, 200]}
  - {name: errors_total, type: counter, match: [{field: status, not_equals: ok}]}
)";

// 64 histograms of 200 buckets with `labels`. Issue 17, item 5: with a label
// of up to 10,000 values, each writer's copy of the store is 1 GB.
std::string HugeConfig(const std::string& labels = "[{name: status, max_values: 10000}]") {
  std::string text = "namespace: t\nrequests: {keys: [status, code]}\nmetrics:\n";
  for (int i = 0; i < 64; ++i) {
    text += "  - {name: h" + std::to_string(i) +
            ", type: histogram, value: ms, buckets: {linear: {start: 1, width: 1, count: 200}}, "
            "labels: " +
            labels + "}\n";
  }
  return text;
}

constexpr char kOkLine[] = "{\"status\":\"ok\",\"ms\":50,\"tokens\":10}\n";

class ReloadTest : public testing::Test {
 protected:
  void SetUp() override { config_ = dir_.File("c.yaml"); }

  // Replaces the config file whole (as editors and config management do).
  void WriteConfig(const std::string& text) {
    const std::string tmp = dir_.File("c.yaml.tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, config_);
  }

  Daemon Launch(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {"--config.file", config_};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return LaunchDaemon(kBinary, flags);
  }

  TempDir dir_;
  std::string config_;
};

TEST_F(ReloadTest, SighupKeepsCountersAndAppliesTheNewRules) {
  WriteConfig(kConfigA);
  Daemon d = Launch();
  for (int i = 0; i < 3; ++i) d.process->Write(kOkLine);
  ASSERT_TRUE(WaitForMetrics(
      d.port,
      {{"t_requests_total{status=\"ok\"}", 3}, {"t_tokens_total", 30}, {"t_latency_ms_count", 3}}));
  WriteConfig(kConfigB);
  d.process->Signal(SIGHUP);
  std::string scrape;
  ASSERT_TRUE(WaitForMetrics(d.port,
                             {{"llm_log_exporter_config_reloads_total{outcome=\"success\"}", 1},
                              {"llm_log_exporter_config_last_reload_successful", 1},
                              {"t_requests_total{status=\"ok\"}", 3},  // kept
                              {"t_latency_ms_count", 0},               // other buckets: anew
                              {"t_errors_total", 0}},                  // new
                             &scrape));
  EXPECT_FALSE(MetricValue(scrape, "t_tokens_total").has_value()) << scrape;
  d.process->Write("{\"status\":\"bad\",\"ms\":150,\"tokens\":5}\n");
  d.process->Write(kOkLine);
  ASSERT_TRUE(WaitForMetrics(d.port,
                             {{"t_requests_total{status=\"ok\"}", 4},
                              {"t_requests_total{status=\"bad\"}", 1},
                              {"t_errors_total", 1},
                              {"t_latency_ms_bucket{le=\"200\"}", 2},
                              {"t_latency_ms_count", 2}},
                             &scrape));
  EXPECT_FALSE(MetricValue(scrape, "t_tokens_total").has_value()) << scrape;
  EXPECT_TRUE(StopsCleanlyWithin(*d.process, SIGTERM, std::chrono::seconds(5)));
}

TEST_F(ReloadTest, AFailedReloadKeepsTheOldConfigServing) {
  WriteConfig(kConfigA);
  Daemon d = Launch();
  d.process->Write(kOkLine);
  ASSERT_TRUE(WaitForMetrics(d.port, {{"t_tokens_total", 10}}));
  WriteConfig(std::string(kConfigA) + "  - {name: x, type: counter, bukets: [1]}\n");
  d.process->Signal(SIGHUP);
  const std::string log = d.process->ReadStderrUntil("reload failed", kDeadline);
  EXPECT_NE(log.find(config_ + ":8:30: metrics[3].bukets: unknown key"), std::string::npos) << log;
  d.process->Write(kOkLine);
  ASSERT_TRUE(
      WaitForMetrics(d.port, {{"llm_log_exporter_config_reloads_total{outcome=\"failure\"}", 1},
                              {"llm_log_exporter_config_reloads_total{outcome=\"success\"}", 0},
                              {"llm_log_exporter_config_last_reload_successful", 0},
                              {"t_tokens_total", 20},  // the old rules still count
                              {"t_requests_total{status=\"ok\"}", 2}}));
  // Fixed, the next reload succeeds and keeps the counts.
  WriteConfig(kConfigA);
  d.process->Signal(SIGHUP);
  ASSERT_TRUE(
      WaitForMetrics(d.port, {{"llm_log_exporter_config_reloads_total{outcome=\"success\"}", 1},
                              {"llm_log_exporter_config_last_reload_successful", 1},
                              {"t_tokens_total", 20}}));
}

// A config name that is a FIFO (or a device, or a huge file) is refused
// unread: before, the reload blocked in open() for ever, and SIGTERM with it.
TEST_F(ReloadTest, AConfigThatIsNotARegularFileFailsTheReloadAtOnce) {
  WriteConfig(kConfigA);
  Daemon d = Launch();
  ASSERT_EQ(unlink(config_.c_str()), 0);
  ASSERT_EQ(mkfifo(config_.c_str(), 0600), 0);
  d.process->Signal(SIGHUP);
  const std::string log = d.process->ReadStderrUntil("reload failed", kDeadline);
  EXPECT_NE(log.find("SIGHUP: reload failed, the previous config stays in force: " + config_ +
                     ": not a regular file\n"),
            std::string::npos)
      << log;
  d.process->Write(kOkLine);
  ASSERT_TRUE(
      WaitForMetrics(d.port, {{"llm_log_exporter_config_reloads_total{outcome=\"failure\"}", 1},
                              {"llm_log_exporter_config_last_reload_successful", 0},
                              {"t_tokens_total", 10}}));
  EXPECT_TRUE(StopsCleanlyWithin(*d.process, SIGTERM, std::chrono::seconds(5)));
  // At start too: one line, exit 1.
  const RunResult start = ::lle::test::Run({kBinary, "--config.file", config_}, "");
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_EQ(start.err, "llm_log_exporter: --config.file: " + config_ + ": not a regular file\n");
}

// The store's worst case is estimated from the config and refused over
// --store.max-bytes: by --check-config, at start and on reload, with one line
// naming the largest metrics.
TEST_F(ReloadTest, AConfigWhoseStoreIsOverTheBudgetIsRefused) {
  WriteConfig(HugeConfig());
  const std::string why =
      ": its metrics could take 3087.5 MiB (3 writer copies of every series the label caps "
      "allow), over --store.max-bytes=33554432 (32.0 MiB); largest: t_h0 48.2 MiB, t_h1 48.2 "
      "MiB, t_h2 48.2 MiB, ...: lower their max_values or buckets, or raise --store.max-bytes\n";
  const RunResult check =
      ::lle::test::Run({kBinary, "--check-config", "--config.file", config_}, "");
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_EQ(check.out, "");
  EXPECT_EQ(check.err, "llm_log_exporter: --config.file: " + config_ + why);
  const RunResult start = ::lle::test::Run({kBinary, "--config.file", config_}, "");
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_EQ(start.err, "llm_log_exporter: --config.file: " + config_ + why);

  WriteConfig(kConfigA);
  Daemon d = Launch();
  d.process->Write(kOkLine);
  ASSERT_TRUE(WaitForMetrics(d.port, {{"t_tokens_total", 10}}));
  WriteConfig(HugeConfig());
  d.process->Signal(SIGHUP);
  const std::string log = d.process->ReadStderrUntil("reload failed", kDeadline);
  EXPECT_NE(log.find("SIGHUP: reload failed, the previous config stays in force: " + config_ + why),
            std::string::npos)
      << log;
  d.process->Write(kOkLine);
  ASSERT_TRUE(
      WaitForMetrics(d.port, {{"llm_log_exporter_config_reloads_total{outcome=\"failure\"}", 1},
                              {"llm_log_exporter_config_last_reload_successful", 0},
                              {"t_tokens_total", 20}}));
}

// Past the budget (raised to its maximum), a reload that runs out of memory
// fails like any bad reload: the daemon, the old config and its counts stay.
// The daemon runs under an address-space limit (ulimit -v) that its normal
// work fits in and one copy of the huge store does not.
TEST_F(ReloadTest, AReloadThatRunsOutOfMemoryKeepsTheOldConfig) {
#if defined(LLE_SANITIZED_BUILD)
  // A sanitizer's shadow memory does not fit under any such limit; the
  // release build runs this test.
  GTEST_SKIP() << "an address-space limit cannot hold a sanitizer build";
#endif
  WriteConfig(kConfigA);
  ChildProcess process({"/bin/sh", "-c", "ulimit -v 2097152 && exec \"$@\"", "sh", kBinary,
                        "--web.listen-address=127.0.0.1:0", "--config.file", config_,
                        "--store.max-bytes=1099511627776"});
  const std::string started = process.ReadStderrUntil("(metrics at", kDeadline);
  const std::string marker = "listening on 127.0.0.1:";
  ASSERT_NE(started.find(marker), std::string::npos) << started;
  const int port = std::atoi(started.c_str() + started.find(marker) + marker.size());
  process.Write(kOkLine);
  ASSERT_TRUE(WaitForMetrics(port, {{"t_tokens_total", 10}}));
  // 100,000 series per metric: 10 GB a copy, which no allocation under the limit gets.
  WriteConfig(HugeConfig("[{name: status, max_values: 9999}, {name: code, max_values: 9}]"));
  process.Signal(SIGHUP);
  const std::string log = process.ReadStderrUntil("reload failed", kDeadline);
  EXPECT_NE(log.find("SIGHUP: reload failed, the previous config stays in force: out of memory "
                     "while building the new rules and metric store\n"),
            std::string::npos)
      << log;
  process.Write(kOkLine);
  ASSERT_TRUE(
      WaitForMetrics(port, {{"llm_log_exporter_config_reloads_total{outcome=\"failure\"}", 1},
                            {"llm_log_exporter_config_last_reload_successful", 0},
                            {"t_tokens_total", 20},
                            {"t_requests_total{status=\"ok\"}", 2}}));
  // Fixed, the next reload succeeds.
  WriteConfig(kConfigA);
  process.Signal(SIGHUP);
  ASSERT_TRUE(WaitForMetrics(
      port,
      {{"llm_log_exporter_config_reloads_total{outcome=\"success\"}", 1}, {"t_tokens_total", 20}}));
  EXPECT_TRUE(StopsCleanlyWithin(process, SIGTERM, std::chrono::seconds(5)));
}

TEST_F(ReloadTest, HttpReloadOnlyWithLifecycleAndOnlyByPost) {
  WriteConfig(kConfigA);
  {
    Daemon d = Launch();
    EXPECT_EQ(HttpSend(d.port, "POST", "/-/reload", {}, "").status, 403);
  }
  Daemon d = Launch({"--web.enable-lifecycle"});
  EXPECT_EQ(HttpGet(d.port, "/-/reload").status, 405);
  WriteConfig("requests: {keys: [status]}\nmetrics: nope\n");
  HttpResponse bad = HttpSend(d.port, "POST", "/-/reload", {}, "");
  EXPECT_EQ(bad.status, 500);
  EXPECT_NE(bad.body.find(config_ + ":2:10: metrics: must be a non-empty list"), std::string::npos)
      << bad.body;
  WriteConfig(kConfigB);
  HttpResponse good = HttpSend(d.port, "PUT", "/-/reload", {}, "");
  EXPECT_EQ(good.status, 200) << good.body;
  // The answer comes after the swap: the new rules are in force at once.
  std::string scrape = HttpGet(d.port, "/metrics").body;
  EXPECT_EQ(MetricValue(scrape, "t_errors_total"), 0) << scrape;
  EXPECT_EQ(MetricValue(scrape, "llm_log_exporter_config_reloads_total{outcome=\"success\"}"), 1);
  EXPECT_EQ(MetricValue(scrape, "llm_log_exporter_config_reloads_total{outcome=\"failure\"}"), 1);
}

// Reloads while lines stream in: every line is worked by exactly one config,
// and the counter both configs share counts each line once.
TEST_F(ReloadTest, ReloadsDuringIngestLoseNoLine) {
  WriteConfig(kConfigA);
  // Never drop: this test is about reloads, not about a slow machine.
  Daemon d = Launch({"--web.enable-lifecycle", "--input.drop-after-ms", "60000"});
  constexpr int kBatches = 2000;
  constexpr int kLinesPerBatch = 500;
  std::string batch;
  for (int i = 0; i < kLinesPerBatch; ++i) batch += kOkLine;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kBatches; ++i) d.process->Write(batch);
    done = true;
  });
  int reloads = 0;
  while (!done || reloads < 4) {
    WriteConfig(reloads % 2 == 0 ? kConfigB : kConfigA);
    if (HttpSend(d.port, "POST", "/-/reload", {}, "").status == 200) ++reloads;
  }
  writer.join();
  std::printf("%d reloads while %d lines streamed in\n", reloads, kBatches * kLinesPerBatch);
  constexpr double kLines = double{kBatches} * kLinesPerBatch;
  ASSERT_TRUE(WaitForMetrics(
      d.port, {{"llm_log_exporter_lines_total{source=\"stdin\",result=\"request\"}", kLines},
               {"llm_log_exporter_lines_total{source=\"stdin\",result=\"dropped\"}", 0},
               {"t_requests_total{status=\"ok\"}", kLines},
               {"llm_log_exporter_config_reloads_total{outcome=\"success\"}", reloads}}));
}

TEST_F(ReloadTest, ABadConfigStopsTheStartWithOneLine) {
  WriteConfig("requests: {keys: [status]}\nmetrics:\n  - {name: x, type: timer}\n");
  const RunResult run = ::lle::test::Run({kBinary, "--config.file", config_}, "");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "llm_log_exporter: --config.file: " + config_ +
                         ":3:21: metrics[0].type: \"timer\" is not a type (counter, gauge or "
                         "histogram)\n");
  const RunResult missing =
      ::lle::test::Run({kBinary, "--once", "--config.file", config_ + ".none"}, "");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err,
            "llm_log_exporter: --config.file: " + config_ + ".none: No such file or directory\n");
}

TEST_F(ReloadTest, CheckConfigSaysOkOrWhyNot) {
  WriteConfig(kConfigB);
  const RunResult ok = ::lle::test::Run({kBinary, "--check-config", "--config.file", config_}, "");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // 2 fields of its rules, trace_id and traceparent for exemplars, and sample_rate.
  EXPECT_EQ(ok.out, config_ +
                        ": ok, 3 metrics from 3 rules reading 5 fields; store at most 1.1 KiB "
                        "(--store.max-bytes: 32.0 MiB)\n"
                        "  counter t_requests_total{status}\n"
                        "  histogram t_latency_ms\n"
                        "  counter t_errors_total\n");
  WriteConfig("requests: {keys: [status]}\n");
  const RunResult bad = ::lle::test::Run({kBinary, "--check-config", "--config.file", config_}, "");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out, "");
  EXPECT_NE(bad.err.find("metrics: must be a non-empty list"), std::string::npos) << bad.err;
  const RunResult builtin = ::lle::test::Run({kBinary, "--check-config"}, "");
  EXPECT_EQ(builtin.exit_code, 0);
  EXPECT_EQ(builtin.out.rfind("built-in qwen preset: ok, 38 metrics", 0), 0u) << builtin.out;
}

}  // namespace
}  // namespace lle::test
