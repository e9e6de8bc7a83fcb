#include "llm_log_exporter/app/redis_input.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/core/read_file.h"
#include "llm_log_exporter/source/byte_source.h"
#include "llm_log_exporter/source/stop_signal.h"

namespace lle {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Entries read at once: one XREADGROUP, XAUTOCLAIM or list move.
constexpr std::size_t kBatchEntries = 500;
// The batch buffer's memory kept between batches.
constexpr std::size_t kKeptBufferBytes = std::size_t{4} << 20;
// Backoff between connection attempts.
constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{5000};
// Connecting, and any command but a blocking read, gives up after these.
constexpr timeval kConnectTimeout{2, 0};
constexpr timeval kCommandTimeout{10, 0};
// How long a blocking read waits on the server (it answers at once when
// entries come): also how late a claim pass may start.
constexpr milliseconds kBlock{1000};
// A blocking read's reply may come this much after its block time before
// the connection is taken as dead.
constexpr milliseconds kBlockGrace{5000};
// Stopped in a blocking read that CLIENT UNBLOCK found not blocked (its reply
// on the way, or the read not yet at the server): asked again after this.
constexpr milliseconds kUnblockRetry{20};
// A stop waits this long at most for the reply of the blocking read it ends
// (its connection for CLIENT UNBLOCK included, though that gives up only
// after kConnectTimeout, and each command on it too).
constexpr milliseconds kUnblockWait{2000};

// Moves up to ARGV[1] entries from the head of KEYS[1] to the tail of
// KEYS[2] in one round trip, atomically; returns them in order. Three calls
// for the batch (an LMOVE per entry cost redis-server 1.9 us an entry).
constexpr char kMoveScript[] =
    "local out = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1) "
    "if #out > 0 then "
    "  redis.call('RPUSH', KEYS[2], unpack(out)) "
    "  redis.call('LTRIM', KEYS[1], #out, -1) "
    "end "
    "return out";

std::string Consumer(const Options& options) {
  if (!options.redis_consumer.empty()) return options.redis_consumer;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "llm_log_exporter";
  return host;
}

std::string_view Text(const redisReply& reply) { return {reply.str, reply.len}; }

bool IsArray(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ARRAY;
}

bool IsString(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_STRING;
}

// A reply of a connection with hiredis's own reader (not the arena's).
struct FreeReply {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using OwnedReply = std::unique_ptr<redisReply, FreeReply>;

// Sends `args` on `context` and waits for the reply: null with `*error` on a
// lost connection or an error reply.
OwnedReply Call(redisContext* context, const std::vector<std::string>& args, std::string* error) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  OwnedReply reply(static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (reply == nullptr) {
    *error = args[0] + ": connection lost (" + context->errstr + ")";
  } else if (reply->type == REDIS_REPLY_ERROR) {
    *error = args[0] + ": " + std::string(Text(*reply));
    reply.reset();
  }
  return reply;
}

// The reply to `name` that `context` has read whole, if any; null with
// `*error` cleared when more is to be read, null with `*error` set when the
// connection is lost or the reply is an error.
const redisReply* ReadyReply(redisContext* context, const std::string& name, std::string* error) {
  error->clear();
  void* reply = nullptr;
  if (redisGetReplyFromReader(context, &reply) != REDIS_OK) {
    *error = name + ": connection lost (" + context->errstr + ")";
    return nullptr;
  }
  const auto* out = static_cast<const redisReply*>(reply);
  if (out != nullptr && out->type == REDIS_REPLY_ERROR) {
    *error = name + ": " + std::string(Text(*out));
    return nullptr;
  }
  return out;
}

// The arena's blocks, and the memory it keeps between batches.
constexpr std::size_t kArenaBlockBytes = std::size_t{1} << 20;
constexpr std::size_t kArenaKeptBytes = std::size_t{4} << 20;

}  // namespace

// Replies made in blocks of memory reused from batch to batch, instead of
// hiredis's two allocations per element (a redisReply, and a copy of its
// string): an XREADGROUP reply of N entries is 4N + 3 elements. The objects
// are redisReply structs as hiredis's own, so replies read the same way;
// they are never freed one by one, only all at once by Reset().
class RedisInput::ReplyArena {
 public:
  // hiredis's reply object functions, making replies in the arena that is
  // the reader's privdata.
  static redisReplyObjectFunctions functions;

