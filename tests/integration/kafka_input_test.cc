// Integration tests of the Kafka input (--input.kafka.*): the real binary
// consumes from librdkafka's own mock cluster (tests/support/kafka_mock_main.cc,
// a process of its own on kernel-chosen ports), and messages are produced by
// the real kcat. Metrics come back over real HTTP on 127.0.0.1.
//
// The consumer joins its group on its own thread, and librdkafka's mock
// coordinator waits a few seconds before the first assignment: tests never
// sleep for that, they scrape until the expected values appear or a deadline
// passes. Counts are exact: each test has its own cluster (fresh topics), and
// the input commits on revoke and on stop, so neither a rebalance nor a
// restart replays a message here (in general it may: at least once).

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
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
constexpr char kMock[] = LLE_KAFKA_MOCK;
constexpr char kKcat[] = LLE_KCAT;
// Generous: a group's first join alone takes the mock ~3 s; reached only on failure.
constexpr seconds kDeadline{30};

// --- The cluster and its producer ---------------------------------------------

// A mock cluster with `topics` ("NAME:PARTITIONS"): its bootstrap address,
// and commands on its stdin (down, up). Killed with the test.
struct Cluster {
  std::unique_ptr<ChildProcess> process;
  std::string bootstrap;

  // Every broker refuses connections ("down") or accepts them again ("up").
  // Each command once per test: the answer `ok COMMAND` is then unique.
  void Command(const std::string& command) {
    process->Write(command + "\n");
    const std::string out = process->ReadStdoutUntil("ok " + command + "\n", seconds(5));
    if (out.find("ok " + command + "\n") == std::string::npos) {
      throw std::runtime_error("mock did not answer `" + command + "`: " + out);
    }
  }
};

Cluster StartCluster(const std::vector<std::string>& topics) {
  std::vector<std::string> argv = {kMock};
  argv.insert(argv.end(), topics.begin(), topics.end());
  Cluster cluster;
  cluster.process = std::make_unique<ChildProcess>(argv);
  const std::string out = cluster.process->ReadStdoutUntil("\n", seconds(10));
  if (out.find('\n') == std::string::npos) {
    throw std::runtime_error("lle_kafka_mock printed no bootstrap address: " +
                             cluster.process->DrainStderr(seconds(1)));
  }
  cluster.bootstrap = out.substr(0, out.find('\n'));
  return cluster;
}

// Produces `values` to `topic` with kcat, one message each, keyed k0, k1...
// (keys spread them over the partitions). `values` must not hold '\x1e'.
// With `partition` >= 0, all to that partition.
void Produce(const Cluster& cluster, const std::string& topic,
             const std::vector<std::string>& values, int first_key = 0, int partition = -1) {
  std::string input;
  for (std::size_t i = 0; i < values.size(); ++i) {
    input += "k" + std::to_string(first_key + static_cast<int>(i)) + "\x1f" + values[i] + "\x1e";
  }
  std::vector<std::string> argv = {kKcat, "-P",    "-b", cluster.bootstrap, "-t", topic,
                                   "-K",  "\\x1f", "-D", "\\x1e",           "-X", "log_level=3"};
  if (partition >= 0) {
    argv.push_back("-p");
    argv.push_back(std::to_string(partition));
  }
  const RunResult result = Run(argv, input, kDeadline);
  if (result.exit_code != 0) {
    throw std::runtime_error("kcat -P failed (" + std::to_string(result.exit_code) +
                             "): " + result.err);
  }
}

// --- Lines -------------------------------------------------------------------

std::string RequestLine(const std::string& status, int total_time_ms) {
  return "{\"input_tokens\":300,\"output_tokens\":40,\"total_time_ms\":" +
         std::to_string(total_time_ms) + ",\"status\":\"" + status + "\"}";
}

// `count` messages, each one success line of 100 ms.
std::vector<std::string> Requests(int count, const std::string& status = "success") {
  return std::vector<std::string>(static_cast<std::size_t>(count), RequestLine(status, 100));
}

// A JSON string literal of `text` (quotes, backslashes and newlines: enough here).
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// --- The daemon ----------------------------------------------------------------

std::string Source(const Cluster& cluster, const std::string& topic) {
  return "kafka://" + cluster.bootstrap.substr(0, cluster.bootstrap.find(',')) + "/" + topic;
}

std::string Up(const std::string& source) {
  return "llm_log_exporter_input_up{source=\"" + source + "\"}";
}

std::string Unreadable(const std::string& source, const std::string& reason) {
  return "llm_log_exporter_input_entries_skipped_total{source=\"" + source + "\",reason=\"" +
         reason + "\"}";
}

