// The conventions users of node_exporter and statsd_exporter expect, through
// the real binary: --log.format, --version and llm_log_exporter_build_info,
// repeatable --web.listen-address, and which inputs get `source` series.
// Daemons listen on 127.0.0.1 with a port the kernel picks; tests poll with a
// deadline, never sleep to synchronise.

#include <gtest/gtest.h>
#include <re2/re2.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/daemon.h"
#include "support/exposition.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace lle::test {
namespace {

using std::chrono::seconds;

constexpr seconds kDeadline{10};  // generous: only reached when a test fails
constexpr char kBinary[] = LLE_BINARY;

RunResult RunBinary(const std::vector<std::string>& flags, const std::string& input = "") {
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return lle::test::Run(argv, input, kDeadline);
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Runs `program` (a path) with `args` to completion, stdin empty.
RunResult RunBinaryAt(const std::string& program, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  return lle::test::Run(argv, "", kDeadline);
}

int CountLines(const std::string& text) { return static_cast<int>(SplitLines(text).size()); }

// Starts the daemon with `flags`, reads its stderr until each of `needles`
// has been logged, stops it with SIGTERM and returns all it wrote to stderr,
// the shutdown line included.
std::string LogOfARun(const std::vector<std::string>& flags,
                      const std::vector<std::string>& needles) {
  Daemon daemon = LaunchDaemon(kBinary, flags);
  for (const std::string& needle : needles) {
    const std::string log = daemon.process->ReadStderrUntil(needle, kDeadline);
    EXPECT_NE(log.find(needle), std::string::npos) << log;
  }
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
  return daemon.process->DrainStderr();
}

// --- --log.format ------------------------------------------------------------

TEST(LogFormatTest, DefaultIsThePlainFormatAsBefore) {
  const std::string log = LogOfARun({}, {"(metrics at"});
  static const RE2 kPlain(
      R"re(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (debug|info|warning|error) .+)re");
  for (const std::string& line : SplitLines(log)) {
    EXPECT_TRUE(RE2::FullMatch(line, kPlain)) << line;
  }
  EXPECT_NE(log.find(" info listening on 127.0.0.1:"), std::string::npos) << log;
}

TEST(LogFormatTest, LogfmtWritesTsLevelAndMsgAsNodeExporter) {
  TempDir dir;
  ASSERT_EQ(mkdir(dir.File("a dir").c_str(), 0755), 0);
  // A file that cannot be read (a directory: a warning) and one named with a
  // quote and a space, which is waited for (info): both msg values need quoting.
  const std::string odd = dir.File("say \"hi\".log");
  const std::string log = LogOfARun(
      {"--log.format=logfmt", "--input.file", dir.File("a dir"), "--input.file", odd},
      {"to appear", "cannot be read"});
  static const RE2 kLogfmt(
      R"re(ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) )re"
      R"re(msg=("([^"\\]|\\.)*"|[^ "=]+))re");
  const std::vector<std::string> lines = SplitLines(log);
  ASSERT_GE(lines.size(), 4u) << log;
  for (const std::string& line : lines) EXPECT_TRUE(RE2::FullMatch(line, kLogfmt)) << line;
  EXPECT_NE(log.find(" level=info msg=\"listening on 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find(" level=info msg=\"waiting for " + dir.path() + "/say \\\"hi\\\".log to appear\""),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(" level=warn msg=\"" + dir.File("a dir") + ": cannot be read: "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(" level=info msg=\"SIGTERM: shutting down\""), std::string::npos) << log;
}

TEST(LogFormatTest, JsonWritesOneObjectPerLine) {
  TempDir dir;
  // A name with a quote, a backslash and a byte that is not UTF-8: the line
  // must stay valid JSON.
  const std::string odd = dir.File("q\"b\\s\xff.log");
  const std::string log =
      LogOfARun({"--log.format=json", "--input.file", odd}, {"to appear"});
  const std::vector<std::string> lines = SplitLines(log);
  ASSERT_GE(lines.size(), 3u) << log;
  static const RE2 kTs(R"re(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)re");
  std::vector<std::string> messages;
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    const nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(object.is_object());
    ASSERT_EQ(object.size(), 3u);
    ASSERT_TRUE(object["ts"].is_string());
    EXPECT_TRUE(RE2::FullMatch(object["ts"].get<std::string>(), kTs));
    ASSERT_TRUE(object["level"].is_string());
    EXPECT_TRUE(object["level"] == "info" || object["level"] == "warn" ||
                object["level"] == "error" || object["level"] == "debug");
    ASSERT_TRUE(object["msg"].is_string());
    messages.push_back(object["msg"].get<std::string>());
  }
  const auto logged = [&messages](const std::string& prefix) {
    for (const std::string& m : messages) {
      if (m.compare(0, prefix.size(), prefix) == 0) return true;
    }
    return false;
  };
  EXPECT_TRUE(logged("listening on 127.0.0.1:")) << log;
  EXPECT_TRUE(logged("waiting for " + dir.path() + "/q\"b\\s\xef\xbf\xbd.log to appear")) << log;
  EXPECT_TRUE(logged("SIGTERM: shutting down")) << log;
}

TEST(LogFormatTest, UnknownFormatExits2WithOneLine) {
  const RunResult result = RunBinary({"--log.format=xml"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(CountLines(result.err), 1) << result.err;
  EXPECT_NE(result.err.find("llm_log_exporter: --log.format: 'xml' is not plain, logfmt or json"),
            std::string::npos)
      << result.err;
}

// --- --version and llm_log_exporter_build_info -------------------------------

struct Version {
  std::string version, branch, revision, compiler;
};

// Parses --version's output; fails the test if it is not as node_exporter's.
Version VersionOfTheBinary() {
  const RunResult result = RunBinary({"--version"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  static const RE2 kText(
      "llm_log_exporter, version (\\S+) \\(branch: (\\S+), revision: (\\S+)\\)\n"
      "  build:    ((?:GCC|Clang|\\S+) [0-9][0-9.]*)\n");
  Version v;
  const bool matched =
      RE2::FullMatch(result.out, kText, &v.version, &v.branch, &v.revision, &v.compiler);
  EXPECT_TRUE(matched) << result.out;
  if (!matched) return {};
  return v;
}

bool IsGitCheckout(const std::string& dir) {
  struct stat st {};
  return stat((dir + "/.git").c_str(), &st) == 0;
}

TEST(BuildInfoTest, VersionNamesVersionBranchRevisionAndCompiler) {
  const Version v = VersionOfTheBinary();
  EXPECT_EQ(v.version, LLE_PROJECT_VERSION);
  if (IsGitCheckout(LLE_REPO_DIR)) {
    // Built from this checkout: a commit hash and a branch, not "unknown".
    EXPECT_TRUE(RE2::FullMatch(v.revision, "[0-9a-f]{40}")) << v.revision;
    EXPECT_NE(v.branch, "unknown");
  } else {
    EXPECT_EQ(v.revision, "unknown");
    EXPECT_EQ(v.branch, "unknown");
  }
}

TEST(BuildInfoTest, BuildInfoMetricHasTheLabelsVersionPrints) {
  const Version v = VersionOfTheBinary();
  ASSERT_FALSE(v.version.empty());
  Daemon daemon = LaunchDaemon(kBinary, {});
  const std::string series = "llm_log_exporter_build_info{branch=\"" + v.branch +
                             "\",compiler=\"" + v.compiler + "\",revision=\"" + v.revision +
                             "\",version=\"" + v.version + "\"}";
  std::string exposition;
  EXPECT_TRUE(WaitForMetrics(daemon.port, {{series, 1}}, &exposition));
  // One series: no other label set.
  EXPECT_EQ(SumOfSamples(exposition, "llm_log_exporter_build_info"), 1) << exposition;
}

// cmake/BuildInfo.cmake run on `source_dir`: the generated file's text.
std::string GenerateBuildInfo(const TempDir& out, const std::string& source_dir) {
  const std::string file = out.File("build_info_values.cc");
  const RunResult r = RunBinaryAt(LLE_CMAKE_COMMAND,
                                  {"-DSOURCE_DIR=" + source_dir, "-DOUTPUT=" + file,
                                   "-DVERSION=1.2.3", "-DCOMPILER=GCC 12.2.0",
                                   std::string("-DGIT=") + LLE_GIT, "-P", LLE_BUILD_INFO_SCRIPT});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(BuildInfoTest, RevisionAndBranchComeFromTheSourceCheckoutElseUnknown) {
  if (std::string(LLE_GIT).empty()) GTEST_SKIP() << "no git";
  TempDir dir;
  const std::string repo = dir.File("repo");
  const auto git = [&repo](std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t",
                               "-c", "commit.gpgsign=false"});
    const RunResult r = RunBinaryAt(LLE_GIT, args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  };
  ASSERT_EQ(mkdir(repo.c_str(), 0755), 0);
  git({"init", "-q", "-b", "release-1.2"});
  ASSERT_EQ(mkdir((repo + "/unpacked").c_str(), 0755), 0);
  dir.Write("repo/unpacked/CMakeLists.txt", "");
  git({"add", "."});
  git({"commit", "-q", "-m", "one"});
  const std::string head = git({"rev-parse", "HEAD"});
  ASSERT_EQ(head.size(), 40u);
  TempDir out;
  EXPECT_NE(GenerateBuildInfo(out, repo).find("{\"1.2.3\", \"" + head +
                                              "\", \"release-1.2\", \"GCC 12.2.0\"}"),
            std::string::npos);
  // A tarball unpacked inside another checkout is no checkout of its own.
  EXPECT_NE(GenerateBuildInfo(out, repo + "/unpacked")
                .find("{\"1.2.3\", \"unknown\", \"unknown\", \"GCC 12.2.0\"}"),
            std::string::npos);
  // Nor is a directory outside any.
  EXPECT_NE(GenerateBuildInfo(out, out.path())
                .find("{\"1.2.3\", \"unknown\", \"unknown\", \"GCC 12.2.0\"}"),
            std::string::npos);
}

// --- --web.listen-address, repeated ------------------------------------------

TEST(ListenAddressesTest, ServesOnEveryAddressAndLogsThemAll) {
  // LaunchDaemon gives 127.0.0.1:0 first; a second 127.0.0.1:0 is another
  // free port (127.0.0.2 would need a client that binds to it).
  Daemon daemon = LaunchDaemon(kBinary, {"--web.listen-address=127.0.0.1:0"});
  static const RE2 kListening(
      R"re(listening on 127\.0\.0\.1:(\d+), 127\.0\.0\.1:(\d+) \(metrics at /metrics\))re");
  int first = 0;
  int second = 0;
  ASSERT_TRUE(RE2::PartialMatch(daemon.log, kListening, &first, &second)) << daemon.log;
  EXPECT_EQ(first, daemon.port);
  EXPECT_NE(first, second);
  daemon.process->Write("{\"status\":\"success\",\"total_time_ms\":5}\n");
  const Expected lines = {{LinesSeries("stdin", "request"), 1}};
  for (const int port : {first, second}) {
    SCOPED_TRACE(port);
    EXPECT_TRUE(WaitForMetrics(port, lines));
    EXPECT_EQ(HttpGet(port, "/-/healthy").status, 200);
  }
}

TEST(ListenAddressesTest, SameFixedAddressTwiceExits2WithOneLine) {
  const RunResult result = RunBinary(
      {"--web.listen-address=127.0.0.1:9", "--web.listen-address=127.0.0.1:9", "--once"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(CountLines(result.err), 1) << result.err;
  EXPECT_NE(result.err.find("llm_log_exporter: --web.listen-address '127.0.0.1:9': given twice"),
            std::string::npos)
      << result.err;
}

// Debian 12's civetweb is built without IPv6 (USE_IPV6): an IPv6 address, even
// next to an IPv4 one, is refused at start with one line, before any port is bound.
TEST(ListenAddressesTest, Ipv6IsRefusedWithOneLine) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--web.listen-address=[::1]:0"},
        std::vector<std::string>{"--web.listen-address=127.0.0.1:0",
                                 "--web.listen-address=[::]:0"}}) {
    SCOPED_TRACE(flags.back());
    const RunResult result = RunBinary(flags);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(CountLines(result.err), 1) << result.err;
    const std::string address = flags.back().substr(flags.back().find('=') + 1);
    EXPECT_NE(result.err.find("llm_log_exporter: --web.listen-address: cannot listen on " +
                              address + ": this build's civetweb has no IPv6 support"),
              std::string::npos)
        << result.err;
  }
}

// --- source="stdin" only when stdin is read ---------------------------------

constexpr char kStdinSeries[] = "source=\"stdin\"";

TEST(StdinSourceTest, AbsentWhileFilesAreFollowed) {
  TempDir dir;
  const std::string file = dir.Write("server.log", "");
  Daemon daemon = LaunchDaemon(kBinary, {"--input.file", file, "--input.file.from-beginning"});
  daemon.process->Write("{\"status\":\"success\",\"total_time_ms\":5}\n");  // never read
  std::ofstream(file, std::ios::app) << "{\"status\":\"success\",\"total_time_ms\":5}\n";
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{LinesSeries(file, "request"), 1}}, &exposition));
  EXPECT_EQ(exposition.find(kStdinSeries), std::string::npos) << exposition;
}

TEST(StdinSourceTest, AbsentWhenIngestComesWithStdinOnDevNull) {
  Daemon daemon = LaunchDaemon(kBinary, {"--ingest.enable"}, "(metrics at", kDeadline, "/dev/null");
  EXPECT_NE(daemon.process->ReadStderrUntil("stdin is /dev/null", kDeadline)
                .find("stdin is /dev/null: not read, log lines come over HTTP only"),
            std::string::npos);
  const HttpResponse posted =
      HttpSend(daemon.port, "POST", "/api/v1/logs", {{"Content-Type", "application/json"}},
               "{\"status\":\"success\",\"total_time_ms\":5}");
  EXPECT_EQ(posted.status, 204) << posted.body;
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{LinesSeries("http", "request"), 1}}, &exposition));
  EXPECT_EQ(exposition.find(kStdinSeries), std::string::npos) << exposition;
}

TEST(StdinSourceTest, PresentWhenStdinIsReadBesidesIngest) {
  Daemon daemon = LaunchDaemon(kBinary, {"--ingest.enable"});  // stdin: a pipe
  daemon.process->Write("{\"status\":\"success\",\"total_time_ms\":5}\n");
  EXPECT_TRUE(WaitForMetrics(daemon.port, {{LinesSeries("stdin", "request"), 1},
                                           {LinesSeries("http", "request"), 0}}));
}

// Without --ingest.enable, stdin on /dev/null is still the input (it ends at
// once, as before): the exporter never runs without a source.
TEST(StdinSourceTest, PresentOnDevNullWithoutIngest) {
  Daemon daemon = LaunchDaemon(kBinary, {}, "(metrics at", kDeadline, "/dev/null");
  EXPECT_TRUE(WaitForMetrics(daemon.port, {{LinesSeries("stdin", "request"), 0}}));
}

}  // namespace
}  // namespace lle::test
