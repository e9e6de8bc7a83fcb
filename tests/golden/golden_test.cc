// Golden tests: the whole llm_log_exporter binary in `--once` mode, one case per
// directory tests/golden/<case>/ (found at run time, so a new case is a new
// directory; name it [A-Za-z0-9_]+ after what it proves). input.log is fed to
// the daemon's stdin byte for byte, and its stdout must equal expected.prom.
// A file `config` in the case holds the path (from the repository root) of a
// config to run with (--config.file); without it, the built-in preset is used.
// A file `flags` holds more flags to run with, one per line.
//
// The comparison is exact except for llm_log_exporter_build_info, whose branch,
// compiler and revision labels depend on the build and are replaced by <BUILD>
// (expected.prom holds <BUILD> literally; tests/integration checks the
// values), and for qwen_last_request_timestamp_seconds: it is
// the wall time at which the exporter read the last request line, so its value
// is replaced by <TIME> on both sides (expected.prom holds <TIME> literally).
// Whether the series is present still counts (it is absent until a request line
// is read), and the actual value must be a wall time taken during this run.
//
// ctest learns of a new case directory when golden_tests is relinked (gtest
// lists the cases at build time); ./golden_tests itself always sees them all.
//
// Regenerating: `LLE_UPDATE_GOLDEN=1 ./golden_tests` (or `LLE_UPDATE_GOLDEN=1
// ctest -R Golden`) writes each case's normalised output to its expected.prom
// instead of comparing, and reports the case as skipped. The daemon then judges
// itself, so never commit that output blindly: read `git diff tests/golden`
// line by line against the input, and check the figures that matter (requests
// by status, sums, tokens) independently of the daemon, by hand or with a
// script of your own. The tests themselves need
// nothing outside this repository.

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "support/child_process.h"
#include "support/exposition.h"
#include "support/temp_dir.h"

