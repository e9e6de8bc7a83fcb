// Integration tests of the whole llm_log_exporter binary: it runs as a child
// process, log lines go to its stdin, and metrics come back over real HTTP on
// 127.0.0.1 with a port the kernel picks (so tests never clash on a port).
//
// The daemon reads stdin on its own thread, so a line written here shows up in
// /metrics a little later. Tests never sleep for that: they scrape repeatedly
// until the expected values appear or a deadline passes (WaitForMetrics).

#include "support/daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/child_process.h"
#include "support/exposition.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace lle::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr seconds kDeadline{10};  // generous: only reached when a test fails
constexpr char kBinary[] = LLE_BINARY;
constexpr char kPromtool[] = LLE_PROMTOOL;

// --- Series names ------------------------------------------------------------

std::string Lines(const std::string& result) { return LinesSeries("stdin", result); }

// --- Log lines ---------------------------------------------------------------

std::string RequestLine(const std::string& status, int total_time_ms) {
  return "{\"status\":\"" + status + "\",\"total_time_ms\":" + std::to_string(total_time_ms) +
         ",\"input_tokens\":300,\"output_tokens\":40,\"gpu_memory_mb\":15000}\n";
}

// A request line of exactly `size` bytes; the caller appends the line end.
std::string PaddedRequestLine(const std::string& status, std::size_t size) {
  const std::string head = "{\"status\":\"" + status + "\",\"pad\":\"";
  const std::string tail = "\"}";
  return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

// Whether `err` is exactly --once's summary line starting with `counts`
// (its seconds and rate vary from run to run).
bool IsOnceSummary(const std::string& err, const std::string& counts) {
  const std::string head = "llm_log_exporter: --once: " + counts + ", ";
  return err.rfind(head, 0) == 0 &&
         std::regex_match(err.substr(head.size()),
                          std::regex("[0-9]+\\.[0-9]{3} s, ([0-9]+|-) lines/s\n"));
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// --- Daemon ------------------------------------------------------------------

// Starts the daemon on 127.0.0.1:0 with `flags` (see LaunchDaemon).
Daemon StartDaemon(const std::vector<std::string>& flags = {}) {
  return LaunchDaemon(kBinary, flags);
}

HttpResponse Scrape(int port, const std::string& path = "/metrics") { return HttpGet(port, path); }

std::string Header(const HttpResponse& response, const std::string& lower_case_name) {
  const auto it = response.headers.find(lower_case_name);
  return it == response.headers.end() ? "" : it->second;
}

// Runs the binary to completion with `flags`. (Named apart from Run, which
// gtest's Test::Run would hide inside test bodies.)
RunResult RunBinary(const std::vector<std::string>& flags, const std::string& input = "") {
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return lle::test::Run(argv, input, kDeadline);
}

// --- Exposition parsing ------------------------------------------------------

// The first line of `exposition` that is neither a comment nor a text format
// 0.0.4 sample (`name{label="value",...} number`), or "" if all are fine.
std::string FirstMalformedLine(const std::string& exposition) {
  static const std::regex kSample(
      "[a-zA-Z_:][a-zA-Z0-9_:]*"                                          // name
      R"re((\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})?)re"  // labels, escaped
      R"re( (\S+))re");                                                   // value
  if (!exposition.empty() && exposition.back() != '\n') return "(no final newline)";
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;  // # HELP, # TYPE
    std::smatch match;
    if (!std::regex_match(line, match, kSample)) return line;
    const std::string value = match[4];
    char* end = nullptr;
    std::strtod(value.c_str(), &end);  // also takes +Inf, -Inf, NaN
    if (*end != '\0') return line;
  }
  return "";
}

std::string WithoutLinesStartingWith(const std::string& text, const std::string& prefix) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, prefix.size(), prefix) != 0) out += line + "\n";
  }
  return out;
}

// --- Polling -----------------------------------------------------------------