  // Forgets every reply made so far (none may be used after).
  void Reset() {
    current_ = 0;
    used_ = 0;
    std::size_t kept = 0;
    std::size_t i = 0;
    while (i < blocks_.size() && kept + blocks_[i].size <= kArenaKeptBytes) kept += blocks_[i++].size;
    blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i), blocks_.end());
  }

  void* Allocate(std::size_t size) {
    size = (size + 15) & ~std::size_t{15};
    while (current_ < blocks_.size() && used_ + size > blocks_[current_].size) {
      ++current_;
      used_ = 0;
    }
    if (current_ == blocks_.size()) {
      const std::size_t bytes = std::max(size, kArenaBlockBytes);
      blocks_.push_back({std::unique_ptr<char[]>(new char[bytes]), bytes});
      used_ = 0;
    }
    void* out = blocks_[current_].data.get() + used_;
    used_ += size;
    return out;
  }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    std::size_t size;
  };

  static redisReply* New(const redisReadTask* task, int type) {
    auto* reply =
        static_cast<redisReply*>(static_cast<ReplyArena*>(task->privdata)->Allocate(sizeof(redisReply)));
    std::memset(reply, 0, sizeof *reply);
    reply->type = type;
    if (task->parent != nullptr) {
      static_cast<redisReply*>(task->parent->obj)->element[task->idx] = reply;
    }
    return reply;
  }
  static void* CreateString(const redisReadTask* task, char* text, std::size_t size) {
    redisReply* reply = New(task, task->type);
    char* copy = static_cast<char*>(static_cast<ReplyArena*>(task->privdata)->Allocate(size + 1));
    std::memcpy(copy, text, size);
    copy[size] = '\0';
    reply->str = copy;
    reply->len = size;
    return reply;
  }
  static void* CreateArray(const redisReadTask* task, int elements) {
    redisReply* reply = New(task, REDIS_REPLY_ARRAY);
    if (elements > 0) {
      const std::size_t bytes = sizeof(redisReply*) * static_cast<std::size_t>(elements);
      reply->element = static_cast<redisReply**>(
          static_cast<ReplyArena*>(task->privdata)->Allocate(bytes));
      std::memset(reply->element, 0, bytes);
      reply->elements = static_cast<std::size_t>(elements);
    }
    return reply;
  }
  static void* CreateInteger(const redisReadTask* task, long long value) {
    redisReply* reply = New(task, REDIS_REPLY_INTEGER);
    reply->integer = value;
    return reply;
  }
  static void* CreateNil(const redisReadTask* task) { return New(task, REDIS_REPLY_NIL); }
  static void FreeObject(void* /*reply*/) {}  // freed with the arena

  std::vector<Block> blocks_;
  std::size_t current_ = 0;  // the block being filled
  std::size_t used_ = 0;     // of it
};

redisReplyObjectFunctions RedisInput::ReplyArena::functions = {
    &ReplyArena::CreateString, &ReplyArena::CreateArray, &ReplyArena::CreateInteger,
    &ReplyArena::CreateNil, &ReplyArena::FreeObject};

std::string RedisSourceLabel(const Options& options) {
  std::string error;
  const std::optional<RedisUrl> url = ParseRedisUrl(options.redis_url, &error);
  const std::string address = url ? url->Address() : "redis";
  return address + "#" + (options.redis_stream.empty() ? options.redis_list : options.redis_stream);
}

// What Input::Stop() reaches: wakes the reader from a blocking read or a backoff.
class RedisInput::StopSource : public ByteSource {
 public:
  Status Read(char*, std::size_t, std::size_t*, std::string*) override { return Status::kStopped; }
  void Stop() override { signal_.Signal(); }
  const StopSignal& signal() const { return signal_; }

 private:
  StopSignal signal_;
};

void RedisInput::ContextDeleter::operator()(redisContext* context) const { redisFree(context); }

RedisInput::RedisInput(Exporter& exporter, std::size_t source, const Options& options)
    : RedisInput(exporter, source, options, new StopSource) {}