namespace lle::test {
namespace {

namespace fs = std::filesystem;

constexpr char kBinary[] = LLE_BINARY;
constexpr char kSampleLog[] = LLE_SAMPLE_LOG;
constexpr char kGoldenDir[] = LLE_GOLDEN_DIR;
constexpr char kInputFile[] = "input.log";
constexpr char kExpectedFile[] = "expected.prom";
constexpr char kConfigFile[] = "config";  // optional: a config of the repository to run with
constexpr char kFlagsFile[] = "flags";    // optional: more flags, one per line
constexpr char kRepoDir[] = LLE_REPO_DIR;
constexpr char kShippedPreset[] = "config/qwen.yaml";
constexpr char kSeedConfig[] = "config/qwen_seed.yaml";  // the preset's five seed series alone
constexpr char kUpdateEnv[] = "LLE_UPDATE_GOLDEN";

constexpr char kTimeSeries[] = "qwen_last_request_timestamp_seconds";
constexpr char kTimePlaceholder[] = "<TIME>";
// Slack around the run for the time check: the system clock may be stepped
// during a run.
constexpr double kTimeSlackSeconds = 2;

constexpr std::size_t kDiffContext = 3;           // unchanged lines shown around a change
constexpr std::size_t kMaxDiffLines = 80;         // keeps a wholesale mismatch readable
constexpr std::size_t kMaxDiffCells = 4'000'000;  // LCS table bound (lines × lines)

// --- Files -------------------------------------------------------------------

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool WriteFile(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out.flush());
}

// Every subdirectory of the golden dir is a case, sorted so runs are stable;
// one without input.log fails rather than being silently skipped.
std::vector<std::string> FindCases() {
  std::vector<std::string> cases;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(kGoldenDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && !name.empty() && name[0] != '.') cases.push_back(name);
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

// The cases that run on the built-in preset: no config or flags of their own.
std::vector<std::string> FindPresetCases() {
  std::vector<std::string> cases = FindCases();
  cases.erase(std::remove_if(cases.begin(), cases.end(),
                             [](const std::string& name) {
                               const fs::path dir = fs::path(kGoldenDir) / name;
                               return fs::exists(dir / kConfigFile) || fs::exists(dir / kFlagsFile);
                             }),
              cases.end());
  return cases;
}

// `--once` with the case's config (a path relative to the repository's root)
// and flags, if it has them.
std::vector<std::string> CaseArgs(const fs::path& dir) {
  std::vector<std::string> args = {kBinary, "--once"};
  if (const std::optional<std::string> config = ReadFile(dir / kConfigFile)) {
    args.push_back("--config.file");
    args.push_back((fs::path(kRepoDir) / config->substr(0, config->find('\n'))).string());
  }
  if (const std::optional<std::string> flags = ReadFile(dir / kFlagsFile)) {
    std::istringstream lines(*flags);
    for (std::string flag; std::getline(lines, flag);) {
      if (!flag.empty()) args.push_back(flag);
    }
  }
  return args;
}

bool UpdateRequested() {
  const char* value = std::getenv(kUpdateEnv);
  return value != nullptr && std::string(value) == "1";
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// --- Normalising the timestamp -----------------------------------------------

struct TimeWindow {
  double earliest;
  double latest;
};

// Returns `text` with the value of each kTimeSeries sample replaced by
// kTimePlaceholder. With a `window` (actual output), only a value that is a wall
// time inside it is replaced; any other stays as it is, so the comparison fails
// on it, and is described in `*problems`. Comments and other series are untouched.
std::string NormaliseTime(const std::string& text, const TimeWindow* window,
                          std::string* problems) {
  const std::string name = kTimeSeries;
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const bool has_newline = end != std::string::npos;
    if (!has_newline) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;

    // A sample line: NAME[{LABELS}] VALUE [TIMESTAMP]; NAME must match whole.
    if (line.compare(0, name.size(), name) == 0 && line.size() > name.size() &&
        (line[name.size()] == ' ' || line[name.size()] == '{')) {
      const std::size_t labels_end = line[name.size()] == '{' ? line.rfind('}') : name.size() - 1;
      const std::size_t value_begin = line.find(' ', labels_end + 1);
      if (value_begin != std::string::npos) {
        const std::size_t value_end = std::min(line.find(' ', value_begin + 1), line.size());
        const std::string value = line.substr(value_begin + 1, value_end - value_begin - 1);
        bool replace = true;
        if (window != nullptr) {
          char* parse_end = nullptr;
          const double seconds = std::strtod(value.c_str(), &parse_end);
          const bool is_number = !value.empty() && parse_end == value.c_str() + value.size();
          replace = is_number && std::isfinite(seconds) && seconds >= window->earliest &&
                    seconds <= window->latest;
          if (!replace) {
            std::ostringstream msg;
            msg.precision(17);
            msg << name << " is " << value << ", not a wall time within [" << window->earliest
                << ", " << window->latest << "] (the run)\n";
            *problems += msg.str();
          }
        }
        if (replace) line.replace(value_begin + 1, value.size(), kTimePlaceholder);
      }
    }
    out += line;
    if (has_newline) out += '\n';
  }
  return out;
}

// --- Normalising the build labels -------------------------------------------

constexpr char kBuildInfoSeries[] = "llm_log_exporter_build_info{";

// Returns `text` with the values of the branch, compiler and revision labels
// of llm_log_exporter_build_info replaced by <BUILD>; the rest is untouched.
std::string NormaliseBuild(const std::string& text) {
  static const RE2 kBuildLabel(R"re(\b(branch|compiler|revision)="[^"]*")re");
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(kBuildInfoSeries, 0) == 0) {
      RE2::GlobalReplace(&line, kBuildLabel, "\\1=\"<BUILD>\"");
    }
    out += line;
    if (!in.eof()) out += '\n';
  }
  return out;
}

// --- Diff --------------------------------------------------------------------

// Lines of `text`; a missing final newline shows as diff(1) marks it, so that a
// difference in it alone still shows up in the diff.
std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      lines.push_back("\\ No newline at end of file");
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

struct Edit {
  char op;                    // ' ' same, '-' only in expected, '+' only in actual
  std::size_t expected_line;  // 1-based line numbers of the position in each file
  std::size_t actual_line;
  const std::string* text;
};

// A minimal line diff (longest common subsequence). Expositions are a few
// hundred lines, so the quadratic table is small; past kMaxDiffCells (a runaway
// output) everything between the common head and tail counts as changed.
std::vector<Edit> DiffLines(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  std::size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  const std::size_t n = a.size() - head - tail;
  const std::size_t m = b.size() - head - tail;
  // lcs[i * (m + 1) + j]: length of the LCS of a[head + i ..] and b[head + j ..] (middle part).
  std::vector<std::uint32_t> lcs;
  const bool exact = (n + 1) * (m + 1) <= kMaxDiffCells;
  if (exact) {
    lcs.assign((n + 1) * (m + 1), 0);
    for (std::size_t i = n; i-- > 0;) {
      for (std::size_t j = m; j-- > 0;) {
        lcs[i * (m + 1) + j] = a[head + i] == b[head + j]
                                   ? lcs[(i + 1) * (m + 1) + j + 1] + 1
                                   : std::max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
      }
    }
  }
  std::vector<Edit> edits;
  std::size_t i = 0;
  std::size_t j = 0;
  auto same = [&] {
    edits.push_back({' ', i + 1, j + 1, &a[i]});
    ++i;
    ++j;
  };
  auto removed = [&] {
    edits.push_back({'-', i + 1, j + 1, &a[i]});
    ++i;
  };
  auto added = [&] {
    edits.push_back({'+', i + 1, j + 1, &b[j]});
    ++j;
  };
  while (i < head) same();
  const std::size_t a_end = head + n;
  const std::size_t b_end = head + m;
  while (i < a_end && j < b_end) {
    const std::size_t ci = i - head;
    const std::size_t cj = j - head;
    if (exact && a[i] == b[j]) {
      same();
    } else if (!exact || lcs[(ci + 1) * (m + 1) + cj] >= lcs[ci * (m + 1) + cj + 1]) {
      removed();
    } else {
      added();
    }
  }
  while (i < a_end) removed();
  while (j < b_end) added();
  while (i < a.size()) same();
  return edits;
}

// Unified-diff style hunks (`@@ -line +line @@`, kDiffContext lines of context),
// cut after kMaxDiffLines lines: the first differences are the ones to read.
std::string FormatDiff(const std::string& expected, const std::string& actual) {
  const std::vector<std::string> a = SplitLines(expected);
  const std::vector<std::string> b = SplitLines(actual);
  const std::vector<Edit> edits = DiffLines(a, b);
  std::vector<bool> shown(edits.size(), false);
  for (std::size_t k = 0; k < edits.size(); ++k) {
    if (edits[k].op == ' ') continue;
    const std::size_t from = k >= kDiffContext ? k - kDiffContext : 0;
    const std::size_t to = std::min(edits.size(), k + kDiffContext + 1);
    for (std::size_t s = from; s < to; ++s) shown[s] = true;
  }
  std::ostringstream out;
  out << "--- " << kExpectedFile << " (expected)\n+++ stdout of " << kBinary
      << " --once (actual)\n";
  std::size_t printed = 0;
  std::size_t remaining_changes = 0;
  for (std::size_t k = 0; k < edits.size(); ++k) {
    if (!shown[k]) continue;
    if (printed >= kMaxDiffLines) {
      remaining_changes += edits[k].op == ' ' ? 0 : 1;
      continue;
    }
    if (k == 0 || !shown[k - 1]) {
      out << "@@ -" << edits[k].expected_line << " +" << edits[k].actual_line << " @@\n";
    }
    out << edits[k].op << *edits[k].text << '\n';
    ++printed;
  }
  if (remaining_changes > 0) {
    out << "... diff cut; " << remaining_changes << " more changed lines\n";
  }
  return out.str();
}

// Both runs exited 0 and printed the same exposition, the read-time gauge aside.
::testing::AssertionResult SameExposition(const RunResult& a, const RunResult& b) {
  for (const RunResult* run : {&a, &b}) {
    if (run->exit_code != 0) {
      return ::testing::AssertionFailure() << "exit code " << run->exit_code << "\n" << run->err;
    }
  }
  std::string ignored;
  const std::string a_text = NormaliseTime(a.out, nullptr, &ignored);
  const std::string b_text = NormaliseTime(b.out, nullptr, &ignored);
  if (a_text == b_text) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << FormatDiff(a_text, b_text);
}

// --- The --once summary ------------------------------------------------------

// The results of llm_log_exporter_lines_total, in the order of its series.
const char* const kResults[] = {"request",      "event",    "not_json",
                                "invalid_utf8", "too_long", "dropped"};

// Whether `text` is "<seconds, 3 decimals> s, <whole number or -> lines/s\n".
bool IsTimeAndRate(const std::string& text) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - from;
  };
  if (digits() == 0 || i >= text.size() || text[i++] != '.' || digits() != 3) return false;
  if (text.compare(i, 4, " s, ") != 0) return false;
  i += 4;
  if (i < text.size() && text[i] == '-') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  return text.compare(i, std::string::npos, " lines/s\n") == 0;
}

