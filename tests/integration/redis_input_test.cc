// Integration tests of the Redis input (--input.redis.*): the real binary
// reads a real redis-server that each test starts on its own (a kernel-chosen
// TCP port, or a unix socket in a fresh temporary directory), while the test
// writes entries with hiredis. Lines are the JSON request lines of the
// golden inputs, so qwen_requests_total and the duration sum give exact counts.
//
// Nothing sleeps for synchronisation: the tests poll /metrics, or Redis
// itself (XPENDING, LLEN), until the expected state or a deadline.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
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
constexpr seconds kDeadline{20};  // generous: only reached when a test fails
// The input's batch (kBatchEntries in redis_input.cc): at most this many
// entries are counted twice when an acknowledgement is lost.
constexpr long kBatch = 500;

// The path of `program` on $PATH.
std::string Which(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(program + " not found on $PATH (apt-get install redis-server)");
}

// A TCP port that was free a moment ago (bound to 0, then closed).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot bind a socket to port 0");
  }
  const int port = ntohs(address.sin_port);
  close(fd);
  return port;
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};

// A connection of the test's own to the server (its writer and its checks).
class RedisClient {
 public:
  // TCP if `unix_path` is empty.
  RedisClient(int port, const std::string& unix_path, const std::string& password = "") {
    const timeval timeout{2, 0};
    context_.reset(unix_path.empty() ? redisConnectWithTimeout("127.0.0.1", port, timeout)
                                     : redisConnectUnixWithTimeout(unix_path.c_str(), timeout));
    if (ok() && !password.empty()) Command({"AUTH", password});
  }
  bool ok() const { return context_ != nullptr && context_->err == 0; }

  // null on a lost connection; an error reply is returned as such.
  Reply Command(const std::vector<std::string>& args) {
    if (!ok()) return nullptr;
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    return Reply(static_cast<redisReply*>(redisCommandArgv(
        context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
  }
  long long Integer(const std::vector<std::string>& args) {
    Reply reply = Command(args);
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
      throw std::runtime_error(args[0] + ": no integer reply");
    }
    return reply->integer;
  }
  // XPENDING's count of entries read by the group's consumers and not acknowledged.
  long long Pending(const std::string& stream, const std::string& group) {
    Reply reply = Command({"XPENDING", stream, group});
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
      throw std::runtime_error("XPENDING: unexpected reply");
    }
    return reply->element[0]->integer;
  }
  // `args` for each of `count` commands, sent at once (pipelined); throws
  // unless each reply is `expected_type`.
  void Pipeline(const std::vector<std::vector<std::string>>& commands, int expected_type) {
    for (const auto& args : commands) {
      std::vector<const char*> argv;
      std::vector<std::size_t> lengths;
      for (const std::string& arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
      }
      redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                             lengths.data());
    }
    for (std::size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(context_.get(), &raw) != REDIS_OK) throw std::runtime_error("lost");
      Reply reply(static_cast<redisReply*>(raw));
      if (reply->type != expected_type) {
        throw std::runtime_error(commands[i][0] + ": " +
                                 (reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply"));
      }
    }
  }

 private:
  std::unique_ptr<redisContext, ContextDeleter> context_;
};

// A redis-server of the test's own, in `dir`: on a unix socket there, or on a
// free TCP port of 127.0.0.1. SIGKILLed by its destructor if still running.
class RedisServer {
 public:
  struct Config {
    bool unix_socket = false;
    bool append_only = false;
    std::string password;
  };
  RedisServer(const TempDir& dir, Config config) : dir_(dir.path()), config_(std::move(config)) {
    if (config_.unix_socket) socket_ = dir.File("redis.sock");
    // A port free a moment ago may be taken by another test before redis
    // binds it: try a few.
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (!config_.unix_socket) port_ = FreePort();
      if (Start()) return;
    }
    throw std::runtime_error("redis-server would not start: " + last_log_);
  }

  int port() const { return port_; }
  const std::string& socket() const { return socket_; }
  std::string Url() const {
    return socket_.empty() ? "redis://127.0.0.1:" + std::to_string(port_) : "unix://" + socket_;
  }
  RedisClient Client() const { return RedisClient(port_, socket_, config_.password); }

  // Stops it as an operator would (SIGTERM: the append-only file is flushed).
  void Stop() {
    process_->Signal(SIGTERM);
    if (process_->Wait(kDeadline) != 0) throw std::runtime_error("redis-server did not stop");
    process_.reset();
  }
  // Starts it again, on the same port or socket and with the same data.
  bool Start() {
    std::vector<std::string> argv = {Which("redis-server"),
                                     "--bind",
                                     "127.0.0.1",
                                     "--port",
                                     std::to_string(port_),
                                     "--save",
                                     "",
                                     "--appendonly",
                                     config_.append_only ? "yes" : "no",
                                     "--dir",
                                     dir_,
                                     "--logfile",
                                     dir_ + "/redis.log"};
    if (!socket_.empty()) {
      argv.insert(argv.end(), {"--unixsocket", socket_, "--unixsocketperm", "700"});
    }
    if (!config_.password.empty()) argv.insert(argv.end(), {"--requirepass", config_.password});
    process_ = std::make_unique<ChildProcess>(argv);
    // Ready once it answers PING; gone (a port taken) if it exits first.
    const Clock::time_point deadline = Clock::now() + kDeadline;
    while (Clock::now() < deadline) {
      RedisClient client = Client();
      if (client.ok()) {
        Reply pong = client.Command({"PING"});
        if (pong && pong->type == REDIS_REPLY_STATUS) return true;
      }
      if (process_->Wait(milliseconds(20)) != -1) {
        std::ifstream log(dir_ + "/redis.log");
        last_log_.assign(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>());
        process_.reset();
        return false;
      }
    }
    throw std::runtime_error("redis-server did not answer PING");
  }