RedisInput::RedisInput(Exporter& exporter, std::size_t source, const Options& options,
                       StopSource* stop)
    : Input(exporter, source, RedisSourceLabel(options),
            std::unique_ptr<ByteSource>(stop)),
      label_(RedisSourceLabel(options)),
      url_([&options] {
        std::string error;
        return ParseRedisUrl(options.redis_url, &error).value_or(RedisUrl{});
      }()),
      password_file_(options.redis_password_file),
      stream_(options.redis_stream),
      list_(options.redis_list),
      group_(options.redis_group),
      consumer_(Consumer(options)),
      processing_(list_ + ":processing:" + consumer_),
      field_(options.redis_field),
      claim_idle_(options.redis_claim_idle_ms),
      max_line_bytes_(options.max_line_bytes),
      stop_(stop),
      pipeline_(exporter, source, options.max_line_bytes),
      shard_(exporter.self_store().AddShard()),
      arena_(std::make_unique<ReplyArena>()) {
  SetUp(false);  // a gauge is shown once set: 0 from the start, until connected
}

RedisInput::~RedisInput() {
  Stop();
  Join();
}

void RedisInput::OnApplied(const AppliedBatch& batch) { applied_through_.store(batch.seq); }

void RedisInput::SetUp(bool up) {
  up_ = up;
  shard_->Apply(exporter().self().InputUp(source(), up));
}