// Whether the last line of `err` is --once's summary with the line counts
// of `expected` (an expected.prom): total, each result, requests.
::testing::AssertionResult SummaryMatches(const std::string& err, const std::string& expected) {
  std::string want = "llm_log_exporter: --once: ";
  double total = 0;
  std::string results;
  for (const char* result : kResults) {
    const std::optional<double> lines = MetricValue(expected, LinesSeries("stdin", result));
    if (!lines) return ::testing::AssertionFailure() << "expected.prom has no lines of " << result;
    total += *lines;
    results += std::string(results.empty() ? "" : ", ") + result + " " +
               std::to_string(static_cast<long long>(*lines));
  }
  const double requests = *MetricValue(expected, LinesSeries("stdin", "request"));
  want += std::to_string(static_cast<long long>(total)) + (total == 1 ? " line (" : " lines (") +
          results + "), " + std::to_string(static_cast<long long>(requests)) +
          (requests == 1 ? " request, " : " requests, ");
  if (err.empty() || err.back() != '\n') {
    return ::testing::AssertionFailure() << "stderr does not end with a line:\n" << err;
  }
  const std::size_t start = err.rfind('\n', err.size() - 2);
  const std::string last = err.substr(start == std::string::npos ? 0 : start + 1);
  // Seconds and rate vary from run to run; their form does not.
  if (last.rfind(want, 0) != 0 || !IsTimeAndRate(last.substr(want.size()))) {
    return ::testing::AssertionFailure() << "last line of stderr:\n"
                                         << last << "expected:\n"
                                         << want << "<seconds> s, <rate> lines/s";
  }
  return ::testing::AssertionSuccess();
}