 private:
  std::string dir_;
  Config config_;
  std::string socket_;
  int port_ = 0;  // 0 with a unix socket: no TCP
  std::unique_ptr<ChildProcess> process_;
  std::string last_log_;
};

// The i-th request line, as the servers of tests/golden write them: a
// success of total_time_ms = 100 + i % 50.
std::string RequestLine(long i) {
  return "{\"timestamp\":\"2025-04-05T10:23:45Z\",\"request_id\":\"req_" + std::to_string(i) +
         "\",\"method\":\"POST\",\"path\":\"/v1/chat/completions\",\"input_tokens\":1240,"
         "\"output_tokens\":320,\"total_time_ms\":" +
         std::to_string(100 + i % 50) +
         ",\"queue_time_ms\":120,\"inference_time_ms\":1756,\"gpu_memory_mb\":18432,"
         "\"status\":\"success\"}";
}

// The duration sum of RequestLine(first) .. RequestLine(first + count - 1).
double DurationSum(long first, long count) {
  double sum = 0;
  for (long i = first; i < first + count; ++i) sum += 100 + static_cast<double>(i % 50);
  return sum;
}

// XADDs RequestLine(first) .. (first + count - 1) to `stream` in field "message".
void AddEntries(RedisClient& client, const std::string& stream, long first, long count) {
  std::vector<std::vector<std::string>> commands;
  for (long i = first; i < first + count; ++i) {
    commands.push_back({"XADD", stream, "*", "message", RequestLine(i)});
  }
  client.Pipeline(commands, REDIS_REPLY_STRING);
}

std::string Source(const RedisServer& redis, const std::string& key) {
  return (redis.socket().empty() ? "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0"
                                 : "unix://" + redis.socket() + "?db=0") +
         "#" + key;
}

std::string Series(const std::string& name, const std::string& source) {
  return name + "{source=\"" + source + "\"}";
}

double Scrape(int port, const std::string& series) {
  const HttpResponse response = HttpGet(port, "/metrics");
  if (response.status != 200) return -1;
  return MetricValue(response.body, series).value_or(-1);
}

// Polls `done` until it holds or the deadline passes.
::testing::AssertionResult Eventually(const std::function<bool()>& done, const std::string& what) {
  const Clock::time_point deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    if (done()) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(milliseconds(5));  // a poll interval, not a wait for an event
  }
  return ::testing::AssertionFailure() << "timed out waiting for " << what;
}

std::size_t CountOf(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// A TCP proxy on a kernel-chosen port of 127.0.0.1 in front of a
// redis-server's unix socket: the seam that puts Redis's reply to a blocking
// read in the exporter's way only once it has seen its stop. Hold() holds
// back what Redis sends on the newest connection, until the exporter does
// anything more: opens another connection or writes on that one (the held
// bytes then go through, and nothing is held any more), or closes it (they
// are dropped, as a closed socket drops them).
class HoldingProxy {
 public:
  explicit HoldingProxy(const std::string& unix_path) : unix_path_(unix_path) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 ||
        bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        listen(listener_, 16) != 0 || pipe(wake_) != 0) {
      throw std::runtime_error("proxy: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~HoldingProxy() {
    const char byte = 0;
    if (write(wake_[1], &byte, 1) != 1) std::abort();
    thread_.join();
    for (const Link& link : links_) {
      if (link.client >= 0) close(link.client);
      if (link.server >= 0) close(link.server);
    }
    close(listener_);
    close(wake_[0]);
    close(wake_[1]);
  }
  HoldingProxy(const HoldingProxy&) = delete;
  HoldingProxy& operator=(const HoldingProxy&) = delete;

  int port() const { return port_; }
  std::string Url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // Holds back what Redis sends on the newest connection from now on.
  void Hold() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (links_.empty()) throw std::runtime_error("proxy: no connection to hold");
    target_ = links_.size() - 1;
    holding_ = true;
  }
  // Lets what was held go through, and holds nothing more.
  void Release() {
    std::lock_guard<std::mutex> lock(mutex_);
    ReleaseLocked();
  }
  // Bytes held so far (since the last Hold()).
  std::size_t held() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.size();
  }

 private:
  struct Link {
    int client;
    int server;
  };

  static bool WriteAll(int fd, const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = write(fd, data, size);
      if (n <= 0) return false;
      data += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }
  void CloseLink(Link& link) {
    close(link.client);
    close(link.server);
    link.client = link.server = -1;
  }
  void ReleaseLocked() {
    if (holding_ && links_[target_].client >= 0) {
      WriteAll(links_[target_].client, held_.data(), held_.size());
    }
    holding_ = false;
    held_.clear();
  }
  void Accept() {
    const int client = accept(listener_, nullptr, nullptr);
    if (client < 0) return;
    const int server = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    unix_path_.copy(address.sun_path, sizeof address.sun_path - 1);
    if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(client);
      if (server >= 0) close(server);
      return;
    }
    ReleaseLocked();  // the exporter does something more
    links_.push_back({client, server});
  }
  void Run() {
    char buffer[65536];
    for (;;) {
      std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const Link& link : links_) {
          fds.push_back({link.client, POLLIN, 0});  // -1: ignored by poll
          fds.push_back({link.server, POLLIN, 0});
        }
      }
      if (poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents != 0) return;
      std::lock_guard<std::mutex> lock(mutex_);
      if (fds[1].revents != 0) Accept();
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        const std::size_t index = (i - 2) / 2;
        Link& link = links_[index];
        const bool from_client = i % 2 == 0;
        const int from = from_client ? link.client : link.server;
        if (from < 0) continue;
        const ssize_t n = read(from, buffer, sizeof buffer);
        const bool target = holding_ && index == target_;
        if (n <= 0) {
          if (target) {
            held_.clear();  // dropped: the exporter closed, or Redis did
            holding_ = false;
          }
          CloseLink(link);
          continue;
        }
        const std::size_t size = static_cast<std::size_t>(n);
        if (from_client) {
          if (target) ReleaseLocked();  // the exporter does something more
          if (!WriteAll(link.server, buffer, size)) CloseLink(link);
        } else if (target) {
          held_.append(buffer, size);
        } else if (!WriteAll(link.client, buffer, size)) {
          CloseLink(link);
        }
      }
    }
  }

  const std::string unix_path_;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  mutable std::mutex mutex_;
  std::vector<Link> links_;  // by the proxy's thread; closed ones kept, as -1
  std::size_t target_ = 0;   // the link held, while holding_
  bool holding_ = false;
  std::string held_;
  std::thread thread_;
};