ByteSource::Status RedisInput::Read(ByteSource& /*bytes*/, std::string* /*error*/) {
  LowerThreadPriority();  // it parses too, as a stream's workers do
  milliseconds backoff = kFirstBackoff;
  bool first = true;
  std::string last_problem;  // logged once until it changes or the input is up again
  bool in_session = false;   // the stop came while connected
  std::string stop_problem;  // what went wrong then
  while (!stopped()) {
    if (!first) shard_->Apply(exporter().self().InputReconnect(source()));
    first = false;
    std::string problem;
    bool worked = false;
    if (Connect(&problem)) {
      const Clock::time_point since = Clock::now();
      problem = stream_.empty() ? RunList(&worked) : RunStream(&worked);
      if (up_) last_problem.clear();  // it was up: a loss like the last one is news
      context_.reset();
      SetUp(false);
      // A session that did some work, or lasted, was no failure to back off from.
      if (worked || Clock::now() - since > kMaxBackoff) backoff = kFirstBackoff;
      if (stopped()) {
        in_session = true;
        stop_problem = problem;
        break;
      }
    }
    if (problem != last_problem) {
      spdlog::warn("{}: {}; retrying (backoff up to {} s)", label_, problem,
                   kMaxBackoff.count() / 1000);
      last_problem = problem;
    } else {
      spdlog::debug("{}: {}; retrying", label_, problem);
    }
    stop_->signal().Sleep(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  context_.reset();
  SetUp(false);
  const std::string kept =
      stream_.empty() ? "in the processing list " + processing_ : std::string("pending");
  if (!stop_problem.empty()) {
    spdlog::warn(
        "{}: stopped: {}; what this consumer was handed and did not acknowledge stays {} until "
        "its next start; {} entries counted since the start",
        label_, stop_problem, kept, entries_counted_);
  } else if (abandoned_) {
    spdlog::info(
        "{}: stopped; {} entries counted since the start; the blocking read under way was "
        "abandoned: what Redis handed it stays {} until this consumer's next start",
        label_, entries_counted_, kept);
  } else if (in_session) {
    spdlog::info("{}: stopped; {} entries counted since the start, none left {}", label_,
                 entries_counted_, kept);
  } else {
    spdlog::info("{}: stopped (not connected); {} entries counted since the start", label_,
                 entries_counted_);
  }
  pipeline_.Finish();
  return ByteSource::Status::kStopped;
}

RedisInput::ContextPtr RedisInput::Open(timeval timeout, std::string* error) {
  std::string password = url_.password;
  if (!password_file_.empty() && !ReadSecretLine(password_file_, &password, error)) {
    *error = "--input.redis.password-file " + password_file_ + ": " + *error;
    return nullptr;
  }
  ContextPtr context(url_.unix_path.empty()
                         ? redisConnectWithTimeout(url_.host.c_str(), url_.port, kConnectTimeout)
                         : redisConnectUnixWithTimeout(url_.unix_path.c_str(), kConnectTimeout));
  if (context == nullptr) {
    *error = "cannot connect: out of memory";
    return nullptr;
  }
  if (context->err != 0) {
    *error = std::string("cannot connect: ") + context->errstr;
    return nullptr;
  }
  redisSetTimeout(context.get(), timeout);
  if (url_.unix_path.empty()) redisEnableKeepAlive(context.get());
  if (!password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!url_.user.empty()) auth.push_back(url_.user);
    auth.push_back(password);
    std::string reply_error;
    if (Call(context.get(), auth, &reply_error) == nullptr) {
      *error = "AUTH: " + reply_error;  // Redis's error never quotes the password
      return nullptr;
    }
  }
  return context;
}

bool RedisInput::Connect(std::string* error) {
  owed_.clear();
  client_id_ = -1;
  context_ = Open(kCommandTimeout, error);
  if (context_ == nullptr) return false;
  // Its replies in the arena (no reply of the last connection is held any more).
  arena_->Reset();
  redisReader* reader = redisReaderCreateWithFunctions(&ReplyArena::functions);
  if (reader == nullptr) {
    *error = "cannot connect: out of memory";
    context_.reset();
    return false;
  }
  reader->privdata = arena_.get();
  redisReaderFree(context_->reader);
  context_->reader = reader;
  std::string reply_error;
  if (url_.db != 0 && !Command({"SELECT", std::to_string(url_.db)}, &reply_error)) {
    *error = "SELECT " + std::to_string(url_.db) + ": " + reply_error;
    context_.reset();
    return false;
  }
  // Its id, for CLIENT UNBLOCK at a stop during a blocking read.
  Reply id = Command({"CLIENT", "ID"}, &reply_error);
  if (id != nullptr && id->type == REDIS_REPLY_INTEGER) {
    client_id_ = id->integer;
  } else if (context_->err != 0) {
    *error = reply_error;
    context_.reset();
    return false;
  } else {
    WarnCannotUnblock("CLIENT ID: " + (id == nullptr ? reply_error : "unexpected reply"));
  }
  return true;
}

void RedisInput::WarnCannotUnblock(const std::string& problem) {
  if (unblock_warned_) return;
  unblock_warned_ = true;
  spdlog::warn(
      "{}: {}; a stop during a blocking read closes the connection instead of CLIENT UNBLOCK, "
      "and what Redis handed that read stays {} until this consumer's next start (the ACL user "
      "needs +client|id +client|unblock)",
      label_, problem,
      stream_.empty() ? "in the processing list " + processing_ : std::string("pending"));
}

RedisInput::Reply RedisInput::Command(const std::vector<std::string>& args, std::string* error) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  const auto* reply = static_cast<const redisReply*>(redisCommandArgv(
      context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    *error = args[0] + ": connection lost (" + context_->errstr + ")";
    return nullptr;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    *error = args[0] + ": " + std::string(Text(*reply));
    return nullptr;
  }
  return reply;
}

RedisInput::Reply RedisInput::BlockingCommand(const std::vector<std::string>& args,
                                              milliseconds limit, std::string* error) {
  redisContext* context = context_.get();
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  const std::string lost = args[0] + ": connection lost";
  if (redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
      REDIS_OK) {
    *error = lost + " (" + context->errstr + ")";
    return nullptr;
  }
  for (int done = 0; !done;) {
    if (redisBufferWrite(context, &done) != REDIS_OK) {
      *error = lost + " (" + context->errstr + ")";
      return nullptr;
    }
  }
  const Clock::time_point deadline = Clock::now() + limit;
  for (;;) {
    if (Reply out = ReadyReply(context, args[0], error); out != nullptr || !error->empty()) {
      return out;
    }
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      *error = args[0] + ": no answer in " + std::to_string(limit.count()) + " ms";
      return nullptr;
    }
    pollfd fds[2] = {{context->fd, POLLIN, 0}, {stop_->signal().fd(), POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      *error = std::string("poll: ") + std::strerror(errno);
      return nullptr;
    }
    if (stopped()) return EndBlockingRead(args[0], deadline, error);
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
        redisBufferRead(context) != REDIS_OK) {
      *error = lost + " (" + context->errstr + ")";
      return nullptr;
    }
  }
}