// Probes `path` until it answers `status` or the deadline passes. Used for
// /-/ready, which the daemon sets only after logging "listening on": a
// readiness probe is polled anyway.
::testing::AssertionResult WaitForStatus(int port, const std::string& path, int status) {
  const auto deadline = Clock::now() + kDeadline;
  for (;;) {
    const int got = HttpGet(port, path).status;
    if (got == status) return ::testing::AssertionSuccess();
    if (Clock::now() >= deadline) {
      return ::testing::AssertionFailure() << "GET " << path << " still answers " << got;
    }
    std::this_thread::sleep_for(milliseconds(10));  // poll interval, not a synchronisation
  }
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// --- Tests -------------------------------------------------------------------

TEST(DaemonTest, LinesOnStdinAppearInMetricsWhileStdinStaysOpen) {
  Daemon daemon = StartDaemon();
  std::string log;
  for (int i = 0; i < 10; ++i) log += RequestLine("success", 250);
  for (int i = 0; i < 4; ++i) log += RequestLine("error", 1500);
  log += "{\"level\":\"warning\",\"message\":\"KV cache 95% full\"}\n";
  log += "Traceback (most recent call last):\n";
  daemon.process->Write(log);

  EXPECT_TRUE(WaitForMetrics(daemon.port, {
                                              {RequestsSeries("success"), 10},
                                              {RequestsSeries("error"), 4},
                                              {RequestsSeries("timeout"), 0},
                                              {Lines("request"), 14},
                                              {Lines("event"), 1},
                                              {Lines("not_json"), 1},
                                              {"qwen_request_duration_ms_count", 14},
                                              {"qwen_request_duration_ms_sum", 10 * 250 + 4 * 1500},
                                              {"qwen_request_duration_ms_bucket{le=\"100\"}", 0},
                                              {"qwen_request_duration_ms_bucket{le=\"500\"}", 10},
                                              {"qwen_request_duration_ms_bucket{le=\"1000\"}", 10},
                                              {"qwen_request_duration_ms_bucket{le=\"2000\"}", 14},
                                              {"qwen_gpu_memory_mb", 15000},
                                          }));

  // Freshness: more lines on the same, still open stdin are counted without
  // waiting for EOF (a real inference server never closes it).
  daemon.process->Write(RequestLine("success", 250) + RequestLine("success", 250) +
                        RequestLine("timeout", 30000));
  EXPECT_TRUE(WaitForMetrics(daemon.port, {
                                              {RequestsSeries("success"), 12},
                                              {RequestsSeries("timeout"), 1},
                                              {Lines("request"), 17},
                                              {"qwen_request_duration_ms_count", 17},
                                          }));
}

TEST(DaemonTest, ServesHealthReadinessLandingPageAnd404And405) {
  Daemon daemon = StartDaemon();

  EXPECT_EQ(HttpGet(daemon.port, "/-/healthy").status, 200);
  EXPECT_TRUE(WaitForStatus(daemon.port, "/-/ready", 200));

  const HttpResponse landing = HttpGet(daemon.port, "/");
  EXPECT_EQ(landing.status, 200);
  EXPECT_NE(landing.body.find("href=\"/metrics\""), std::string::npos) << landing.body;

  EXPECT_EQ(HttpGet(daemon.port, "/no/such/page").status, 404);

  const HttpResponse head = HttpGet(daemon.port, "/metrics", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");

  const HttpResponse post = HttpGet(daemon.port, "/metrics", {}, "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(Header(post, "allow"), "GET, HEAD");  // RFC 9110: a 405 lists what is allowed
}

// Stdin as a pipe, or as a regular file (`llm_log_exporter < FILE`), whose
// last line has no '\n'.
class EndOfInputTest : public ::testing::TestWithParam<bool> {};

TEST_P(EndOfInputTest, KeepsServingAfterEndOfInput) {
  std::string input;
  for (int i = 0; i < 3000; ++i) input += RequestLine(i % 3 == 0 ? "error" : "success", 100 + i);
  input += "{\"status\":\"success\"}";  // last line without newline
  TempDir dir;
  const bool file = GetParam();
  Daemon daemon =
      LaunchDaemon(kBinary, {}, "(metrics at", kDeadline, file ? dir.Write("log", input) : "");
  if (!file) {
    daemon.process->Write(input);
    daemon.process->CloseStdin();
  }

  const std::string log = daemon.process->ReadStderrUntil("end of input", kDeadline);
  ASSERT_NE(log.find("end of input"), std::string::npos) << log;

  // The reader logs only after it has counted everything, so one scrape must
  // already show the final counts (including the unterminated last line).
  const HttpResponse response = Scrape(daemon.port);
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(MetricValue(response.body, RequestsSeries("success")), 2001);
  EXPECT_EQ(MetricValue(response.body, RequestsSeries("error")), 1000);
  EXPECT_EQ(MetricValue(response.body, Lines("request")), 3001);
  EXPECT_EQ(MetricValue(response.body, "llm_log_exporter_bytes_total{source=\"stdin\"}"),
            static_cast<double>(input.size()));
  EXPECT_TRUE(WaitForStatus(daemon.port, "/-/ready", 200));

  // Still serving, and still stoppable, after EOF.
  EXPECT_EQ(Scrape(daemon.port).status, 200);
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(2)));
}

INSTANTIATE_TEST_SUITE_P(Stdin, EndOfInputTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "File" : "Pipe";
                         });

class DaemonSignalTest : public ::testing::TestWithParam<int> {};

TEST_P(DaemonSignalTest, ExitsZeroWithinTwoSecondsWhileStdinIsOpen) {
  Daemon daemon = StartDaemon();
  // Be sure the reader is running (and blocked in read on the open stdin),
  // which is what a stop has to interrupt.
  daemon.process->Write(RequestLine("success", 100));
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Lines("request"), 1}}));

  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, GetParam(), seconds(2)));
  EXPECT_EQ(HttpGet(daemon.port, "/-/healthy").status, 0) << "port still served after exit";
}

TEST_P(DaemonSignalTest, ExitsWithinTwoSecondsWhileAClientHoldsAnIdleConnection) {
  Daemon daemon = StartDaemon();
  // A scraper that connected but sent nothing yet occupies an HTTP worker,
  // which a stop must not wait on for long.
  const int idle = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(idle, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(daemon.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(HttpGet(daemon.port, "/-/healthy").status, 200);
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, GetParam(), seconds(2)));
  close(idle);
}