// Whether CLIENT LIST `list` shows a client in a blocking `command` (cmd=,
// with flag b).
bool ShowsBlocked(const std::string& list, const std::string& command) {
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    bool blocked = false;
    bool in_command = false;
    for (std::string field; fields >> field;) {
      if (field.rfind("flags=", 0) == 0) blocked = field.find('b') != std::string::npos;
      if (field == "cmd=" + command) in_command = true;
    }
    if (blocked && in_command) return true;
  }
  return false;
}

// Hands `writes` (entries added) to the exporter's blocking `command` seen
// through `proxy`, its reply held there: CLIENT LIST and the writes in one
// MULTI, so that the read was blocked when they came. The exporter between
// two blocking reads at that moment (Redis answers a read that is not
// blocked as it comes) is let go and waited for with `worked`, and it is tried
// again. `*times`: how often `writes` were written. `handed`: what Redis shows
// once it handed them over.
::testing::AssertionResult HandToABlockedRead(RedisClient& client, HoldingProxy& proxy,
                                              const std::string& command,
                                              const std::vector<std::vector<std::string>>& writes,
                                              const std::function<bool(int)>& handed,
                                              const std::function<bool(int)>& worked, int* times) {
  *times = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const auto blocked = [&] {
      Reply list = client.Command({"CLIENT", "LIST"});
      return list && list->type == REDIS_REPLY_STRING && ShowsBlocked(list->str, command);
    };
    if (!Eventually(blocked, "a blocking " + command)) {
      return ::testing::AssertionFailure() << "no blocking " << command;
    }
    proxy.Hold();
    std::vector<std::vector<std::string>> commands = {{"MULTI"}, {"CLIENT", "LIST"}};
    commands.insert(commands.end(), writes.begin(), writes.end());
    client.Pipeline(commands, REDIS_REPLY_STATUS);  // OK, then QUEUED each
    Reply exec = client.Command({"EXEC"});
    if (!exec || exec->type != REDIS_REPLY_ARRAY || exec->elements != commands.size() - 1 ||
        exec->element[0]->type != REDIS_REPLY_STRING) {
      return ::testing::AssertionFailure() << "EXEC: unexpected reply";
    }
    ++*times;
    if (ShowsBlocked(exec->element[0]->str, command)) {
      return Eventually([&] { return handed(*times) && proxy.held() > 0; },
                        "the entries handed to the blocked " + command);
    }
    proxy.Release();
    if (!Eventually([&] { return worked(*times); }, "entries worked")) {
      return ::testing::AssertionFailure() << "entries not worked";
    }
  }
  return ::testing::AssertionFailure() << "never caught in a blocking " << command;
}

// HandToABlockedRead for `entries` request lines added to stream `logs`,
// read by the exporter on `port` in group llm_log_exporter.
::testing::AssertionResult HandStreamEntriesToABlockedRead(RedisClient& client, HoldingProxy& proxy,
                                                           int port, long entries, int* times) {
  std::vector<std::vector<std::string>> writes;
  for (long i = 0; i < entries; ++i) {
    writes.push_back({"XADD", "logs", "*", "message", RequestLine(i)});
  }
  return HandToABlockedRead(
      client, proxy, "xreadgroup", writes,
      [&](int) { return client.Pending("logs", "llm_log_exporter") == entries; },
      [&](int n) {
        return client.Pending("logs", "llm_log_exporter") == 0 &&
               Scrape(port, RequestsSeries("success")) == n * entries;
      },
      times);
}

Daemon StartExporter(const std::vector<std::string>& flags) {
  std::vector<std::string> all = {"--gpu.disable"};
  all.insert(all.end(), flags.begin(), flags.end());
  return LaunchDaemon(kBinary, all);
}