RedisInput::Reply RedisInput::EndBlockingRead(const std::string& name, Clock::time_point deadline,
                                              std::string* error) {
  const auto abandon = [this](const std::string& problem) -> Reply {
    WarnCannotUnblock(problem);
    abandoned_ = true;
    return nullptr;
  };
  if (client_id_ < 0) return abandon("CLIENT ID refused");  // warned at the connection
  deadline = std::min(deadline, Clock::now() + kUnblockWait);
  std::string problem;
  const ContextPtr other = Open(kConnectTimeout, &problem);
  if (other == nullptr) return abandon("a connection for CLIENT UNBLOCK: " + problem);
  redisContext* context = context_.get();
  const std::string lost = name + ": connection lost";
  Clock::time_point next_unblock = Clock::now();
  for (;;) {
    if (Reply out = ReadyReply(context, name, error); out != nullptr || !error->empty()) {
      return out;
    }
    Clock::time_point now = Clock::now();
    if (now >= deadline) {
      *error = name + ": no answer after CLIENT UNBLOCK";
      return nullptr;
    }
    if (now >= next_unblock) {
      // Ends the block as its timeout would: the reply is nil. 0: not
      // blocked, the reply (entries, or nil) is on its way, or the read has
      // not reached the server yet: asked again shortly.
      const OwnedReply unblocked =
          Call(other.get(), {"CLIENT", "UNBLOCK", std::to_string(client_id_), "TIMEOUT"}, &problem);
      if (unblocked == nullptr) return abandon("CLIENT UNBLOCK: " + problem);
      now = Clock::now();
      next_unblock = unblocked->type == REDIS_REPLY_INTEGER && unblocked->integer == 1
                         ? deadline
                         : now + kUnblockRetry;
    }
    const auto wait =
        std::chrono::duration_cast<milliseconds>(std::min(deadline, next_unblock) - now);
    pollfd fd = {context->fd, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(std::max<milliseconds::rep>(wait.count(), 1))) < 0 &&
        errno != EINTR) {
      *error = std::string("poll: ") + std::strerror(errno);
      return nullptr;
    }
    if ((fd.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && redisBufferRead(context) != REDIS_OK) {
      *error = lost + " (" + context->errstr + ")";
      return nullptr;
    }
  }
}

bool RedisInput::Send(const std::vector<const char*>& argv, const std::vector<std::size_t>& lengths,
                      Owed owed, std::string* error) {
  redisContext* context = context_.get();
  // hiredis 0.14 takes `const char**`; it only reads them.
  if (redisAppendCommandArgv(context, static_cast<int>(argv.size()),
                             const_cast<const char**>(argv.data()), lengths.data()) != REDIS_OK) {
    *error = std::string(owed.name) + ": connection lost (" + context->errstr + ")";
    return false;
  }
  // Written now, so that Redis works on it meanwhile (a reply read later
  // would write it only if none were waiting).
  for (int done = 0; !done;) {
    if (redisBufferWrite(context, &done) != REDIS_OK) {
      *error = std::string(owed.name) + ": connection lost (" + context->errstr + ")";
      return false;
    }
  }
  owed_.push_back(owed);
  return true;
}

bool RedisInput::Send(const std::vector<std::string>& args, Owed owed, std::string* error) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return Send(argv, lengths, owed, error);
}

RedisInput::Reply RedisInput::Receive(std::string* error) {
  const Owed owed = owed_.front();
  owed_.pop_front();
  void* out = nullptr;
  if (redisGetReply(context_.get(), &out) != REDIS_OK || out == nullptr) {
    *error = std::string(owed.name) + ": connection lost (" + context_->errstr + ")";
    return nullptr;
  }
  const auto* reply = static_cast<const redisReply*>(out);
  if (reply->type == REDIS_REPLY_ERROR) {
    *error = std::string(owed.name) + ": " + std::string(Text(*reply));
    return nullptr;
  }
  return reply;
}

void RedisInput::AddLine(const char* data, std::size_t size) {
  if (size > 0 && data[size - 1] == '\n') --size;  // a writer's own line end
  if (size > max_line_bytes_ && std::memchr(data, '\n', size) == nullptr) {
    // One line over the limit: counted as the framer would, without a copy.
    counters().OnBytes(size + 1);
    counters().OnTooLong();
    return;
  }
  buffer_.append(data, size);
  buffer_ += '\n';
}

void RedisInput::WorkLines(std::size_t entries) {
  if (buffer_.empty()) return;  // no line: nothing to apply before acknowledging
  const std::size_t size = buffer_.size();
  buffer_.append(kLinePadding, '\0');
  const std::uint64_t seq = exporter().sequence().fetch_add(1) + 1;
  Submitted(seq, size);
  pipeline_.CountBytes(size);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  pipeline_.Feed(std::string_view(buffer_.data(), size), seq, now);
  Applied(seq);
  // A batch of long lines does not keep its memory for good.
  if (buffer_.capacity() > kKeptBufferBytes) std::string().swap(buffer_);
  // The one reader works batches in order: its own batch is the last reported.
  if (applied_through_.load() != seq) {
    spdlog::error("{}: batch {} of {} entries not reported applied", label_, seq, entries);
  }
}