INSTANTIATE_TEST_SUITE_P(Signals, DaemonSignalTest, ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return param_info.param == SIGTERM ? "SIGTERM" : "SIGINT";
                         });

TEST(DaemonTest, InvalidUtf8IsCountedAndNeverReachesTheExposition) {
  Daemon daemon = StartDaemon();
  const std::string almost_a_request = "{\"status\":\"bad\xff\"}\n";
  const std::string broken_sequence = std::string("\xc3\x28") + " not json either\n";
  daemon.process->Write(almost_a_request + broken_sequence);
  EXPECT_TRUE(WaitForMetrics(daemon.port, {
                                              {Lines("invalid_utf8"), 2},
                                              {Lines("request"), 0},
                                              {Lines("not_json"), 0},
                                          }));

  // The reader goes on after the bad lines.
  daemon.process->Write(RequestLine("success", 100));
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(
      daemon.port,
      {{Lines("request"), 1}, {RequestsSeries("success"), 1}, {Lines("invalid_utf8"), 2}},
      &exposition));
  EXPECT_EQ(FirstMalformedLine(exposition), "");
  EXPECT_TRUE(std::all_of(exposition.begin(), exposition.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x80;
  })) << "non-ASCII bytes in the exposition";
  EXPECT_EQ(exposition.find("status=\"bad"), std::string::npos);
}

TEST(DaemonTest, GzipScrapeEqualsPlainScrape) {
  Daemon daemon = StartDaemon();
  daemon.process->Write(RequestLine("success", 300) + RequestLine("error", 3000) +
                        "{\"level\":\"info\",\"message\":\"model loaded\"}\n");
  // Wait for every series the lines touch, not just the line counts: the two
  // scrapes below must not straddle the last update.
  ASSERT_TRUE(WaitForMetrics(daemon.port, {
                                              {Lines("request"), 2},
                                              {Lines("event"), 1},
                                              {RequestsSeries("success"), 1},
                                              {RequestsSeries("error"), 1},
                                              {"qwen_request_duration_ms_count", 2},
                                              {"qwen_gpu_memory_mb", 15000},
                                          }));

  // No lines are written between the two scrapes, so they must agree.
  const HttpResponse gzipped = HttpGet(daemon.port, "/metrics", {{"Accept-Encoding", "gzip"}});
  const HttpResponse plain = Scrape(daemon.port);
  ASSERT_EQ(gzipped.status, 200);
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(Header(gzipped, "content-encoding"), "gzip");
  EXPECT_EQ(Header(plain, "content-encoding"), "");
  EXPECT_EQ(Header(plain, "content-type"), "text/plain; version=0.0.4; charset=utf-8");

  std::string unzipped;
  ASSERT_NO_THROW(unzipped = Gunzip(gzipped.body));
  const std::string kTimestamp = "qwen_last_request_timestamp_seconds ";
  // process_* describe the running process (memory, fds, CPU): they move on their own.
  const auto stable = [&kTimestamp](const std::string& text) {
    return WithoutLinesStartingWith(WithoutLinesStartingWith(text, kTimestamp), "process_");
  };
  EXPECT_EQ(stable(unzipped), stable(plain.body));
}