// --- The test ----------------------------------------------------------------

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, Case) {
  const fs::path dir = fs::path(kGoldenDir) / GetParam();
  const std::optional<std::string> input = ReadFile(dir / kInputFile);
  ASSERT_TRUE(input.has_value()) << "cannot read " << (dir / kInputFile);

  const std::vector<std::string> args = CaseArgs(dir);
  const double started = WallSeconds();
  // Qualified: inside a test body, plain `Run` is testing::Test::Run.
  const RunResult run = ::lle::test::Run(args, *input);
  const TimeWindow run_window{started - kTimeSlackSeconds, WallSeconds() + kTimeSlackSeconds};
  ASSERT_EQ(run.exit_code, 0) << kBinary << " --once < " << (dir / kInputFile) << "\nstderr:\n"
                              << run.err;

  std::string time_problems;
  const std::string actual = NormaliseBuild(NormaliseTime(run.out, &run_window, &time_problems));
  EXPECT_TRUE(time_problems.empty()) << time_problems;

  if (UpdateRequested()) {
    // A value that failed the time check is not written: it would become the
    // expectation and make every later run fail on an old wall time.
    ASSERT_TRUE(time_problems.empty());
    ASSERT_TRUE(WriteFile(dir / kExpectedFile, actual)) << "cannot write " << (dir / kExpectedFile);
    GTEST_SKIP() << kUpdateEnv << "=1: wrote " << (dir / kExpectedFile)
                 << "; review the diff before committing (see the top of golden_test.cc)";
  }

  const std::optional<std::string> expected_raw = ReadFile(dir / kExpectedFile);
  ASSERT_TRUE(expected_raw.has_value())
      << "cannot read " << (dir / kExpectedFile) << "; create it with " << kUpdateEnv
      << "=1 and check it (see the top of golden_test.cc)";
  const std::string expected = NormaliseBuild(NormaliseTime(*expected_raw, nullptr, nullptr));
  // stderr (a pipe here) ends with the summary, whose counts are those of
  // the expected llm_log_exporter_lines_total.
  EXPECT_TRUE(SummaryMatches(run.err, expected));
  EXPECT_EQ(run.err.find('\r'), std::string::npos) << "progress on a pipe:\n" << run.err;
  if (expected != actual) {
    ADD_FAILURE() << "case " << GetParam() << ": output differs from " << (dir / kExpectedFile)
                  << "\n"
                  << FormatDiff(expected, actual) << "stderr:\n"
                  << run.err;
  }
}