std::vector<std::string> KafkaFlags(const Cluster& cluster, const std::string& topic,
                                    const std::vector<std::string>& more = {}) {
  // The mock coordinator waits session.timeout.ms - 1 s for every member to
  // rejoin a rebalance (librdkafka's default: 45 s); 6 s, Kafka's minimum,
  // keeps a rebalance within the deadline.
  std::vector<std::string> flags = {"--input.kafka.brokers", cluster.bootstrap,
                                    "--input.kafka.topic",   topic,
                                    "--input.kafka.start",   "earliest",
                                    "--input.kafka.option",  "session.timeout.ms=6000",
                                    "--log.level",           "info"};
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

Daemon StartExporter(const Cluster& cluster, const std::string& topic,
                     const std::vector<std::string>& more = {}) {
  return LaunchDaemon(kBinary, KafkaFlags(cluster, topic, more), "(metrics at", seconds(10));
}

double Value(const std::string& exposition, const std::string& series) {
  return MetricValue(exposition, series).value_or(-1);
}

RunResult RunBinary(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return Run(argv, "", seconds(10));
}

int CountLines(const std::string& text) {
  int lines = 0;
  for (const char c : text) lines += c == '\n';
  return lines;
}

// --- Tests ---------------------------------------------------------------------

// N raw messages, one of three lines, spread over 4 partitions: every line
// counted once, with its duration.
TEST(KafkaInputTest, RawMessagesAreCountedExactly) {
  Cluster cluster = StartCluster({"logs:4"});
  Daemon daemon = StartExporter(cluster, "logs");
  std::vector<std::string> values = Requests(40);
  values.push_back(RequestLine("error", 7) + "\n" + RequestLine("error", 7) + "\n" +
                   RequestLine("timeout", 9));  // one message, three lines
  Produce(cluster, "logs", values);
  const std::string source = Source(cluster, "logs");
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port,
                             {{RequestsSeries("success"), 40},
                              {RequestsSeries("error"), 2},
                              {RequestsSeries("timeout"), 1},
                              {"qwen_request_duration_ms_sum", 40 * 100 + 7 + 7 + 9},
                              {LinesSeries(source, "request"), 43},
                              {Up(source), 1}},
                             &exposition, "/metrics", kDeadline));
  EXPECT_EQ(Value(exposition, "qwen_request_duration_ms_count"), 43);
  EXPECT_EQ(Value(exposition, Unreadable(source, "empty")), 0);
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(10)));
}

// JSON envelopes as Fluent Bit (`log`) writes them; values that are no such
// envelope are counted by reason, and the messages after them still come.
TEST(KafkaInputTest, JsonEnvelopesAndBadOnesCountedByReason) {
  Cluster cluster = StartCluster({"fluent:2"});
  Daemon daemon = StartExporter(cluster, "fluent", {"--input.kafka.format", "json"});
  std::vector<std::string> values;
  for (int i = 0; i < 30; ++i) {
    values.push_back("{\"@timestamp\":1733553600.5,\"log\":" +
                     Quoted(RequestLine("success", 100) + "\n") + ",\"stream\":\"stdout\"}");
  }
  values.push_back("not json at all");                   // not_json
  values.push_back("[1,2,3]");                           // not_object
  values.push_back("{\"message\":\"vector's field\"}");  // missing_field
  values.push_back("{\"log\":42}");                      // field_not_string
  values.push_back("{\"log\":" + Quoted(RequestLine("error", 5)) + "}");
  Produce(cluster, "fluent", values);
  const std::string source = Source(cluster, "fluent");
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port,
                             {{RequestsSeries("success"), 30},
                              {RequestsSeries("error"), 1},
                              {"qwen_request_duration_ms_sum", 30 * 100 + 5},
                              {Unreadable(source, "not_json"), 1},
                              {Unreadable(source, "not_object"), 1},
                              {Unreadable(source, "missing_field"), 1},
                              {Unreadable(source, "field_not_string"), 1}},
                             &exposition, "/metrics", kDeadline));
  EXPECT_EQ(Value(exposition, LinesSeries(source, "request")), 31);
  EXPECT_EQ(Value(exposition, LinesSeries(source, "not_json")), 0);
}