std::string RedisInput::RunStream(bool* worked) {
  std::string error;
  // The group at the stream's end if missing (MKSTREAM: the stream too);
  // BUSYGROUP says it exists.
  if (!Command({"XGROUP", "CREATE", stream_, group_, "$", "MKSTREAM"}, &error) &&
      error.find("BUSYGROUP") == std::string::npos) {
    return error;
  }
  SetUp(true);
  spdlog::info("{}: connected, reading the stream in group {} as consumer {}", label_, group_,
               consumer_);
  // First what this consumer read before but did not acknowledge (a crash,
  // a lost connection): from id 0, the pending entries only.
  std::string from = "0";
  while (!stopped()) {
    arena_->Reset();  // no reply is held between batches
    Reply reply = Command({"XREADGROUP", "GROUP", group_, consumer_, "COUNT",
                           std::to_string(kBatchEntries), "STREAMS", stream_, from},
                          &error);
    if (reply == nullptr) return error;
    // [[key, [entry, ...]]]
    if (!IsArray(reply) || reply->elements == 0 || !IsArray(reply->element[0]) ||
        reply->element[0]->elements < 2 || !IsArray(reply->element[0]->element[1]) ||
        reply->element[0]->element[1]->elements == 0) {
      break;
    }
    const redisReply& entries = *reply->element[0]->element[1];
    const redisReply* last = entries.element[entries.elements - 1];
    if (!IsArray(last) || last->elements == 0 || !IsString(last->element[0])) break;
    from = std::string(Text(*last->element[0]));
    if (!WorkEntries(entries, /*ahead=*/false, &error)) return error;
    *worked = true;
  }
  return ReadAhead(/*list=*/false, worked);
}

RedisInput::Reply RedisInput::BatchEntries(bool list, Reply reply, std::string* error) {
  if (reply->type == REDIS_REPLY_NIL) return nullptr;  // nothing came (in the block time)
  if (list) {
    if (!IsArray(reply)) *error = "EVAL: unexpected reply";
    return IsArray(reply) && reply->elements > 0 ? reply : nullptr;
  }
  // [[key, [entry, ...]]]
  if (!IsArray(reply) || reply->elements == 0 || !IsArray(reply->element[0]) ||
      reply->element[0]->elements < 2 || !IsArray(reply->element[0]->element[1])) {
    *error = "XREADGROUP: unexpected reply";
    return nullptr;
  }
  const redisReply* entries = reply->element[0]->element[1];
  return entries->elements > 0 ? entries : nullptr;
}

bool RedisInput::WorkBatch(bool list, const redisReply& entries, bool ahead, std::string* error) {
  if (!list) return WorkEntries(entries, ahead, error);
  buffer_.clear();
  for (std::size_t i = 0; i < entries.elements; ++i) {
    if (IsString(entries.element[i])) AddLine(entries.element[i]->str, entries.element[i]->len);
  }
  WorkLines(entries.elements);
  entries_counted_ += entries.elements;
  // Only now, with the lines in the store: off the head of the processing
  // list, where the batch read ahead follows this one.
  const std::vector<std::string> trim = {"LTRIM", processing_, std::to_string(entries.elements),
                                         "-1"};
  if (ahead) return Send(trim, {false, "LTRIM"}, error);
  return Command(trim, error) != nullptr;
}

std::string RedisInput::SettleOwed(bool* worked) {
  std::string error;
  Reply read = nullptr;  // at most one read is owed
  while (!owed_.empty()) {
    const bool is_read = owed_.front().read;
    Reply reply = Receive(&error);
    if (reply == nullptr) return error;
    if (is_read) read = reply;
  }
  if (read == nullptr) return {};
  const bool list = stream_.empty();
  Reply entries = BatchEntries(list, read, &error);
  if (entries == nullptr) return error;
  if (!WorkBatch(list, *entries, /*ahead=*/false, &error)) return error;
  *worked = true;
  return {};
}