// The built-in preset is compiled from config/qwen.yaml: every case that runs
// on the built-in preset gives the same output with the shipped file.
class PresetGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PresetGoldenTest, SameWithTheShippedPresetFile) {
  const fs::path dir = fs::path(kGoldenDir) / GetParam();
  const std::optional<std::string> input = ReadFile(dir / kInputFile);
  ASSERT_TRUE(input.has_value());
  const RunResult builtin = ::lle::test::Run({kBinary, "--once"}, *input);
  const RunResult shipped = ::lle::test::Run(
      {kBinary, "--once", "--config.file", (fs::path(kRepoDir) / kShippedPreset).string()}, *input);
  EXPECT_TRUE(SameExposition(builtin, shipped));
}

// With stdin a regular file (`--once < input.log`), the output is the same
// as through a pipe.
TEST_P(GoldenTest, SameWhenStdinIsTheFile) {
  const fs::path dir = fs::path(kGoldenDir) / GetParam();
  const std::optional<std::string> input = ReadFile(dir / kInputFile);
  ASSERT_TRUE(input.has_value());
  const std::vector<std::string> args = CaseArgs(dir);
  const RunResult piped = ::lle::test::Run(args, *input);
  const RunResult file = ::lle::test::RunWithStdinFile(args, dir / kInputFile);
  EXPECT_TRUE(SameExposition(piped, file));
}