// Vector's envelope names its field `message`; an empty (null) value is
// counted as `empty`.
TEST(KafkaInputTest, FieldFlagAndEmptyValues) {
  Cluster cluster = StartCluster({"vector:1"});
  Daemon daemon = StartExporter(cluster, "vector",
                                {"--input.kafka.format=json", "--input.kafka.field=message"});
  Produce(cluster, "vector",
          {"{\"message\":" + Quoted(RequestLine("success", 100)) + "}",
           "{\"log\":" + Quoted(RequestLine("success", 100)) + "}"});
  // kcat -Z: an empty value is sent as NULL (a tombstone).
  const RunResult tombstone = lle::test::Run(
      {kKcat, "-P", "-b", cluster.bootstrap, "-t", "vector", "-K", "|", "-Z", "-X", "log_level=3"},
      "k9|\n", kDeadline);
  ASSERT_EQ(tombstone.exit_code, 0) << tombstone.err;
  const std::string source = Source(cluster, "vector");
  ASSERT_TRUE(WaitForMetrics(daemon.port,
                             {{RequestsSeries("success"), 1},
                              {Unreadable(source, "missing_field"), 1},
                              {Unreadable(source, "empty"), 1}},
                             nullptr, "/metrics", kDeadline));
}

// A second exporter joins the group: the partitions are shared (it gets
// some and counts lines of its own), and the two together count every
// message at least once (nothing lost). Not exactly once: librdkafka 2.0's
// mock refuses every offset commit while a rebalance is in progress (the
// first exporter's commit on revoke included), and its rebalances take one
// to three rounds of session.timeout.ms - 1 s, while an exporter learns of
// one only at its next heartbeat. Of a dozen runs, most counted exactly 80
// and one 106; the bound checked is that no message counts more than twice.
TEST(KafkaInputTest, SecondExporterJoinsTheGroupAndSharesPartitions) {
  Cluster cluster = StartCluster({"shared:4"});
  const std::vector<std::string> group = {"--input.kafka.group", "shared-group"};
  Daemon first = StartExporter(cluster, "shared", group);
  Produce(cluster, "shared", Requests(20));
  ASSERT_TRUE(WaitForMetrics(first.port, {{RequestsSeries("success"), 20}}, nullptr, "/metrics",
                             kDeadline));
  Daemon second = StartExporter(cluster, "shared", group);
  // Its first assignment with partitions ends the rebalance (with 4
  // partitions and 2 members, 2 each). The mock may take a few rounds of
  // session.timeout.ms - 1 s each to get there: a longer deadline.
  const seconds rebalance_deadline{60};
  const auto assigned = Clock::now() + rebalance_deadline;
  std::string log;
  for (;;) {
    log = second.process->ReadStderrUntil("\n-none-\n", milliseconds(200));
    bool some = false;
    for (std::size_t at = 0; (at = log.find(" partition(s) assigned", at)) != std::string::npos;
         ++at) {
      some = some || (at > 0 && log[at - 1] != '0');
    }
    if (some) break;
    ASSERT_LT(Clock::now(), assigned) << log;
  }
  Produce(cluster, "shared", Requests(60), /*first_key=*/20);
  // Then one `error` line last in each partition: once the four are counted,
  // every message before them is, read again or not.
  for (int partition = 0; partition < 4; ++partition) {
    Produce(cluster, "shared", {RequestLine("error", 1)}, 100 + partition, partition);
  }
  const std::string source = Source(cluster, "shared");
  const auto deadline = Clock::now() + rebalance_deadline;
  std::string one, two;
  for (;;) {
    one = HttpGet(first.port, "/metrics").body;
    two = HttpGet(second.port, "/metrics").body;
    if (Value(one, RequestsSeries("error")) + Value(two, RequestsSeries("error")) >= 4) break;
    ASSERT_LT(Clock::now(), deadline) << one << two;
    std::this_thread::sleep_for(milliseconds(20));  // poll interval, not a synchronisation
  }
  const double a = Value(one, RequestsSeries("success"));
  const double b = Value(two, RequestsSeries("success"));
  EXPECT_GT(Value(two, LinesSeries(source, "request")), 0) << two;
  EXPECT_GT(Value(one, LinesSeries(source, "request")), 20) << one;
  EXPECT_GE(a + b, 80) << "first " << a << ", second " << b;
  EXPECT_LE(a + b, 2 * 80) << "first " << a << ", second " << b << "\nfirst's log:\n"
                           << first.process->ReadStderrUntil("\n-none-\n", milliseconds(300))
                           << "second's log:\n"
                           << second.process->ReadStderrUntil("\n-none-\n", milliseconds(300));
  EXPECT_EQ(Value(one, RequestsSeries("error")) + Value(two, RequestsSeries("error")), 4);
  EXPECT_TRUE(StopsCleanlyWithin(*second.process, SIGTERM, seconds(10)));
  EXPECT_TRUE(StopsCleanlyWithin(*first.process, SIGTERM, seconds(10)));
}