TEST(RedisInputTest, StreamCountsEveryEntryOnceAndAcknowledgesIt) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/false, /*append_only=*/false, /*password=*/""});  // TCP
  Daemon daemon = StartExporter({"--input.redis.url", redis.Url(), "--input.redis.stream", "logs",
                                 "--input.max-line-bytes", "4096"});
  const std::string source = Source(redis, "logs");
  // Up once the group exists (created at the stream's end): entries added from now on count.
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Series("llm_log_exporter_input_up", source), 1}}));

  constexpr long kEntries = 2000;
  RedisClient client = redis.Client();
  AddEntries(client, "logs", 0, kEntries);
  // Entries without the line's field: acknowledged, counted by reason.
  client.Pipeline({{"XADD", "logs", "*", "line", RequestLine(0)}, {"XADD", "logs", "*", "x", "y"}},
                  REDIS_REPLY_STRING);
  // A value of two lines (a traceback would be), one of a line over
  // --input.max-line-bytes, one line with its writer's newline.
  client.Pipeline({{"XADD", "logs", "*", "message", "Traceback (most recent call last):\nboom"},
                   {"XADD", "logs", "*", "message", std::string(5000, 'x')},
                   {"XADD", "logs", "*", "message", "plain text\n"}},
                  REDIS_REPLY_STRING);
  ASSERT_TRUE(WaitForMetrics(daemon.port,
                             {{RequestsSeries("success"), kEntries},
                              {"qwen_request_duration_ms_sum", DurationSum(0, kEntries)},
                              {LinesSeries(source, "request"), kEntries},
                              {LinesSeries(source, "not_json"), 3},
                              {LinesSeries(source, "too_long"), 1},
                              {"llm_log_exporter_input_entries_skipped_total{source=\"" + source +
                                   "\",reason=\"missing_field\"}",
                               2},
                              {Series("llm_log_exporter_input_reconnects_total", source), 0}}));
  EXPECT_TRUE(
      Eventually([&] { return client.Pending("logs", "llm_log_exporter") == 0; }, "XPENDING 0"));
  // The landing page lists it.
  const HttpResponse page = HttpGet(daemon.port, "/");
  EXPECT_NE(page.body.find("Redis stream"), std::string::npos);
  EXPECT_NE(page.body.find("connected, reading"), std::string::npos);
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
}

TEST(RedisInputTest, ReadsItsOwnPendingEntriesAndClaimsADeadConsumersOnce) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/true, /*append_only=*/false, /*password=*/""});
  RedisClient client = redis.Client();
  ASSERT_EQ(std::string(client.Command({"XGROUP", "CREATE", "logs", "g", "0", "MKSTREAM"})->str),
            "OK");
  AddEntries(client, "logs", 0, 100);
  // Two consumers read and never acknowledge: `dead` (another exporter that
  // died mid-batch) and `me` (this exporter, in a run before a crash).
  for (const char* consumer : {"dead", "me"}) {
    Reply read = client.Command(
        {"XREADGROUP", "GROUP", "g", consumer, "COUNT", "30", "STREAMS", "logs", ">"});
    ASSERT_TRUE(read && read->type == REDIS_REPLY_ARRAY);
  }
  ASSERT_EQ(client.Pending("logs", "g"), 60);
  // One pending entry of each deleted before it was counted (a writer's
  // MAXLEN): no line, acknowledged, counted as trimmed. The dead consumer's
  // is entry 0, this one's entry 30.
  Reply range = client.Command({"XRANGE", "logs", "-", "+", "COUNT", "31"});
  ASSERT_TRUE(range && range->type == REDIS_REPLY_ARRAY && range->elements == 31);
  EXPECT_EQ(client.Integer({"XDEL", "logs", range->element[0]->element[0]->str,
                            range->element[30]->element[0]->str}),
            2);

  Daemon daemon = StartExporter({"--input.redis.url", redis.Url(), "--input.redis.stream", "logs",
                                 "--input.redis.group", "g", "--input.redis.consumer", "me",
                                 "--input.redis.claim-idle-ms", "300"});
  const std::string trimmed = "llm_log_exporter_input_entries_skipped_total{source=\"" +
                              Source(redis, "logs") + "\",reason=\"trimmed\"}";
  ASSERT_TRUE(WaitForMetrics(
      daemon.port, {{RequestsSeries("success"), 98},
                    {"qwen_request_duration_ms_sum", DurationSum(0, 100) - 100 - (100 + 30)},
                    {trimmed, 2}}));
  EXPECT_TRUE(Eventually([&] { return client.Pending("logs", "g") == 0; }, "XPENDING 0"));
  EXPECT_NE(daemon.process->ReadStderrUntil("claimed 29 entries", kDeadline).find("claimed 29"),
            std::string::npos);
  // Counted once: not again on later claim passes.
  AddEntries(client, "logs", 100, 10);
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{RequestsSeries("success"), 108}, {trimmed, 2}}));
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
}