std::string RedisInput::ReadAhead(bool list, bool* worked) {
  std::string error;
  const std::string count = std::to_string(kBatchEntries);
  // The next batch, asked for without blocking: an empty stream or list
  // answers at once, and is then waited for with a blocking read (below).
  const std::vector<std::string> read_next =
      list ? std::vector<std::string>{"EVAL", kMoveScript, "2", list_, processing_, count}
           : std::vector<std::string>{"XREADGROUP", "GROUP", group_,   consumer_, "COUNT",
                                      count,        "STREAMS", stream_, ">"};
  const Owed read_owed = {true, list ? "EVAL" : "XREADGROUP"};
  const milliseconds claim_every =
      std::clamp(claim_idle_ / 2, milliseconds(100), milliseconds(30000));
  Clock::time_point next_claim = Clock::now();
  while (!stopped()) {
    // The last batch is worked and its acknowledgement sent: no reply is
    // held. Owed here: acknowledgements, and the batch read ahead.
    arena_->Reset();
    if (!list && Clock::now() >= next_claim) {
      error = SettleOwed(worked);
      if (!error.empty()) return error;
      arena_->Reset();
      error = Claim(worked);
      if (!error.empty()) return error;
      next_claim = Clock::now() + claim_every;
    }
    if (std::none_of(owed_.begin(), owed_.end(), [](const Owed& owed) { return owed.read; }) &&
        !Send(read_next, read_owed, &error)) {
      return error;
    }
    // The acknowledgements sent before the read, then the read.
    Reply reply = nullptr;
    while (reply == nullptr) {
      const bool is_read = owed_.front().read;
      Reply next = Receive(&error);
      if (next == nullptr) return error;
      if (is_read) {
        reply = next;
        break;
      }
    }
    Reply entries = BatchEntries(list, reply, &error);
    if (entries == nullptr) {
      if (!error.empty()) return error;
      // Caught up: every acknowledgement answered, wait for more.
      while (!owed_.empty()) {
        if (Receive(&error) == nullptr) return error;
      }
      if (stopped()) break;  // no blocking read to end then
      arena_->Reset();
      if (list) {
        // Empty: wait for one entry, then take what came with it (the one
        // waits in the processing list, applied first at a reconnection).
        Reply one = BlockingCommand({"BLMOVE", list_, processing_, "LEFT", "RIGHT",
                                     std::to_string(kBlock.count() / 1000.0)},
                                    kBlock + kBlockGrace, &error);
        if (one == nullptr) return error;  // empty when abandoned at a stop
        if (!IsString(one)) continue;      // nil: nothing came in the block time, or stopped
        const std::string line(Text(*one));
        // Stopped: only the one moved is worked (and trimmed).
        Reply moved = nullptr;
        if (!stopped()) {
          moved = Command(
              {"EVAL", kMoveScript, "2", list_, processing_, std::to_string(kBatchEntries - 1)},
              &error);
          if (moved == nullptr) return error;
          if (!IsArray(moved)) return "EVAL: unexpected reply";
        }
        const std::size_t more = moved != nullptr ? moved->elements : 0;
        buffer_.clear();
        AddLine(line.data(), line.size());
        for (std::size_t i = 0; i < more; ++i) {
          if (IsString(moved->element[i])) AddLine(moved->element[i]->str, moved->element[i]->len);
        }
        WorkLines(more + 1);
        entries_counted_ += more + 1;
        *worked = true;
        if (!Command({"LTRIM", processing_, std::to_string(more + 1), "-1"}, &error)) return error;
        continue;
      }
      const milliseconds block = std::min(kBlock, claim_every);
      reply = BlockingCommand({"XREADGROUP", "GROUP", group_, consumer_, "COUNT", count, "BLOCK",
                               std::to_string(block.count()), "STREAMS", stream_, ">"},
                              block + kBlockGrace, &error);
      if (reply == nullptr) return error;  // empty when abandoned at a stop
      entries = BatchEntries(list, reply, &error);
      if (entries == nullptr) {
        if (!error.empty()) return error;
        continue;  // nothing came in the block time, or stopped
      }
    }
    // One read ahead while this batch is worked; its acknowledgement follows.
    // None once stopped: this batch is the last.
    if (!stopped() && !Send(read_next, read_owed, &error)) return error;
    if (!WorkBatch(list, *entries, /*ahead=*/true, &error)) return error;
    *worked = true;
  }
  // Stopped: the batch read ahead is worked and everything acknowledged.
  return SettleOwed(worked);
}