// SIGTERM commits what was applied and leaves the group: a restarted exporter
// of the same group counts only the messages produced since (one partition:
// the marker line comes after every message, replayed or not).
TEST(KafkaInputTest, RestartResumesFromTheCommittedOffset) {
  Cluster cluster = StartCluster({"resume:1"});
  const std::vector<std::string> group = {"--input.kafka.group", "resume-group"};
  {
    Daemon daemon = StartExporter(cluster, "resume", group);
    Produce(cluster, "resume", Requests(10));
    ASSERT_TRUE(WaitForMetrics(daemon.port, {{RequestsSeries("success"), 10}}, nullptr, "/metrics",
                               kDeadline));
    ASSERT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(10)));
  }
  std::vector<std::string> more = Requests(7);
  more.push_back(RequestLine("error", 1));  // the marker: last in the partition
  Produce(cluster, "resume", more);
  Daemon daemon = StartExporter(cluster, "resume", group);
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{RequestsSeries("error"), 1}}, &exposition, "/metrics",
                             kDeadline));
  EXPECT_EQ(Value(exposition, RequestsSeries("success")), 7);
  EXPECT_EQ(Value(exposition, "qwen_request_duration_ms_sum"), 7 * 100 + 1);
}

// Brokers refuse connections: input_up 0, /metrics and /-/ready still answer,
// the outage is logged once per error, not per retry; when they come back,
// input_up is 1 again, a reconnect is counted, and messages flow again. The
// messages read before the outage are committed within 100 ms of being
// counted: if the outage came first (a loaded machine), they are read again
// when the brokers are back, as at-least-once allows.
TEST(KafkaInputTest, BrokersDownThenBack) {
  Cluster cluster = StartCluster({"outage:2"});
  Daemon daemon = StartExporter(cluster, "outage");
  const std::string source = Source(cluster, "outage");
  Produce(cluster, "outage", Requests(3));
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Up(source), 1}, {RequestsSeries("success"), 3}},
                             nullptr, "/metrics", kDeadline));
  cluster.Command("down");
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Up(source), 0}}, nullptr, "/metrics", kDeadline));
  EXPECT_EQ(HttpGet(daemon.port, "/-/ready").status, 200);
  EXPECT_EQ(HttpGet(daemon.port, "/-/healthy").status, 200);
  // librdkafka retries every 100 ms to 10 s (reconnect.backoff*): 3 s is
  // dozens of retries, to be logged as a handful of lines, not dozens.
  const std::string log = daemon.process->ReadStderrUntil("\n-never-\n", seconds(3));
  int warnings = 0;
  for (std::size_t at = 0; (at = log.find(" warning ", at)) != std::string::npos; ++at) {
    ++warnings;
  }
  EXPECT_GE(warnings, 1) << log;
  EXPECT_LE(warnings, 4) << log;
  cluster.Command("up");
  ASSERT_TRUE(WaitForMetrics(
      daemon.port,
      {{Up(source), 1}, {"llm_log_exporter_input_reconnects_total{source=\"" + source + "\"}", 1}},
      nullptr, "/metrics", kDeadline));
  Produce(cluster, "outage", Requests(2, "timeout"), 100);
  std::string exposition;
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{RequestsSeries("timeout"), 2}}, &exposition, "/metrics",
                             kDeadline));
  const double success = Value(exposition, RequestsSeries("success"));
  EXPECT_TRUE(success == 3 || success == 6) << success;
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(10)));
}

// The cluster goes away for good (its process ends): input_up 0, the daemon
// keeps serving and still stops cleanly on SIGTERM.
TEST(KafkaInputTest, ClusterGoneKeepsServingAndStops) {
  Cluster cluster = StartCluster({"gone:1"});
  Daemon daemon = StartExporter(cluster, "gone");
  const std::string source = Source(cluster, "gone");
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Up(source), 1}}, nullptr, "/metrics", kDeadline));
  cluster.process->CloseStdin();
  ASSERT_EQ(cluster.process->Wait(seconds(10)), 0);
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Up(source), 0}}, nullptr, "/metrics", kDeadline));
  EXPECT_EQ(HttpGet(daemon.port, "/-/ready").status, 200);
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(10)));
}