TEST(RedisInputTest, AKilledExporterLosesNothingAndCountsAtMostOneBatchTwice) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/true, /*append_only=*/false, /*password=*/""});
  RedisClient client = redis.Client();
  const std::vector<std::string> flags = {"--input.redis.url",           redis.Url(),
                                          "--input.redis.stream",        "logs",
                                          "--input.redis.claim-idle-ms", "300"};
  const std::string source = Source(redis, "logs");
  Daemon first = StartExporter([&] {
    auto f = flags;
    f.insert(f.end(), {"--input.redis.consumer", "first"});
    return f;
  }());
  ASSERT_TRUE(WaitForMetrics(first.port, {{Series("llm_log_exporter_input_up", source), 1}}));
  // A writer that keeps adding entries while the first exporter is killed
  // and the second starts.
  constexpr long kEntries = 40000;
  constexpr long kPerPipeline = 100;
  std::atomic<long> written{0};
  std::thread writer([&] {
    RedisClient own = redis.Client();
    for (long i = 0; i < kEntries; i += kPerPipeline) {
      AddEntries(own, "logs", i, kPerPipeline);
      written = i + kPerPipeline;
    }
  });
  // Killed mid-stream, once it has counted some.
  double counted_by_first = 0;
  const bool counted = Eventually(
      [&] { return (counted_by_first = Scrape(first.port, RequestsSeries("success"))) >= 1000; },
      "the first exporter to count");
  first.process->Signal(SIGKILL);
  first.process->Wait(kDeadline);
  const long written_at_kill = written;
  if (!counted) writer.join();
  ASSERT_TRUE(counted);

  Daemon second = StartExporter([&] {
    auto f = flags;
    f.insert(f.end(), {"--input.redis.consumer", "second"});
    return f;
  }());
  writer.join();
  // Every entry delivered and acknowledged (an acknowledgement follows the count).
  ASSERT_TRUE(Eventually(
      [&] {
        Reply groups = client.Command({"XINFO", "GROUPS", "logs"});
        if (!groups || groups->type != REDIS_REPLY_ARRAY || groups->elements != 1) return false;
        const redisReply* group = groups->element[0];
        for (std::size_t i = 0; i + 1 < group->elements; i += 2) {
          if (std::string(group->element[i]->str) == "lag" &&
              group->element[i + 1]->type == REDIS_REPLY_INTEGER &&
              group->element[i + 1]->integer == 0) {
            return client.Pending("logs", "llm_log_exporter") == 0;
          }
        }
        return false;
      },
      "lag 0 and XPENDING 0"));
  const double counted_by_second = Scrape(second.port, RequestsSeries("success"));
  RecordProperty("counted_by_first", std::to_string(counted_by_first));
  RecordProperty("written_at_kill", std::to_string(written_at_kill));
  RecordProperty("counted_by_second", std::to_string(counted_by_second));
  // The entries added after the kill are the second's alone, and so are the
  // ones the first left unacknowledged. Each entry was acknowledged by the
  // one that counted it (above); together at most one batch twice.
  EXPECT_GE(counted_by_second, kEntries - written_at_kill);
  EXPECT_LE(counted_by_first + counted_by_second, kEntries + kBatch)
      << "first " << counted_by_first << ", second " << counted_by_second;
  EXPECT_TRUE(StopsCleanlyWithin(*second.process, SIGTERM, seconds(5)));
}

// SIGTERM while a backlog is read: the batch in hand and the one read ahead
// (asked for before the batch in hand was worked) are both counted and
// acknowledged before the exporter exits, so none is left pending. The
// backlog is in the stream before the exporter starts (its group made at the
// stream's start) and nothing is written after; a stop in a blocking read,
// once caught up, that was handed entries is
// SigtermInABlockingReadCountsWhatItWasHanded.
TEST(RedisInputTest, SigtermUnderLoadLeavesNothingPending) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/true, /*append_only=*/false, /*password=*/""});
  RedisClient client = redis.Client();
  ASSERT_TRUE(client.Command({"XGROUP", "CREATE", "logs", "llm_log_exporter", "0", "MKSTREAM"}));
  constexpr long kEntries = 40000;
  constexpr long kPerPipeline = 100;
  for (long i = 0; i < kEntries; i += kPerPipeline) AddEntries(client, "logs", i, kPerPipeline);
  Daemon daemon = StartExporter({"--input.redis.url", redis.Url(), "--input.redis.stream", "logs"});
  const bool counted = Eventually(
      [&] { return Scrape(daemon.port, RequestsSeries("success")) >= 1000; }, "some counted");
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(10)));
  ASSERT_TRUE(counted);
  EXPECT_EQ(client.Pending("logs", "llm_log_exporter"), 0);
}

// SIGTERM while a caught-up exporter is in its blocking XREADGROUP, just
// after Redis handed that read entries (pending from then on) and before the
// exporter has read them (the reply held back by a proxy until the exporter
// does something more): the read is ended with CLIENT UNBLOCK from a second
// connection, its reply read, the entries counted and acknowledged, so that
// none is left pending.
TEST(RedisInputTest, SigtermInABlockingReadCountsWhatItWasHanded) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/true, /*append_only=*/false, /*password=*/""});
  HoldingProxy proxy(redis.socket());
  RedisClient client = redis.Client();
  Daemon daemon = StartExporter({"--input.redis.url", proxy.Url(), "--input.redis.stream", "logs",
                                 "--input.redis.consumer", "c1"});
  const std::string source = "redis://127.0.0.1:" + std::to_string(proxy.port()) + "/0#logs";
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Series("llm_log_exporter_input_up", source), 1}}));
  constexpr long kEntries = 100;
  int times = 0;
  ASSERT_TRUE(HandStreamEntriesToABlockedRead(client, proxy, daemon.port, kEntries, &times));
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
  EXPECT_EQ(client.Pending("logs", "llm_log_exporter"), 0);
  // Counted (the exporter's own count at its stop: /metrics is gone with it).
  const std::string log = daemon.process->DrainStderr();
  EXPECT_NE(log.find(source + ": stopped; " + std::to_string(times * kEntries) +
                     " entries counted since the start, none left pending"),
            std::string::npos)
      << log;
  RecordProperty("attempts", times);
}