std::string RedisInput::Claim(bool* worked) {
  std::string cursor = "0-0";
  std::size_t claimed = 0;
  std::string error;
  do {
    arena_->Reset();  // no reply is held between batches
    // [next cursor, [entry, ...], [deleted id, ...]] (Redis 7; 6.2 has no third element)
    Reply reply =
        Command({"XAUTOCLAIM", stream_, group_, consumer_, std::to_string(claim_idle_.count()),
                 cursor, "COUNT", std::to_string(kBatchEntries)},
                &error);
    if (reply == nullptr) return error;
    if (!IsArray(reply) || reply->elements < 2 || !IsString(reply->element[0]) ||
        !IsArray(reply->element[1])) {
      return "XAUTOCLAIM: unexpected reply";
    }
    cursor = std::string(Text(*reply->element[0]));
    if (reply->elements >= 3 && IsArray(reply->element[2]) && reply->element[2]->elements > 0) {
      // Deleted while pending: Redis took them out of the group's pending list.
      shard_->Apply(exporter().self().EntriesSkipped(source(), SkippedEntry::kTrimmed,
                                                     reply->element[2]->elements));
    }
    claimed += reply->element[1]->elements;
    if (reply->element[1]->elements > 0) {
      if (!WorkEntries(*reply->element[1], /*ahead=*/false, &error)) return error;
      *worked = true;
    }
  } while (cursor != "0-0" && !stopped());
  if (claimed > 0) {
    spdlog::info("{}: claimed {} entries other consumers had left unacknowledged for {} ms", label_,
                 claimed, claim_idle_.count());
  }
  return {};
}

bool RedisInput::WorkEntries(const redisReply& entries, bool ahead, std::string* error) {
  buffer_.clear();
  // XACK's arguments point into the reply, which stays until the next batch.
  ack_argv_ = {"XACK", stream_.c_str(), group_.c_str()};
  ack_lengths_ = {4, stream_.size(), group_.size()};
  std::uint64_t missing = 0;
  std::uint64_t trimmed = 0;
  for (std::size_t i = 0; i < entries.elements; ++i) {
    const redisReply* entry = entries.element[i];
    if (!IsArray(entry) || entry->elements < 1 || !IsString(entry->element[0])) continue;
    ack_argv_.push_back(entry->element[0]->str);
    ack_lengths_.push_back(entry->element[0]->len);
    const redisReply* fields = entry->elements >= 2 ? entry->element[1] : nullptr;
    if (!IsArray(fields)) {  // nil: deleted while pending (MAXLEN, XDEL)
      ++trimmed;
      continue;
    }
    bool found = false;
    for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
      const redisReply* name = fields->element[f];
      const redisReply* value = fields->element[f + 1];
      if (IsString(name) && Text(*name) == field_ && IsString(value)) {
        AddLine(value->str, value->len);
        found = true;
        break;
      }
    }
    if (!found) ++missing;
  }
  WorkLines(entries.elements);
  entries_counted_ += entries.elements;
  const SelfMetrics& self = exporter().self();
  if (missing > 0) {
    shard_->Apply(self.EntriesSkipped(source(), SkippedEntry::kMissingField, missing));
  }
  if (trimmed > 0) shard_->Apply(self.EntriesSkipped(source(), SkippedEntry::kTrimmed, trimmed));
  // Only now, with the lines in the store.
  if (ack_argv_.size() == 3) return true;
  if (!Send(ack_argv_, ack_lengths_, {false, "XACK"}, error)) return false;
  return ahead || Receive(error) != nullptr;
}

std::string RedisInput::RunList(bool* worked) {
  SetUp(true);
  spdlog::info("{}: connected, reading the list through {}", label_, processing_);
  std::string error;
  // Lines a run before moved but did not get to apply first, in their order.
  while (!stopped()) {
    arena_->Reset();  // no reply is held between batches
    Reply reply = Command({"LRANGE", processing_, "0", std::to_string(kBatchEntries - 1)}, &error);
    if (reply == nullptr) return error;
    if (!IsArray(reply) || reply->elements == 0) break;
    if (!WorkBatch(/*list=*/true, *reply, /*ahead=*/false, &error)) return error;
    *worked = true;
  }
  return ReadAhead(/*list=*/true, worked);
}

}  // namespace lle