// The test name is the case name; gtest accepts only [A-Za-z0-9_] in it.
std::string CaseName(const ::testing::TestParamInfo<std::string>& param) {
  std::string name = param.param;
  for (char& c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenTest, ::testing::ValuesIn(FindCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(Golden, PresetGoldenTest, ::testing::ValuesIn(FindPresetCases()),
                         CaseName);

// An empty parameter list would make the suite pass by running nothing, e.g.
// if LLE_GOLDEN_DIR pointed at the wrong place.
TEST(GoldenCases, Found) {
  EXPECT_FALSE(FindCases().empty()) << "no case directories in " << kGoldenDir;
}

TEST(GoldenCases, NormaliseBuildReplacesOnlyTheBuildDependentLabels) {
  EXPECT_EQ(NormaliseBuild("# HELP llm_log_exporter_build_info Build, revision=\"x\"\n"
                           "llm_log_exporter_build_info{branch=\"main\",compiler=\"GCC 12.2.0\","
                           "revision=\"0123abc\",version=\"0.1.0\"} 1\n"
                           "other{revision=\"a\"} 1"),
            "# HELP llm_log_exporter_build_info Build, revision=\"x\"\n"
            "llm_log_exporter_build_info{branch=\"<BUILD>\",compiler=\"<BUILD>\","
            "revision=\"<BUILD>\",version=\"0.1.0\"} 1\n"
            "other{revision=\"a\"} 1");
}

// The normaliser is what keeps the exact comparison meaningful, so it is tested too.
TEST(GoldenCases, NormaliseTimeReplacesOnlyTheTimestampValue) {
  const std::string text =
      "# HELP qwen_last_request_timestamp_seconds Unix time\n"
      "qwen_last_request_timestamp_seconds 1700000000.5\n"
      "qwen_last_request_timestamp_seconds_other 7\n"
      "qwen_requests_total{status=\"success\"} 1\n";
  std::string problems;
  const TimeWindow window{1699999999, 1700000001};
  EXPECT_EQ(NormaliseTime(text, &window, &problems),
            "# HELP qwen_last_request_timestamp_seconds Unix time\n"
            "qwen_last_request_timestamp_seconds <TIME>\n"
            "qwen_last_request_timestamp_seconds_other 7\n"
            "qwen_requests_total{status=\"success\"} 1\n");
  EXPECT_EQ(problems, "");
}

TEST(GoldenCases, NormaliseTimeKeepsAValueOutsideTheRun) {
  const std::string text = "qwen_last_request_timestamp_seconds 0\n";
  std::string problems;
  const TimeWindow window{1699999999, 1700000001};
  EXPECT_EQ(NormaliseTime(text, &window, &problems), text);
  EXPECT_NE(problems, "");
}

TEST(GoldenCases, DiffShowsChangedLinesWithContext) {
  const std::string diff = FormatDiff("a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nE\nf\ng\nh");
  // One hunk: the two changes are closer than twice the context.
  EXPECT_NE(diff.find("\n@@ -2 +2 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
                      "+\\ No newline at end of file\n"),
            std::string::npos)
      << diff;
}

// The sample log the profile-guided build trains on (bench/sample_log.cc) is
// also the README's quick input: the exporter must take every line of it as
// what it is, through the same binary.
TEST(SampleLog, EveryLineIsCountedAndRequestsAreMostOfThem) {
  constexpr int kLines = 20000;
  const RunResult sample = ::lle::test::Run({kSampleLog, std::to_string(kLines)}, "");
  ASSERT_EQ(sample.exit_code, 0) << sample.err;
  ASSERT_EQ(std::count(sample.out.begin(), sample.out.end(), '\n'), kLines);
  const RunResult once = ::lle::test::Run({kBinary, "--once"}, sample.out);
  ASSERT_EQ(once.exit_code, 0) << once.err;
  EXPECT_EQ(SumOfSamples(once.out, "llm_log_exporter_lines_total{"), kLines);
  const std::optional<double> requests = MetricValue(once.out, LinesSeries("stdin", "request"));
  ASSERT_TRUE(requests.has_value()) << once.out;
  EXPECT_GT(*requests, 0.9 * kLines);
  EXPECT_EQ(SumOfSamples(once.out, "qwen_requests_total{"), *requests);
  // Its JSON events, and text lines and partial writes:
  EXPECT_GT(MetricValue(once.out, LinesSeries("stdin", "event")).value_or(0), 0);
  EXPECT_GT(MetricValue(once.out, LinesSeries("stdin", "not_json")).value_or(0), 0);
}

// A file as stdin: with small chunks (4 KiB, so over a thousand) and one
// worker, the output is byte for byte that of a pipe, also for a last line
// without '\n' and a line over the limit before it.
TEST(SampleLog, SameWhenStdinIsTheFile) {
  const RunResult sample = ::lle::test::Run({kSampleLog, "20000"}, "");
  ASSERT_EQ(sample.exit_code, 0) << sample.err;
  const std::string too_long(5000, 'x');
  const std::string input = sample.out + too_long + "\n" +
                            "{\"status\":\"timeout\",\"total_time_ms\":30000}\n"
                            "{\"status\":\"error\",\"total_time_ms\":7}";
  TempDir dir;
  const std::string path = dir.Write("input.log", input);
  const std::vector<std::string> args = {kBinary,
                                         "--once",
                                         "--input.workers",
                                         "1",
                                         "--input.buffer-bytes",
                                         "65536",
                                         "--input.max-line-bytes",
                                         "4096"};
  const RunResult piped = ::lle::test::Run(args, input);
  const RunResult file = ::lle::test::RunWithStdinFile(args, path);
  ASSERT_TRUE(SameExposition(piped, file));
  EXPECT_EQ(MetricValue(file.out, LinesSeries("stdin", "too_long")), 1);
  EXPECT_EQ(MetricValue(file.out, "llm_log_exporter_bytes_total{source=\"stdin\"}"),
            static_cast<double>(input.size()));
}

// config/qwen_seed.yaml is the preset's five seed series alone, from JSON
// request lines as the original script read them: on the sample log's JSON
// lines its qwen_ lines are exactly the preset's lines of those five
// families, and it has no other qwen_ family. (The preset also counts the
// text lines of stock servers, which the seed config leaves alone.)
TEST(SampleLog, SeedConfigGivesThePresetsSeedSeries) {
  const RunResult sample = ::lle::test::Run({kSampleLog, "20000"}, "");
  ASSERT_EQ(sample.exit_code, 0) << sample.err;
  std::string json;
  std::istringstream sample_lines(sample.out);
  for (std::string line; std::getline(sample_lines, line);) {
    if (line.rfind('{', 0) == 0) json += line + "\n";
  }
  const RunResult preset = ::lle::test::Run({kBinary, "--once"}, json);
  const RunResult seed = ::lle::test::Run(
      {kBinary, "--once", "--config.file", (fs::path(kRepoDir) / kSeedConfig).string()}, json);
  ASSERT_EQ(preset.exit_code, 0) << preset.err;
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  const std::set<std::string> families = {"qwen_requests_total", "qwen_request_duration_ms",
                                          "qwen_input_tokens", "qwen_output_tokens",
                                          "qwen_gpu_memory_mb"};
  // The HELP, TYPE and sample lines of the five families, in order; false if
  // there is a qwen_ line of another family.
  const auto seed_lines = [&](const std::string& text, std::string* out) {
    std::istringstream lines(text);
    bool only_seed = true;
    for (std::string line; std::getline(lines, line);) {
      const std::size_t at = line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0 ? 7 : 0;
      if (line.compare(at, 5, "qwen_") != 0) continue;
      std::string name = line.substr(at, line.find_first_of("{ ", at) - at);
      for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
        if (families.count(name) == 0 && name.size() > suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
          name.resize(name.size() - suffix.size());
        }
      }
      if (families.count(name) != 0) {
        *out += line + "\n";
      } else {
        only_seed = false;
      }
    }
    return only_seed;
  };
  std::string from_preset, from_seed;
  EXPECT_FALSE(seed_lines(preset.out, &from_preset));  // the preset has more
  EXPECT_TRUE(seed_lines(seed.out, &from_seed)) << seed.out;
  // HELP and TYPE of each; 3 statuses; 6, 7 and 7 buckets, each with _count
  // and _sum; one gauge.
  EXPECT_EQ(std::count(from_seed.begin(), from_seed.end(), '\n'),
            5 * 2 + 3 + (6 + 2) + (7 + 2) + (7 + 2) + 1);
  EXPECT_EQ(from_seed, from_preset) << FormatDiff(from_preset, from_seed);
}

}  // namespace
}  // namespace lle::test