// The rolling restart's case, not forced: a writer adds entries at a steady
// pace, so that the caught-up exporter is mostly in its blocking read, when
// SIGTERM comes. Whatever the stop met, nothing is left pending, and the
// exporter counted every entry the group handed out (XINFO GROUPS
// entries-read; one consumer).
TEST(RedisInputTest, SigtermWhileAWriterAddsLeavesNothingPending) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/true, /*append_only=*/false, /*password=*/""});
  RedisClient client = redis.Client();
  Daemon daemon = StartExporter({"--input.redis.url", redis.Url(), "--input.redis.stream", "logs"});
  const std::string source = Source(redis, "logs");
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Series("llm_log_exporter_input_up", source), 1}}));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    RedisClient own = redis.Client();
    for (long i = 0; !done; i += 10) {
      AddEntries(own, "logs", i, 10);
      std::this_thread::sleep_for(milliseconds(1));  // a writer's pace
    }
  });
  const bool counted = Eventually(
      [&] { return Scrape(daemon.port, RequestsSeries("success")) >= 500; }, "some counted");
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
  done = true;
  writer.join();
  ASSERT_TRUE(counted);
  EXPECT_EQ(client.Pending("logs", "llm_log_exporter"), 0);
  long long read = -1;
  Reply groups = client.Command({"XINFO", "GROUPS", "logs"});
  ASSERT_TRUE(groups && groups->type == REDIS_REPLY_ARRAY && groups->elements == 1);
  const redisReply* group = groups->element[0];
  for (std::size_t i = 0; i + 1 < group->elements; i += 2) {
    if (std::string(group->element[i]->str) == "entries-read")
      read = group->element[i + 1]->integer;
  }
  const std::string log = daemon.process->DrainStderr();
  EXPECT_NE(log.find(source + ": stopped; " + std::to_string(read) +
                     " entries counted since the start, none left pending"),
            std::string::npos)
      << log;
}

// The same for a list: the entry BLMOVE moved to the processing list is
// counted and trimmed from it; the others stay in the list for the next reader.
TEST(RedisInputTest, SigtermInABlockingMoveCountsWhatItMoved) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/true, /*append_only=*/false, /*password=*/""});
  HoldingProxy proxy(redis.socket());
  RedisClient client = redis.Client();
  Daemon daemon = StartExporter({"--input.redis.url", proxy.Url(), "--input.redis.list", "logs",
                                 "--input.redis.consumer", "c1"});
  const std::string source = "redis://127.0.0.1:" + std::to_string(proxy.port()) + "/0#logs";
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Series("llm_log_exporter_input_up", source), 1}}));
  const std::vector<std::vector<std::string>> writes = {{"RPUSH", "logs", RequestLine(0)},
                                                        {"RPUSH", "logs", RequestLine(1)}};
  int times = 0;
  ASSERT_TRUE(HandToABlockedRead(
      client, proxy, "blmove", writes,
      [&](int) {
        return client.Integer({"LLEN", "logs:processing:c1"}) == 1 &&
               client.Integer({"LLEN", "logs"}) == 1;
      },
      [&](int n) {
        return client.Integer({"LLEN", "logs:processing:c1"}) == 0 &&
               client.Integer({"LLEN", "logs"}) == 0 &&
               Scrape(daemon.port, RequestsSeries("success")) == 2 * n;
      },
      &times));
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
  EXPECT_EQ(client.Integer({"LLEN", "logs:processing:c1"}), 0);
  EXPECT_EQ(client.Integer({"LLEN", "logs"}), 1);
  const std::string log = daemon.process->DrainStderr();
  EXPECT_NE(log.find(source + ": stopped; " + std::to_string(2 * times - 1) +
                     " entries counted since the start, none left in the processing list "
                     "logs:processing:c1"),
            std::string::npos)
      << log;
  RecordProperty("attempts", times);
}