// Issue 20: Accept as Prometheus 2.42 sends it gets OpenMetrics with the
// request's trace id as the exemplar of its bucket and counter, gzip too; no
// Accept gets the 0.0.4 text, without exemplars.
TEST(DaemonTest, OpenMetricsByAcceptCarriesTheTraceIdAsExemplar) {
  Daemon daemon = StartDaemon();
  daemon.process->Write(
      "{\"status\":\"error\",\"total_time_ms\":90000,"
      "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"}\n" +
      RequestLine("success", 300));
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Lines("request"), 2}, {RequestsSeries("error"), 1}}));
  const std::string accept =
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
      "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
  const HttpResponse om = HttpGet(daemon.port, "/metrics", {{"Accept", accept}});
  const HttpResponse om_gzip =
      HttpGet(daemon.port, "/metrics", {{"Accept", accept}, {"Accept-Encoding", "gzip"}});
  const HttpResponse text = Scrape(daemon.port);
  ASSERT_EQ(om.status, 200);
  EXPECT_EQ(Header(om, "content-type"),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(Header(om_gzip, "content-type"), Header(om, "content-type"));
  EXPECT_EQ(Header(om_gzip, "content-encoding"), "gzip");
  EXPECT_EQ(Header(text, "content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string trace = "# {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} ";
  for (const std::string& body : {om.body, Gunzip(om_gzip.body)}) {
    EXPECT_NE(body.find("\nqwen_requests_total{status=\"error\"} 1 " + trace + "1 "),
              std::string::npos)
        << body;
    EXPECT_NE(body.find("\nqwen_request_duration_seconds_bucket{le=\"120\"} 2 " + trace + "90 "),
              std::string::npos)
        << body;
    EXPECT_EQ(body.substr(body.size() - 6), "# EOF\n");
  }
  EXPECT_EQ(text.body.find("# {"), std::string::npos);
  EXPECT_EQ(text.body.find("# EOF"), std::string::npos);
}

// Issue 20: a line sampled at rate 0.3 stands for 3 or 4 requests, 4 with
// probability 1/3, so that totals stay unbiased and whole. Over 30,000 lines
// the total's standard deviation is 82 requests around 100,000; every family
// of a line counts the same number of requests.
TEST(DaemonTest, SampledLinesCountOneOverTheRateUnbiasedWhereThatIsNoWholeNumber) {
  constexpr int kLines = 30000;
  std::string log;
  for (int i = 0; i < kLines; ++i) {
    log +=
        "{\"status\":\"success\",\"total_time_ms\":250,\"output_tokens\":7,"
        "\"sample_rate\":0.3}\n";
  }
  const RunResult result = RunBinary({"--once"}, log);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(MetricValue(result.out, Lines("request")), kLines);
  const std::optional<double> requests = MetricValue(result.out, RequestsSeries("success"));
  ASSERT_TRUE(requests.has_value());
  EXPECT_NEAR(*requests, kLines / 0.3, 600);  // 7 standard deviations
  EXPECT_EQ(MetricValue(result.out, "qwen_request_duration_ms_count"), *requests);
  EXPECT_EQ(MetricValue(result.out, "qwen_request_duration_ms_sum"), 250 * *requests);
  EXPECT_EQ(MetricValue(result.out, "qwen_generation_tokens_total"), 7 * *requests);
  EXPECT_EQ(result.out.find("field=\"sample_rate\""), std::string::npos);  // no field error
}

// A text rule's request line carries a trace id and a sample rate as a JSON
// line does: the exemplar in OpenMetrics, 1/rate requests.
TEST(DaemonTest, TextRulesCaptureTheExemplarAndTheSampleRateToo) {
  TempDir dir;
  const std::string config = dir.Write("c.yaml", R"(requests: {keys: [status]}
text:
  - name: done
    contains: "request done "
    regex: 'request done status=(?P<status>\d+) took=(?P<total_time_ms>\S+) trace=(?P<trace_id>[0-9a-f]{32})(?: rate=(?P<sample_rate>[0-9.]+))?'
    fields: {status: http_status, total_time_ms: duration_ms, sample_rate: number}
metrics:
  - {name: requests_total, type: counter, labels: [{name: status, values: [success, error]}]}
  - {name: request_duration_seconds, type: histogram, value: total_time_ms, scale: 0.001,
     buckets: [0.5, 1, 5]}
)");
  Daemon daemon = StartDaemon({"--config.file", config});
  daemon.process->Write(
      "request done status=200 took=250ms trace=4bf92f3577b34da6a3ce929d0e0e4736 rate=0.25\n"
      "request done status=500 took=2.5s trace=00f067aa0ba902b74bf92f3577b34da6\n");
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Lines("request"), 2}, {RequestsSeries("error"), 1}}));
  const HttpResponse om =
      HttpGet(daemon.port, "/metrics", {{"Accept", "application/openmetrics-text;version=1.0.0"}});
  ASSERT_EQ(om.status, 200);
  EXPECT_NE(om.body.find("\nqwen_requests_total{status=\"success\"} 4 # "
                         "{trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 1 "),
            std::string::npos)
      << om.body;
  EXPECT_NE(om.body.find("\nqwen_request_duration_seconds_bucket{le=\"5\"} 5 # "
                         "{trace_id=\"00f067aa0ba902b74bf92f3577b34da6\"} 2.5 "),
            std::string::npos)
      << om.body;
}

TEST(DaemonTest, PromtoolAcceptsARealScrape) {
  if (std::string(kPromtool).empty()) GTEST_SKIP() << "promtool not found at configure time";
  Daemon daemon = StartDaemon();
  std::string log;
  for (int i = 0; i < 20; ++i) log += RequestLine(i % 5 == 0 ? "error" : "success", 100 * i);
  log += "{\"status\":\"quo\\\"te\\\\back\\nslash\"}\n";  // a label value that needs escaping
  log += "{\"status\":\"success\",\"total_time_ms\":\"slow\",\"output_tokens\":null}\n";
  log += "{\"level\":\"error\",\"message\":\"CUDA out of memory\"}\n";
  // A uvicorn access line: a request too, by the preset's text rule.
  log += "INFO:     127.0.0.1:51234 - \"POST /v1/chat/completions HTTP/1.1\" 200 OK\n";
  log += "{\"status\":\"trunc\n\n[1,2,3]\n";
  daemon.process->Write(log);
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port,
                             {{Lines("request"), 23}, {Lines("event"), 1}, {Lines("not_json"), 3}},
                             &exposition));

  EXPECT_TRUE(PromtoolAccepts(kPromtool, exposition));
}