// Bad flags: one line on stderr naming the flag, exit 2 (1 for a file that
// cannot be read, as for the other secret files), before any port is opened.
// A value never shows in the message: it may be a secret.
TEST(KafkaInputTest, BadFlagsGiveOneLineAndExit2) {
  TempDir dir;
  const std::string secret = dir.Write("secret", "hunter2-secret\n");
  struct Case {
    std::vector<std::string> flags;
    int code;
    std::string mentions;
  };
  const std::string broker = "127.0.0.1:1";
  const std::vector<Case> cases = {
      {{"--input.kafka.topic", "logs"}, 2, "--input.kafka.brokers"},
      {{"--input.kafka.brokers", broker}, 2, "--input.kafka.topic"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a,bad topic"}, 2, "bad topic"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a,b", "--input.kafka.topic", "a"},
       2,
       "given twice"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--input.kafka.format=xml"},
       2,
       "--input.kafka.format"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--input.kafka.start=now"},
       2,
       "--input.kafka.start"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--once"}, 2, "--once"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--input.kafka.option",
        "no.such.property=1"},
       2,
       "no.such.property"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--input.kafka.option",
        "hunter2-secret"},
       2,
       "KEY=VALUE"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--input.kafka.option",
        "group.id=other"},
       2,
       "--input.kafka.group"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--input.kafka.option-file",
        "session.timeout.ms=" + secret},
       2,
       "session.timeout.ms"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--input.kafka.option",
        "security.protocol=sasl_ssl", "--input.kafka.option", "sasl.mechanism=NOPE",
        "--input.kafka.option-file", "sasl.password=" + secret},
       2,
       "SASL mechanism"},
      {{"--input.kafka.brokers", broker, "--input.kafka.topic", "a", "--input.kafka.option-file",
        "sasl.password=" + dir.File("missing")},
       1,
       "sasl.password"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> flags = {"--web.listen-address", "127.0.0.1:0"};
    flags.insert(flags.end(), c.flags.begin(), c.flags.end());
    const RunResult result = RunBinary(flags);
    std::string shown;
    for (const std::string& flag : c.flags) shown += flag + " ";
    EXPECT_EQ(result.exit_code, c.code) << shown << "\n" << result.err;
    EXPECT_EQ(CountLines(result.err), 1) << shown << "\n" << result.err;
    EXPECT_NE(result.err.find(c.mentions), std::string::npos) << shown << "\n" << result.err;
    EXPECT_EQ(result.err.find("hunter2"), std::string::npos) << shown << "\n" << result.err;
    EXPECT_EQ(result.err.find("listening"), std::string::npos) << shown << "\n" << result.err;
  }
}

// --input.kafka.start=latest (the default): a new group skips what the topic
// held before it joined. Where "latest" is, librdkafka settles just after the
// assignment, so the test produces a marker until one is counted.
TEST(KafkaInputTest, LatestSkipsWhatTheTopicHeldBefore) {
  Cluster cluster = StartCluster({"old:2"});
  Produce(cluster, "old", Requests(5));
  Daemon daemon = LaunchDaemon(
      kBinary, {"--input.kafka.brokers", cluster.bootstrap, "--input.kafka.topic", "old"},
      "(metrics at", seconds(10));
  const std::string source = Source(cluster, "old");
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Up(source), 1}}, nullptr, "/metrics", kDeadline));
  const auto deadline = Clock::now() + kDeadline;
  std::string exposition;
  for (int marker = 0; Value(exposition, RequestsSeries("error")) < 1; ++marker) {
    ASSERT_LT(Clock::now(), deadline) << exposition;
    Produce(cluster, "old", {RequestLine("error", 1)}, 1000 + marker);
    const auto next = Clock::now() + seconds(1);
    do {
      std::this_thread::sleep_for(milliseconds(20));  // poll interval, not a synchronisation
      exposition = HttpGet(daemon.port, "/metrics").body;
    } while (Value(exposition, RequestsSeries("error")) < 1 && Clock::now() < next);
  }
  EXPECT_EQ(Value(exposition, RequestsSeries("success")), 0);
}

// The landing page lists the topic as a Kafka input of its group.
TEST(KafkaInputTest, LandingPageListsTheTopic) {
  Cluster cluster = StartCluster({"page:1"});
  Daemon daemon = StartExporter(cluster, "page", {"--input.kafka.group", "page-group"});
  const std::string source = Source(cluster, "page");
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Up(source), 1}}, nullptr, "/metrics", kDeadline));
  const HttpResponse page = HttpGet(daemon.port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find(source), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("group page-group: consuming"), std::string::npos) << page.body;
}

}  // namespace
}  // namespace lle::test