// An ACL user without +client (no CLIENT ID, no CLIENT UNBLOCK): one warning
// naming the ACL, however often it connects; a stop in a blocking read that
// was handed entries still ends at once and cleanly (exit 0), leaving them
// pending as before; the next start counts them.
TEST(RedisInputTest, WithoutClientAclAStopLeavesTheBlockingReadsEntriesPending) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/true, /*append_only=*/false, /*password=*/""});
  HoldingProxy proxy(redis.socket());
  RedisClient client = redis.Client();
  ASSERT_EQ(std::string(client
                            .Command({"ACL", "SETUSER", "exporter", "on", ">pw", "~logs*",
                                      "+xgroup|create", "+xreadgroup", "+xack", "+xautoclaim"})
                            ->str),
            "OK");
  const std::string password_file = dir.Write("password", "pw\n");
  const std::vector<std::string> flags = {
      "--input.redis.url",           "redis://exporter@127.0.0.1:" + std::to_string(proxy.port()),
      "--input.redis.stream",        "logs",
      "--input.redis.consumer",      "c1",
      "--input.redis.password-file", password_file};
  const std::string source = "redis://127.0.0.1:" + std::to_string(proxy.port()) + "/0#logs";
  const std::string up = Series("llm_log_exporter_input_up", source);
  Daemon daemon = StartExporter(flags);
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{up, 1}}));
  // A lost connection: connected again, not warned again.
  EXPECT_GE(client.Integer({"CLIENT", "KILL", "USER", "exporter"}), 1);
  ASSERT_TRUE(WaitForMetrics(
      daemon.port, {{up, 1}, {Series("llm_log_exporter_input_reconnects_total", source), 1}}));
  constexpr long kEntries = 100;
  int times = 0;
  ASSERT_TRUE(HandStreamEntriesToABlockedRead(client, proxy, daemon.port, kEntries, &times));
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
  EXPECT_EQ(client.Pending("logs", "llm_log_exporter"), kEntries);
  const std::string log = daemon.process->DrainStderr();  // daemon.log included
  EXPECT_EQ(CountOf(log, "needs +client|id +client|unblock"), 1u) << log;
  EXPECT_NE(log.find("the blocking read under way was abandoned"), std::string::npos) << log;
  // Nothing lost: the next start counts them first.
  Daemon next = StartExporter(flags);
  EXPECT_TRUE(WaitForMetrics(next.port, {{RequestsSeries("success"), kEntries}}));
  EXPECT_TRUE(
      Eventually([&] { return client.Pending("logs", "llm_log_exporter") == 0; }, "XPENDING 0"));
  EXPECT_TRUE(StopsCleanlyWithin(*next.process, SIGTERM, seconds(5)));
}

TEST(RedisInputTest, RedisRestartedUnderLoadLosesNothing) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/true, /*append_only=*/true, /*password=*/""});
  Daemon daemon = StartExporter({"--input.redis.url", redis.Url(), "--input.redis.stream", "logs"});
  const std::string source = Source(redis, "logs");
  const std::string up = Series("llm_log_exporter_input_up", source);
  const std::string reconnects = Series("llm_log_exporter_input_reconnects_total", source);
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{up, 1}}));

  // A writer that keeps adding entries, through the restart: explicit ids,
  // so that a retry of an XADD whose reply was lost cannot add it twice. It
  // writes a third, lets the test stop Redis, then goes on (retrying while
  // Redis is down).
  constexpr long kEntries = 3000;
  std::atomic<long> written{0};
  std::atomic<long> refused{0};  // attempts while Redis was down
  std::atomic<bool> give_up{false};
  std::promise<void> third_written;
  std::promise<void> redis_stopped;
  std::shared_future<void> stopped = redis_stopped.get_future().share();
  std::thread writer([&] {
    std::unique_ptr<RedisClient> client;
    bool paused = false;
    for (long i = 1; i <= kEntries && !give_up;) {
      if (i == kEntries / 3 + 1 && !paused) {
        paused = true;
        third_written.set_value();
        if (stopped.wait_for(kDeadline) != std::future_status::ready) return;
      }
      if (!client || !client->ok()) client = std::make_unique<RedisClient>(redis.Client());
      Reply reply =
          client->Command({"XADD", "logs", std::to_string(i) + "-1", "message", RequestLine(i)});
      if (!reply) {
        ++refused;
        client.reset();  // down: retry until it is back, at a writer's pace
        std::this_thread::sleep_for(milliseconds(5));
        continue;
      }
      if (reply->type == REDIS_REPLY_STRING ||
          (reply->type == REDIS_REPLY_ERROR &&
           std::string(reply->str).find("equal or smaller") != std::string::npos)) {
        written = i++;
      }
    }
  });
  ASSERT_EQ(third_written.get_future().wait_for(kDeadline), std::future_status::ready);
  redis.Stop();
  redis_stopped.set_value();
  // Down: not up, reconnecting, /metrics and /-/ready still answer.
  EXPECT_TRUE(Eventually([&] { return Scrape(daemon.port, up) == 0; }, "input_up 0"));
  EXPECT_TRUE(Eventually([&] { return Scrape(daemon.port, reconnects) >= 2; }, "reconnects"));
  EXPECT_EQ(HttpGet(daemon.port, "/-/ready").status, 200);
  EXPECT_TRUE(Eventually([&] { return refused > 0; }, "the writer to find Redis down"));
  ASSERT_TRUE(redis.Start());
  EXPECT_TRUE(Eventually([&] { return written == kEntries; }, "every entry written"));
  give_up = true;
  writer.join();
  EXPECT_TRUE(Eventually([&] { return Scrape(daemon.port, up) == 1; }, "input_up 1 again"));

  // Every entry counted; an acknowledgement lost in the shutdown may count
  // its batch twice (at least once), never more.
  RedisClient client = redis.Client();
  EXPECT_TRUE(
      Eventually([&] { return client.Pending("logs", "llm_log_exporter") == 0; }, "XPENDING 0"));
  ASSERT_TRUE(Eventually([&] { return Scrape(daemon.port, RequestsSeries("success")) >= kEntries; },
                         "every entry counted"));
  const double counted = Scrape(daemon.port, RequestsSeries("success"));
  EXPECT_LE(counted, kEntries + kBatch);
  RecordProperty("counted", std::to_string(counted));
  RecordProperty("reconnects", std::to_string(Scrape(daemon.port, reconnects)));
  RecordProperty("refused_writes", std::to_string(refused.load()));
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
}