TEST(DaemonTest, UnknownFlagExits2WithOneLine) {
  const RunResult result = RunBinary({"--no-such-flag"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(CountLines(result.err), 1) << result.err;
  EXPECT_NE(result.err.find("--no-such-flag"), std::string::npos) << result.err;
}

TEST(DaemonTest, BadListenAddressExits2NamingTheFlag) {
  for (const std::string address : {"foo:1", "127.0.0.1:99999", "127.0.0.1"}) {
    SCOPED_TRACE(address);
    const RunResult result = RunBinary({"--web.listen-address=" + address});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_EQ(CountLines(result.err), 1) << result.err;
    EXPECT_NE(result.err.find("--web.listen-address"), std::string::npos) << result.err;
  }
}

TEST(DaemonTest, PortInUseExits1WithOneLine) {
  Daemon first = StartDaemon();
  const std::string address = "127.0.0.1:" + std::to_string(first.port);
  const RunResult second = RunBinary({"--web.listen-address=" + address});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_EQ(CountLines(second.err), 1) << second.err;
  EXPECT_NE(second.err.find("--web.listen-address"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(address), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("already in use"), std::string::npos) << second.err;  // the OS reason
  // The first daemon is unaffected.
  EXPECT_EQ(HttpGet(first.port, "/-/healthy").status, 200);
}

TEST(DaemonTest, HelpExits0AndListsTheFlags) {
  const RunResult result = RunBinary({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* flag : {"--web.listen-address", "--web.telemetry-path", "--once",
                           "--input.max-line-bytes", "--log.level"}) {
    EXPECT_NE(result.out.find(flag), std::string::npos) << flag << " missing from:\n" << result.out;
  }
}

TEST(DaemonTest, OncePrintsTheExpositionAndExits0) {
  const std::string log = RequestLine("success", 100) + RequestLine("success", 700) +
                          RequestLine("error", 5000) +
                          "{\"level\":\"warning\",\"message\":\"slow\"}\nnot json\n";
  const RunResult result = RunBinary({"--once"}, log);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(FirstMalformedLine(result.out), "");
  EXPECT_EQ(MetricValue(result.out, RequestsSeries("success")), 2);
  EXPECT_EQ(MetricValue(result.out, RequestsSeries("error")), 1);
  EXPECT_EQ(MetricValue(result.out, Lines("request")), 3);
  EXPECT_EQ(MetricValue(result.out, Lines("event")), 1);
  EXPECT_EQ(MetricValue(result.out, Lines("not_json")), 1);
  // 100 and 5000 sit exactly on bucket bounds, which are inclusive.
  EXPECT_EQ(MetricValue(result.out, "qwen_request_duration_ms_bucket{le=\"100\"}"), 1);
  EXPECT_EQ(MetricValue(result.out, "qwen_request_duration_ms_bucket{le=\"1000\"}"), 2);
  EXPECT_EQ(MetricValue(result.out, "qwen_request_duration_ms_bucket{le=\"5000\"}"), 3);
  // stderr (a pipe): the summary line alone.
  EXPECT_TRUE(IsOnceSummary(result.err, "5 lines (request 3, event 1, not_json 1, invalid_utf8 0, "
                                        "too_long 0, dropped 0), 3 requests"))
      << result.err;
}

// `n` request lines, one in 7 an error.
std::string ManyRequestLines(int n) {
  std::string log;
  for (int i = 0; i < n; ++i) log += RequestLine(i % 7 == 0 ? "error" : "success", i % 5000);
  return log;
}

TEST(DaemonTest, OnceShowsNoProgressWhenStderrIsAPipe) {
  // Progress every millisecond if there were a terminal: there is none.
  TempDir dir;
  const std::string log = dir.Write("log", ManyRequestLines(200000));
  const RunResult result = lle::test::Run(
      {"/usr/bin/env", "LLE_PROGRESS_INTERVAL_MS=1", kBinary, "--once"}, ReadAll(log), kDeadline);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(IsOnceSummary(result.err, "200000 lines (request 200000, event 0, not_json 0, "
                                        "invalid_utf8 0, too_long 0, dropped 0), 200000 requests"))
      << result.err;
}

// What --once writes to its stderr when that is a terminal (the slave of a
// pseudo-terminal; stdin is `stdin_path`, stdout /dev/null), up to its exit.
struct TerminalRun {
  int exit_code = -1;
  std::string err;
};
TerminalRun RunOnceOnATerminal(const std::string& stdin_path,
                               const std::vector<std::string>& env) {
  TerminalRun run;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    const int in = open(stdin_path.c_str(), O_RDONLY);
    const int out = open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0) _exit(126);
    for (const std::string& var : env) putenv(const_cast<char*>(var.c_str()));
    execl(kBinary, kBinary, "--once", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Read until the child's side closes (EIO once it exited), with a deadline.
  const auto deadline = Clock::now() + kDeadline;
  char buffer[4096];
  while (Clock::now() < deadline) {
    pollfd fd = {master, POLLIN, 0};
    if (poll(&fd, 1, 100) <= 0) continue;
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n <= 0) break;
    run.err.append(buffer, static_cast<std::size_t>(n));
  }
  close(master);
  int status = 0;
  if (Clock::now() >= deadline) kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST(DaemonTest, OnceOnATerminalShowsProgressThenTheSummary) {
  TempDir dir;
  const std::string log = dir.Write("log", ManyRequestLines(200000));
  const TerminalRun run = RunOnceOnATerminal(log, {"LLE_PROGRESS_INTERVAL_MS=1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // The progress line is rewritten in place (\r, then erase to the end of
  // the line); its last update, made once the input is read, counts every line.
  EXPECT_NE(run.err.find("\rllm_log_exporter: --once: "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(", 200000 lines read, "), std::string::npos) << run.err;
  // The summary takes its place, and is the last line (the terminal ends it with \r\n).
  const std::string erase = "\r\033[K";
  const std::size_t last = run.err.rfind(erase);
  ASSERT_NE(last, std::string::npos) << run.err;
  std::string summary = run.err.substr(last + erase.size());
  ASSERT_GE(summary.size(), 2u);
  ASSERT_EQ(summary.substr(summary.size() - 2), "\r\n") << summary;
  summary.erase(summary.size() - 2);
  EXPECT_TRUE(IsOnceSummary(summary + "\n",
                            "200000 lines (request 200000, event 0, not_json 0, "
                            "invalid_utf8 0, too_long 0, dropped 0), 200000 requests"))
      << run.err;
}

// A --once run with --input.workers `workers`, reading its input 4 KiB at a
// time (hundreds of chunks): `log` from a pipe, or the file at `path` (the
// same bytes).
struct OnceRun {
  const char* workers;
  bool file;
  std::string Name() const { return std::string(workers) + " workers" + (file ? ", file" : ""); }
};
RunResult RunOnceInSmallReads(const OnceRun& run, const std::string& log, const std::string& path) {
  const std::vector<std::string> argv = {
      kBinary, "--once", "--input.workers", run.workers, "--input.buffer-bytes", "65536"};
  return run.file ? RunWithStdinFile(argv, path, kDeadline) : lle::test::Run(argv, log, kDeadline);
}

TEST(DaemonTest, TracebacksAcrossChunkBoundariesCountOnceWhateverTheWorkers) {
  // Small reads (a 64 KiB buffer reads 4 KiB at a time) cut the input between
  // the lines of many blocks; each block must still reach one worker whole.
  std::string log;
  const int kBlocks = 600;
  for (int i = 0; i < kBlocks; ++i) {
    log += RequestLine("success", 100 + i);
    log += "Traceback (most recent call last):\n";
    log += "  File \"/srv/engine.py\", line " + std::to_string(i) + ", in step\n";
    log += "    raise ValueError(prompt)\n";
    if (i % 3 == 0) {  // a chained one: counted once, as the last exception
      log +=
          "KeyError: 'k'\n\nDuring handling of the above exception, another exception "
          "occurred:\n\nTraceback (most recent call last):\n  File \"b.py\", line 2\n";
    }
    log += "ValueError: prompt too long\n";
  }
  TempDir dir;
  const std::string path = dir.Write("log", log);
  // As a pipe, and as a file.
  for (const OnceRun& run :
       std::vector<OnceRun>{{"1", false}, {"2", false}, {"3", false}, {"1", true}, {"2", true}}) {
    const RunResult result = RunOnceInSmallReads(run, log, path);
    const std::string what = run.Name();
    ASSERT_EQ(result.exit_code, 0) << what << "\n" << result.err;
    EXPECT_EQ(MetricValue(result.out, "qwen_exceptions_total{type=\"ValueError\"}"), kBlocks)
        << what;
    EXPECT_EQ(result.out.find("type=\"truncated\""), std::string::npos) << what;
    EXPECT_EQ(result.out.find("type=\"KeyError\""), std::string::npos) << what;
    EXPECT_EQ(MetricValue(result.out, RequestsSeries("success")), kBlocks);
  }
}

// Request lines with decimal durations (sums of such doubles depend on the
// order of addition) and one of two system prompts at random, and how many
// times the prompt changes from one line to the next.
std::string DecimalRequestLines(int n, int* prompt_changes) {
  std::mt19937 random(7);
  std::string log;
  int last = -1;
  *prompt_changes = 0;
  for (int i = 0; i < n; ++i) {
    const int prompt = static_cast<int>(random() % 2);
    if (last != -1 && prompt != last) ++*prompt_changes;
    last = prompt;
    log += "{\"status\":\"success\",\"total_time_ms\":" + std::to_string(random() % 100000) + "." +
           std::to_string(random() % 1000) + ",\"queue_time_ms\":0." +
           std::to_string(100 + random() % 900) +
           ",\"input_tokens\":" + std::to_string(random() % 4096) +
           ",\"output_tokens\":17,\"system_prompt\":\"prompt " + std::to_string(prompt) + "\"}\n";
  }
  return log;
}

TEST(DaemonTest, OnceOutputIsTheSameBytesWhateverTheWorkersAndReads) {
  int prompt_changes = 0;
  const std::string log = DecimalRequestLines(20000, &prompt_changes);
  TempDir dir;
  const std::string path = dir.Write("log", log);
  // The one series that says when the lines were read, not what they hold.
  const auto without_time = [](const std::string& exposition) {
    return WithoutLinesStartingWith(exposition, "qwen_last_request_timestamp_seconds ");
  };
  std::string first;
  for (const OnceRun& run : std::vector<OnceRun>{{"1", false},
                                                 {"2", false},
                                                 {"3", false},
                                                 {"2", false},
                                                 {"1", true},
                                                 {"2", true},
                                                 {"4", true},
                                                 {"2", true}}) {
    const RunResult result = RunOnceInSmallReads(run, log, path);
    const std::string what = run.Name();
    ASSERT_EQ(result.exit_code, 0) << what << "\n" << result.err;
    EXPECT_EQ(MetricValue(result.out, "qwen_system_prompt_changes_total"), prompt_changes) << what;
    if (first.empty()) {
      first = without_time(result.out);
      EXPECT_NE(first.find("qwen_request_duration_ms_sum "), std::string::npos);
    } else {
      EXPECT_EQ(without_time(result.out), first) << what;
    }
  }
}

TEST(DaemonTest, OnceKeepsATracebackWholeWhenItsWriterPausesInside) {
  // A live stream sends what it holds when the input pauses (freshness);
  // --once must wait for the rest of the block instead, whatever the pause.
  // The pause is the behaviour under test, not a wait for the binary.
  ChildProcess child({kBinary, "--once", "--input.workers", "2"});
  const int kBlocks = 4;
  for (int i = 0; i < kBlocks; ++i) {
    child.Write(RequestLine("success", 10 + i) + "Traceback (most recent call last):\n" +
                "  File \"/srv/engine.py\", line 7, in step\n");
    std::this_thread::sleep_for(milliseconds(100));  // the server is still printing
    child.Write("    raise ValueError(prompt)\nValueError: prompt too long\n");
  }
  child.CloseStdin();
  const std::string out = child.DrainStdout(kDeadline);
  ASSERT_EQ(child.Wait(kDeadline), 0) << child.DrainStderr();
  EXPECT_EQ(MetricValue(out, "qwen_exceptions_total{type=\"ValueError\"}"), kBlocks);
  EXPECT_EQ(out.find("type=\"truncated\""), std::string::npos) << out;
}

TEST(DaemonTest, OnceWithStdinClosedReadsNothingAndExits0) {
  // `<&-`: descriptor 0 is closed, and must not become the next thing opened.
  const RunResult result = lle::test::Run(
      {"/bin/sh", "-c", std::string("exec ") + kBinary + " --once <&-"}, "", kDeadline);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(MetricValue(result.out, RequestsSeries("success")), 0);
}

TEST(DaemonTest, OnceIntoAPipeNobodyReadsIsAWriteErrorNotSigpipe) {
  // As `--once < log | true`: the reader is gone before the exposition is
  // written. SIGPIPE at its default action, as a shell leaves it.
  TempDir dir;
  const std::string log = dir.Write("log", RequestLine("success", 5));
  const std::string err = dir.File("err");
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  close(out[0]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, log.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT, 0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &pipe_signal);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  std::string binary = kBinary, once = "--once";
  char* argv[] = {binary.data(), once.data(), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, kBinary, &actions, &attr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::ifstream stderr_file(err);
  const std::string text((std::istreambuf_iterator<char>(stderr_file)),
                         std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "llm_log_exporter: writing stdout: Broken pipe\n");
}

TEST(DaemonTest, OnceOpensNoPort) {
  // A port that is certainly taken: --once must still work, since it never listens.
  Daemon running = StartDaemon();
  const RunResult result =
      RunBinary({"--once", "--web.listen-address=127.0.0.1:" + std::to_string(running.port)},
                RequestLine("success", 100));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(MetricValue(result.out, RequestsSeries("success")), 1);
}

TEST(DaemonTest, LineOverMaxLineBytesIsCountedAsTooLong) {
  Daemon daemon = StartDaemon({"--input.max-line-bytes=100"});
  daemon.process->Write(RequestLine("success", 100) + PaddedRequestLine("success", 5000) + "\n" +
                        "{\"status\":\"error\"}\n");
  EXPECT_TRUE(WaitForMetrics(daemon.port, {
                                              {Lines("request"), 2},
                                              {Lines("too_long"), 1},
                                              {RequestsSeries("success"), 1},
                                              {RequestsSeries("error"), 1},
                                          }));
}

TEST(DaemonTest, MaxLineBytesIsInclusiveAndExcludesTheLineEnd) {
  Daemon daemon = StartDaemon({"--input.max-line-bytes=100"});
  daemon.process->Write(PaddedRequestLine("success", 100) + "\n" +    // at the limit: kept
                        PaddedRequestLine("success", 100) + "\r\n" +  // CR is not content
                        PaddedRequestLine("error", 101) + "\n");      // one over: dropped
  EXPECT_TRUE(WaitForMetrics(daemon.port, {
                                              {Lines("request"), 2},
                                              {Lines("too_long"), 1},
                                              {RequestsSeries("success"), 2},
                                              {RequestsSeries("error"), 0},
                                          }));
}

TEST(DaemonTest, TelemetryPathMovesTheMetricsEndpoint) {
  Daemon daemon = StartDaemon({"--web.telemetry-path=/custom"});
  daemon.process->Write(RequestLine("success", 100));
  EXPECT_TRUE(WaitForMetrics(daemon.port, {{RequestsSeries("success"), 1}}, nullptr, "/custom"));
  EXPECT_EQ(Scrape(daemon.port, "/metrics").status, 404);
  EXPECT_NE(Scrape(daemon.port, "/").body.find("href=\"/custom\""), std::string::npos);
}

TEST(DaemonTest, EveryReceivedLineIsCountedExactlyOnce) {
  // A mixed log; each line's expected result is tallied as it is generated.
  std::string log;
  int lines = 0, requests = 0, events = 0, not_json = 0, invalid_utf8 = 0;
  for (int i = 0; i < 300; ++i, ++lines) {
    switch (i % 8) {
      case 0:
      case 1:
        log += RequestLine(i % 3 == 0 ? "error" : "success", 10 * i);
        ++requests;
        break;
      case 2:
        log += "{\"total_time_ms\":" + std::to_string(i) + "}\n";  // a request without status
        ++requests;
        break;
      case 3:
        log += "{\"level\":\"info\",\"message\":\"step " + std::to_string(i) + "\"}\n";
        ++events;
        break;
      case 4:
        log += "INFO 2024-05-01 12:00:00 engine step " + std::to_string(i) + "\n";
        ++not_json;
        break;
      case 5:
        log += "\n";  // an empty line is still a line
        ++not_json;
        break;
      case 6:
        log += "{\"status\":\"success\",\"total_time_ms\":12\n";  // cut off mid-object
        ++not_json;
        break;
      case 7:
        log += "{\"level\":\"info\",\"message\":\"caf\xe9\"}\n";  // Latin-1, not UTF-8
        ++invalid_utf8;
        break;
    }
  }
  log += "{\"status\":\"success\"}\r\n";  // CRLF line ending
  ++requests;
  ++lines;
  log += "{\"status\":\"timeout\"}";  // last line without newline, flushed at EOF
  ++requests;
  ++lines;

  // Written in small odd-sized pieces, so that lines straddle the daemon's reads.
  Daemon daemon = StartDaemon();
  constexpr std::size_t kPiece = 61;
  for (std::size_t at = 0; at < log.size(); at += kPiece) {
    daemon.process->Write(log.substr(at, kPiece));
  }
  daemon.process->CloseStdin();
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(
      daemon.port,
      {
          {Lines("request"), requests},
          {Lines("event"), events},
          {Lines("not_json"), not_json},
          {Lines("invalid_utf8"), invalid_utf8},
          {Lines("too_long"), 0},
          {"llm_log_exporter_bytes_total{source=\"stdin\"}", static_cast<double>(log.size())},
          // The unterminated last line, flushed at EOF. Waited for explicitly:
          // a scrape may see a line counted before its request is.
          {RequestsSeries("timeout"), 1},
      },
      &exposition));
  EXPECT_EQ(SumOfSamples(exposition, "llm_log_exporter_lines_total{"), lines);
}

TEST(DaemonTest, LinesWrittenOneByOneAreCountedWithinTheFreshnessBudget) {
  // As an inference server logs: one write(2) per line. A trickle (a line
  // every 20 ms) is read as it comes; about a thousand lines a second rest
  // together up to 25 ms before they are read. Either way a line is counted
  // within 50 ms (the median of every tenth line's, as scrapes see it every
  // 10 ms), and every line exactly once.
  Daemon daemon = StartDaemon();
  std::vector<milliseconds> latencies;
  int written = 0;
  for (const milliseconds pause : {milliseconds(20), milliseconds(1)}) {
    for (int i = 0; i < 100; ++i) {
      daemon.process->Write(RequestLine("success", 250));
      ++written;
      if (i % 10 == 9) {
        const auto start = Clock::now();
        ASSERT_TRUE(WaitForMetrics(daemon.port, {{Lines("request"), written}}));
        latencies.push_back(std::chrono::duration_cast<milliseconds>(Clock::now() - start));
      }
      std::this_thread::sleep_for(pause);  // the writer's pace, not a synchronisation
    }
  }
  std::sort(latencies.begin(), latencies.end());
  EXPECT_LT(latencies[latencies.size() / 2], milliseconds(50))
      << "median " << latencies[latencies.size() / 2].count() << " ms from write to /metrics";
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Lines("request"), written}}, &exposition));
  EXPECT_EQ(SumOfSamples(exposition, "llm_log_exporter_lines_total{"), written);
}

TEST(DaemonTest, LinesWrittenWhileTheReaderRestsAreInTheNextScrape) {
  // A slow writer's lines pile up in the pipe while stdin's reader rests; a
  // scrape ends the rest and waits for them: the one scrape right after the
  // writes counts them all (however the reader stood: resting, between reads
  // or waiting for input).
  Daemon daemon = StartDaemon();
  daemon.process->Write(RequestLine("success", 250));
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Lines("request"), 1}}));
  std::this_thread::sleep_for(milliseconds(5));  // the writer's pace, not a synchronisation
  daemon.process->Write(RequestLine("success", 250));
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Lines("request"), 2}}));
  for (int i = 0; i < 3; ++i) daemon.process->Write(RequestLine("error", 250));
  const HttpResponse scrape = HttpGet(daemon.port, "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_EQ(MetricValue(scrape.body, Lines("request")), 5.0) << scrape.body;
  EXPECT_EQ(MetricValue(scrape.body, RequestsSeries("error")), 3.0);
}

}  // namespace
}  // namespace lle::test