TEST(RedisInputTest, ListCountsExactlyAndAppliesLeftoversFirst) {
  TempDir dir;
  RedisServer redis(dir, {/*unix_socket=*/false, /*append_only=*/false, "s3cret pass"});
  RedisClient client = redis.Client();
  // Lines a run before moved to its processing list but did not get to apply.
  std::vector<std::vector<std::string>> leftovers;
  for (long i = 0; i < 7; ++i) leftovers.push_back({"RPUSH", "logs:processing:c1", RequestLine(i)});
  client.Pipeline(leftovers, REDIS_REPLY_INTEGER);
  const std::string password_file = dir.Write("password", "s3cret pass\n");
  Daemon daemon =
      StartExporter({"--input.redis.url", redis.Url(), "--input.redis.list", "logs",
                     "--input.redis.consumer", "c1", "--input.redis.password-file", password_file});
  const std::string source = Source(redis, "logs");
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{RequestsSeries("success"), 7}}));
  constexpr long kEntries = 1500;
  std::vector<std::vector<std::string>> pushes;
  for (long i = 7; i < 7 + kEntries; ++i) pushes.push_back({"RPUSH", "logs", RequestLine(i)});
  client.Pipeline(pushes, REDIS_REPLY_INTEGER);
  ASSERT_TRUE(
      WaitForMetrics(daemon.port, {{RequestsSeries("success"), 7 + kEntries},
                                   {"qwen_request_duration_ms_sum", DurationSum(0, 7 + kEntries)},
                                   {LinesSeries(source, "request"), 7 + kEntries},
                                   {Series("llm_log_exporter_input_up", source), 1}}));
  EXPECT_TRUE(Eventually(
      [&] {
        return client.Integer({"LLEN", "logs:processing:c1"}) == 0;
      },
      "an empty processing list"));
  EXPECT_EQ(client.Integer({"LLEN", "logs"}), 0);
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
  EXPECT_EQ(daemon.log.find("s3cret"), std::string::npos) << daemon.log;
  EXPECT_EQ(daemon.process->DrainStderr().find("s3cret"), std::string::npos);
}

TEST(RedisInputTest, UnreachableFromTheStartIsNotUpButServed) {
  // A port nobody listens on: bound but not listening, so that no other
  // test can take it meanwhile.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);
  Daemon daemon = StartExporter({"--input.redis.url", "redis://127.0.0.1:" + std::to_string(port),
                                 "--input.redis.stream", "logs"});
  const std::string source = "redis://127.0.0.1:" + std::to_string(port) + "/0#logs";
  ASSERT_TRUE(WaitForMetrics(daemon.port, {{Series("llm_log_exporter_input_up", source), 0},
                                           {LinesSeries(source, "request"), 0}}));
  EXPECT_TRUE(Eventually(
      [&] {
        return Scrape(daemon.port, Series("llm_log_exporter_input_reconnects_total", source)) >= 2;
      },
      "reconnects"));
  EXPECT_EQ(HttpGet(daemon.port, "/-/ready").status, 200);
  EXPECT_NE(HttpGet(daemon.port, "/").body.find("not connected"), std::string::npos);
  EXPECT_TRUE(StopsCleanlyWithin(*daemon.process, SIGTERM, seconds(5)));
  // One warning for the refused connections, not one per attempt.
  const std::string log = daemon.process->DrainStderr();  // all it wrote
  EXPECT_EQ(CountOf(log, "Connection refused"), 1u) << log;
  close(fd);
}

TEST(RedisInputTest, BadFlagsExit2WithOneLine) {
  struct Case {
    std::vector<std::string> flags;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--input.redis.url", "redis://127.0.0.1:6379"}, "--input.redis.url: needs"},
      {{"--input.redis.stream", "logs"}, "--input.redis.url: needed"},
      {{"--input.redis.url", "redis://h", "--input.redis.stream", "a", "--input.redis.list", "b"},
       "--input.redis.stream: not with --input.redis.list"},
      {{"--input.redis.url", "rediss://h:6380", "--input.redis.stream", "a"}, "not supported"},
      {{"--input.redis.url", "redis://u:topsecret@h:99999", "--input.redis.stream", "a"},
       "redis://u:***@h:99999"},
      {{"--input.redis.url", "unix://relative.sock", "--input.redis.list", "a"}, "unix:///"},
      {{"--input.redis.url", "redis://h/x", "--input.redis.stream", "a"}, "database number"},
      {{"--input.redis.url", "redis://h", "--input.redis.stream", "a", "--input.redis.field", ""},
       "--input.redis.field: must not be empty"},
      {{"--input.redis.url", "redis://h", "--input.redis.stream", "a",
        "--input.redis.claim-idle-ms", "5"},
       "--input.redis.claim-idle-ms"},
      {{"--input.redis.url", "redis://h", "--input.redis.stream", "a", "--once"}, "--once"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {kBinary};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    const RunResult result = lle::test::Run(argv, "");
    SCOPED_TRACE(result.err);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1);
    EXPECT_NE(result.err.find(c.says), std::string::npos);
    EXPECT_EQ(result.err.find("topsecret"), std::string::npos);
  }
  // A password file that cannot be read: exit 1 at start, naming it.
  const RunResult missing =
      lle::test::Run({kBinary, "--input.redis.url", "redis://127.0.0.1:1", "--input.redis.stream",
                      "a", "--input.redis.password-file", "/nonexistent/password", "--gpu.disable",
                      "--web.listen-address", "127.0.0.1:0"},
                     "");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("--input.redis.password-file /nonexistent/password"),
            std::string::npos)
      << missing.err;
}

}  // namespace
}  // namespace lle::test
