#include "llm_log_exporter/app/kafka_input.h"

#include <librdkafka/rdkafka.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/core/read_file.h"
#include "rdkafka_api.h"

namespace lle {
namespace {

// librdkafka, loaded by MakeKafkaConf (every other use comes after one that succeeded).
const RdKafkaApi& Rdk() {
  std::string unused;
  return *LoadRdKafkaApi(&unused);
}

// What rdkafka.h's inline rd_kafka_message_errstr says, through Rdk().
std::string MessageError(const rd_kafka_message_t& message) {
  if (message.payload != nullptr) {
    return std::string(static_cast<const char*>(message.payload), message.len);
  }
  return Rdk().rd_kafka_err2str(message.err);
}

// Lines held before they are applied: one batch per topic at most this big
// (more only when one message is bigger), so that a backlog is worked in
// few, large batches and a quiet topic's message is applied at once.
constexpr std::size_t kFlushBytes = 256 * 1024;
// How long a poll waits for a message while nothing is held; also how soon
// Stop() is seen.
constexpr int kPollMs = 100;
// Offsets stored since the last commit are committed (asynchronously) at
// most this often: a commit request per batch would load the coordinator
// at high rates, and the window a crash or a rebalance replays stays short.
constexpr auto kCommitEvery = std::chrono::milliseconds(100);
// librdkafka's fetch.max.bytes unless --input.kafka.option sets it (MakeConf).
constexpr std::size_t kFetchMaxBytes = std::size_t{4} << 20;
// While no broker answers: how often, and for how long at most, to ask.
constexpr auto kProbeEvery = std::chrono::seconds(1);
constexpr int kProbeTimeoutMs = 1000;

// Properties the exporter sets from its own flags or needs as it sets them:
// --input.kafka.option may not change them.
struct Reserved {
  const char* key;
  const char* why;
};
constexpr Reserved kReserved[] = {
    {"bootstrap.servers", "set by --input.kafka.brokers"},
    {"metadata.broker.list", "set by --input.kafka.brokers"},
    {"group.id", "set by --input.kafka.group"},
    {"auto.offset.reset", "set by --input.kafka.start"},
    {"enable.auto.offset.store",
     "the exporter stores an offset only once its message's lines are applied"},
};

// `text` with every occurrence of `secret` replaced: librdkafka's messages
// may quote the value they refuse.
std::string Redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t at = 0; (at = text.find(secret, at)) != std::string::npos;) {
    text.replace(at, secret.size(), "<redacted>");
    at += 10;
  }
  return text;
}

// librdkafka's own log, at debug level only: its connection errors repeat
// on every retry, and the input logs each change of them once (OnError).
void LogCallback(const rd_kafka_t* /*rk*/, int /*level*/, const char* facility, const char* text) {
  spdlog::debug("librdkafka {}: {}", facility, text);
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A ByteSource for Input that is never read: the consumer is the source.
class NoBytes : public ByteSource {
 public:
  Status Read(char*, std::size_t, std::size_t*, std::string*) override { return Status::kStopped; }
  void Stop() override {}
};

// Whether the group's assignor is incremental (cooperative-sticky). NULL
// (the group being closed, or not set up) is not.
bool Cooperative(rd_kafka_t* rk) {
  const char* protocol = Rdk().rd_kafka_rebalance_protocol(rk);
  return protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
}

}  // namespace

// librdkafka's callbacks, all run on the reader's thread (inside
// rd_kafka_consumer_poll, the consumer queue being the main queue).
struct KafkaCallbacks {
  static void Error(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
    static_cast<KafkaInput*>(opaque)->OnError(err, reason);
  }
  static void Rebalance(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<KafkaInput*>(opaque)->OnRebalance(err, partitions);
  }
  static void Committed(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* /*offsets*/, void* opaque) {
    static_cast<KafkaInput*>(opaque)->OnCommitted(err);
  }
};

// --input.kafka.format=json: the line(s) of an envelope's field.
class KafkaInput::JsonEnvelope {
 public:
  explicit JsonEnvelope(std::string field) : field_(std::move(field)) {}

  // The field's string in `value`, valid until the next call; false with `*why`.
  bool Lines(const char* value, std::size_t size, std::string_view* lines, SkippedEntry* why) {
    simdjson::dom::element document;
    if (parser_.parse(value, size).get(document) != simdjson::SUCCESS) {
      *why = SkippedEntry::kNotJson;
      return false;
    }
    simdjson::dom::object object;
    if (document.get(object) != simdjson::SUCCESS) {
      *why = SkippedEntry::kNotObject;
      return false;
    }
    simdjson::dom::element field;
    if (object.at_key(field_).get(field) != simdjson::SUCCESS) {
      *why = SkippedEntry::kMissingField;
      return false;
    }
    if (field.get(*lines) != simdjson::SUCCESS) {
      *why = SkippedEntry::kFieldNotString;
      return false;
    }
    return true;
  }

 private:
  const std::string field_;
  simdjson::dom::parser parser_;
};

std::string KafkaSourceName(const std::string& brokers, const std::string& topic) {
  std::string first = brokers.substr(0, brokers.find(','));
  // Trim: "a:9092, b:9092" is a valid list.
  while (!first.empty() && std::isspace(static_cast<unsigned char>(first.back()))) first.pop_back();
  first.erase(0, std::min(first.find_first_not_of(" \t"), first.size()));
  return "kafka://" + first + "/" + topic;
}

namespace {

// Whether a librdkafka property holds a secret (its value is never shown).
bool SecretKey(const std::string& key) {
  for (const char* part : {"password", "secret", "key.pem", "oauthbearer.config", "jaas"}) {
    if (key.find(part) != std::string::npos) return true;
  }
  return false;
}

// MakeKafkaConf, also giving the secret values (from a file, or of a secret
// property) in `*secrets`, to redact them from librdkafka's later messages.
rd_kafka_conf_t* MakeConf(const Options& options, std::string* error, int* exit_code,
                          std::vector<std::string>* secrets) {
  if (LoadRdKafkaApi(error) == nullptr) {
    *error = "--input.kafka.topic: " + *error;
    *exit_code = 1;
    return nullptr;
  }
  rd_kafka_conf_t* conf = Rdk().rd_kafka_conf_new();
  char reason[512];
  // `flag`: what the error names; `secret`: the value must not be quoted.
  const auto set = [&](const std::string& flag, const std::string& key, const std::string& value,
                       bool secret = false) {
    if (Rdk().rd_kafka_conf_set(conf, key.c_str(), value.c_str(), reason, sizeof reason) ==
        RD_KAFKA_CONF_OK) {
      return true;
    }
    *error = flag + " " + key + ": " + (secret ? Redact(reason, value) : std::string(reason));
    *exit_code = 2;
    return false;
  };
  bool ok = set("--input.kafka.brokers", "bootstrap.servers", options.kafka_brokers) &&
            set("--input.kafka.group", "group.id", options.kafka_group) &&
            set("--input.kafka.start", "auto.offset.reset", options.kafka_start) &&
            // At least once: an offset is stored only once the lines of its
            // message are in the store (OnApplied, enable.auto.offset.store=
            // false), and the input commits what is stored itself: right
            // after the batch that stored it (asynchronously, at most every
            // kCommitEvery), and synchronously when partitions are revoked
            // and when it stops. Not librdkafka's auto commit, whose timer
            // (5 s by default) is blind to rebalances: a broker refuses
            // commits while a group rebalances, and a commit that waited for
            // the timer then replays the whole interval to the next owner.
            set("", "enable.auto.commit", "false") &&
            set("", "enable.auto.offset.store", "false") &&
            set("", "client.id", "llm_log_exporter") &&
            // Brokers close idle connections: not worth a log line each time.
            set("", "log.connection.close", "false");
  // Whether --input.kafka.option sets fetch.max.bytes, or message.max.bytes
  // (which it may not be under): then the exporter's is not set.
  bool fetch_max_set = false;
  const auto user = [&](const char* flag, const std::string& option, bool from_file) {
    const std::size_t equals = option.find('=');
    const std::string key = option.substr(0, equals);
    std::string value = option.substr(equals + 1);
    for (const Reserved& reserved : kReserved) {
      if (key == reserved.key) {
        *error = std::string(flag) + " " + key + ": not settable here: " + reserved.why;
        *exit_code = 2;
        return false;
      }
    }
    if (from_file) {
      std::string text;
      std::string why;
      if (!ReadWholeFile(value, kMaxSecretFileBytes, &text, &why)) {
        *error = std::string(flag) + " " + key + ": " + value + ": " + why;
        *exit_code = 1;
        return false;
      }
      value = text.substr(0, text.find('\n'));
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
        value.pop_back();
      }
    }
    if (key == "fetch.max.bytes" || key == "message.max.bytes") fetch_max_set = true;
    const bool secret = from_file || SecretKey(key);
    if (secret) secrets->push_back(value);
    return set(flag, key, value, secret);
  };
  for (const std::string& option : options.kafka_options) {
    ok = ok && user("--input.kafka.option", option, false);
  }
  for (const std::string& option : options.kafka_option_files) {
    ok = ok && user("--input.kafka.option-file", option, true);
  }
  // A fetch response is received into one buffer of its size; at
  // librdkafka's 50 MB that is a fresh mapping, page-faulted in, for every
  // response of a backlog (a third of the consumer's CPU). 4 MiB (16,000
  // lines of 250 bytes) stays in malloc's heap and is reused.
  if (ok && !fetch_max_set) ok = set("", "fetch.max.bytes", std::to_string(kFetchMaxBytes));
  if (!ok) {
    Rdk().rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  Rdk().rd_kafka_conf_set_log_cb(conf, LogCallback);
  return conf;
}

}  // namespace

rd_kafka_conf_t* MakeKafkaConf(const Options& options, std::string* error, int* exit_code) {
  std::vector<std::string> secrets;
  return MakeConf(options, error, exit_code, &secrets);
}

bool CheckKafkaOptions(const Options& options, std::string* error, int* exit_code) {
  std::vector<std::string> secrets;
  rd_kafka_conf_t* conf = MakeConf(options, error, exit_code, &secrets);
  if (conf == nullptr) return false;
  char reason[512];
  rd_kafka_t* consumer = Rdk().rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof reason);
  if (consumer == nullptr) {
    Rdk().rd_kafka_conf_destroy(conf);  // rd_kafka_new takes it over on success only
    std::string why = reason;
    for (const std::string& secret : secrets) why = Redact(std::move(why), secret);
    *error = "--input.kafka.option: " + why;
    *exit_code = 2;
    return false;
  }
  Rdk().rd_kafka_destroy(consumer);
  return true;
}

KafkaInput::KafkaInput(Exporter& exporter, const Options& options, std::vector<std::size_t> sources)
    : Input(exporter, sources.front(),
            KafkaSourceName(options.kafka_brokers, options.kafka_topics.front()),
            std::make_unique<NoBytes>()),
      json_(options.kafka_format == "json"),
      group_(options.kafka_group),
      shard_(exporter.self_store().AddShard()) {
  if (json_) envelope_ = std::make_unique<JsonEnvelope>(options.kafka_field);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    Topic topic;
    topic.name = options.kafka_topics[i];
    topic.source = sources[i];
    topic.pipeline = std::make_unique<Pipeline>(exporter, sources[i], options.max_line_bytes);
    topics_.push_back(std::move(topic));
  }
}

std::unique_ptr<KafkaInput> KafkaInput::Create(Exporter& exporter, const Options& options,
                                               std::vector<std::size_t> sources,
                                               rd_kafka_conf_t* conf, std::string* error) {
  std::unique_ptr<KafkaInput> input(new KafkaInput(exporter, options, std::move(sources)));
  Rdk().rd_kafka_conf_set_opaque(conf, input.get());
  Rdk().rd_kafka_conf_set_error_cb(conf, KafkaCallbacks::Error);
  Rdk().rd_kafka_conf_set_rebalance_cb(conf, KafkaCallbacks::Rebalance);
  Rdk().rd_kafka_conf_set_offset_commit_cb(conf, KafkaCallbacks::Committed);
  char reason[512];
  input->consumer_ = Rdk().rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof reason);
  if (input->consumer_ == nullptr) {
    Rdk().rd_kafka_conf_destroy(conf);  // rd_kafka_new takes it over on success only
    *error = reason;
    return nullptr;
  }
  // Errors, rebalances and messages all come through rd_kafka_consumer_poll.
  Rdk().rd_kafka_poll_set_consumer(input->consumer_);
  return input;
}

KafkaInput::~KafkaInput() {
  Stop();
  Join();
  // Read() closed the consumer if it ran; destroying an open one leaves the group too.
  if (consumer_ != nullptr) Rdk().rd_kafka_destroy(consumer_);
}

ByteSource::Status KafkaInput::Read(ByteSource& /*bytes*/, std::string* error) {
  // As StreamInput's threads: yield to the HTTP threads and the inference
  // server (librdkafka's own threads keep their priority).
  LowerThreadPriority();
  rd_kafka_topic_partition_list_t* subscription =
      Rdk().rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size()));
  for (const Topic& topic : topics_) {
    Rdk().rd_kafka_topic_partition_list_add(subscription, topic.name.c_str(),
                                            RD_KAFKA_PARTITION_UA);
  }
  const rd_kafka_resp_err_t subscribed = Rdk().rd_kafka_subscribe(consumer_, subscription);
  Rdk().rd_kafka_topic_partition_list_destroy(subscription);
  if (subscribed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *error = std::string("subscribing: ") + Rdk().rd_kafka_err2str(subscribed);
    return ByteSource::Status::kError;
  }
  while (!stopped()) {
    if (brokers_down_ && std::chrono::steady_clock::now() >= next_probe_) {
      next_probe_ = std::chrono::steady_clock::now() + kProbeEvery;
      if (ProbeBrokers()) BrokersBack();
    }
    rd_kafka_message_t* message =
        Rdk().rd_kafka_consumer_poll(consumer_, held_bytes_ > 0 ? 0 : kPollMs);
    if (message == nullptr) {
      Flush();
      if (uncommitted_ && std::chrono::steady_clock::now() >= next_commit_) CommitSoon();
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        OnError(message->err, MessageError(*message));
      }
    } else {
      if (brokers_down_) BrokersBack();
      Take(*message);
    }
    Rdk().rd_kafka_message_destroy(message);
    if (held_bytes_ >= kFlushBytes) Flush();
    if (uncommitted_ && std::chrono::steady_clock::now() >= next_commit_) CommitSoon();
  }
  Flush();
  for (Topic& topic : topics_) topic.pipeline->Finish();
  // Commit what was applied, then leave the group (the revoke commits again:
  // nothing new). With no broker, skip the commit: it could only time out.
  if (!brokers_down_) Commit("stop");
  const rd_kafka_resp_err_t closed = Rdk().rd_kafka_consumer_close(consumer_);
  if (closed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("{}: leaving consumer group {}: {}", name(), group_,
                 Rdk().rd_kafka_err2str(closed));
  }
  joined_ = false;
  UpdateUp();
  return ByteSource::Status::kStopped;
}

void KafkaInput::Take(const rd_kafka_message_t& message) {
  const char* topic_name = Rdk().rd_kafka_topic_name(message.rkt);
  std::size_t t = 0;
  while (t < topics_.size() && topics_[t].name != topic_name) ++t;
  if (t == topics_.size()) return;  // not subscribed: cannot happen
  Topic& topic = topics_[t];
  // Its offset is stored with the topic's next batch, after the lines before it.
  bool found = false;
  for (auto& [partition, offset] : topic.offsets) {
    if (partition == message.partition) {
      offset = message.offset + 1;
      found = true;
    }
  }
  if (!found) topic.offsets.emplace_back(message.partition, message.offset + 1);
  std::string_view lines(static_cast<const char*>(message.payload),
                         message.payload != nullptr ? message.len : 0);
  SkippedEntry why = SkippedEntry::kEmpty;
  if (json_ && !lines.empty() && !envelope_->Lines(lines.data(), lines.size(), &lines, &why)) {
    shard_->Apply(exporter().self().EntriesSkipped(topic.source, why));
    return;
  }
  if (lines.empty()) {
    shard_->Apply(exporter().self().EntriesSkipped(topic.source, SkippedEntry::kEmpty));
    return;
  }
  topic.lines.append(lines);
  if (lines.back() != '\n') topic.lines.push_back('\n');
  held_bytes_ += lines.size() + 1;
}

void KafkaInput::Flush() {
  for (std::size_t t = 0; t < topics_.size(); ++t) {
    Topic& topic = topics_[t];
    if (topic.lines.empty()) {
      // Messages without lines only: nothing to apply, every earlier batch is.
      if (!topic.offsets.empty()) StoreOffsets(topic.name, topic.offsets);
      topic.offsets.clear();
      continue;
    }
    const std::uint64_t seq = exporter().sequence().fetch_add(1) + 1;
    const std::size_t size = topic.lines.size();
    pending_.push_back({seq, t, std::move(topic.offsets)});
    topic.offsets.clear();
    Submitted(seq, size);
    topic.lines.append(kLinePadding, '\0');  // the framer reads past the last line
    topic.pipeline->CountBytes(size);
    topic.pipeline->Feed(std::string_view(topic.lines.data(), size), seq, WallSeconds());
    topic.lines.clear();
    Applied(seq);  // OnApplied stores the offsets
  }
  held_bytes_ = 0;
}

void KafkaInput::OnApplied(const AppliedBatch& batch) {
  // Batches are applied on this thread, one at a time, in order: the first pending.
  while (!pending_.empty() && pending_.front().seq <= batch.seq) {
    const PendingOffsets& front = pending_.front();
    StoreOffsets(topics_[front.topic].name, front.offsets);
    pending_.pop_front();
  }
}

void KafkaInput::StoreOffsets(const std::string& topic,
                              const std::vector<std::pair<std::int32_t, std::int64_t>>& offsets) {
  if (offsets.empty()) return;
  rd_kafka_topic_partition_list_t* list =
      Rdk().rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [partition, offset] : offsets) {
    Rdk().rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
  }
  const rd_kafka_resp_err_t err = Rdk().rd_kafka_offsets_store(consumer_, list);
  // A partition revoked meanwhile (its assignment lost) is refused: its new
  // owner reads it again from the last commit (at least once).
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::debug("{}: storing offsets: {}", name(), Rdk().rd_kafka_err2str(err));
  } else {
    uncommitted_ = true;
  }
  Rdk().rd_kafka_topic_partition_list_destroy(list);
}

void KafkaInput::CommitSoon() {
  uncommitted_ = false;
  next_commit_ = std::chrono::steady_clock::now() + kCommitEvery;
  // Commits the stored offsets that differ from the committed ones; OnCommitted says how it went.
  Rdk().rd_kafka_commit(consumer_, nullptr, /*async=*/1);
}

void KafkaInput::OnCommitted(int err) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  // Refused (a rebalance in progress, no coordinator): what is stored stays
  // stored, and goes with the next commit.
  spdlog::debug("{}: committing offsets: {}", name(),
                Rdk().rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)));
  uncommitted_ = true;
}

void KafkaInput::Commit(const char* why) {
  uncommitted_ = false;
  const rd_kafka_resp_err_t err = Rdk().rd_kafka_commit(consumer_, nullptr, /*async=*/0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    spdlog::warn("{}: committing offsets ({}): {}; they are committed later, or read again", name(),
                 why, Rdk().rd_kafka_err2str(err));
  }
}

void KafkaInput::UpdateUp() {
  const bool up = joined_ && !brokers_down_;
  if (up_.exchange(up) == up) return;
  for (const Topic& topic : topics_) shard_->Apply(exporter().self().InputUp(topic.source, up));
}

void KafkaInput::BrokersBack() {
  brokers_down_ = false;
  if (!logged_errors_.empty()) {
    spdlog::info("{}: brokers reachable again", name());
    logged_errors_.clear();
  }
  if (joined_) {
    for (const Topic& topic : topics_) {
      shard_->Apply(exporter().self().InputReconnect(topic.source));
    }
  }
  UpdateUp();
}

bool KafkaInput::ProbeBrokers() {
  const rd_kafka_metadata_t* metadata = nullptr;
  // all_topics=0, no topic: the brokers only.
  const rd_kafka_resp_err_t err =
      Rdk().rd_kafka_metadata(consumer_, 0, nullptr, &metadata, kProbeTimeoutMs);
  if (metadata != nullptr) Rdk().rd_kafka_metadata_destroy(metadata);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void KafkaInput::OnError(int err, const std::string& reason) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  // What makes the input down: no broker at all, or none that lets us in.
  const bool down = code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
                    code == RD_KAFKA_RESP_ERR__AUTHENTICATION || code == RD_KAFKA_RESP_ERR__SSL ||
                    code == RD_KAFKA_RESP_ERR__FATAL;
  // librdkafka reports an outage as several errors in turn (the connection
  // refused, then all brokers down), on every retry: each is logged once
  // until a broker answers again.
  if (std::find(logged_errors_.begin(), logged_errors_.end(), err) == logged_errors_.end()) {
    logged_errors_.push_back(err);
    // The reason comes from librdkafka: it names brokers and errors, never
    // property values.
    spdlog::warn("{}: {} ({}){}", name(), reason, Rdk().rd_kafka_err2name(code),
                 down ? "; retrying, llm_log_exporter_input_up is 0 meanwhile" : "");
  }
  if (down && !brokers_down_) {
    brokers_down_ = true;
    next_probe_ = std::chrono::steady_clock::now() + kProbeEvery;
    UpdateUp();
  }
}

void KafkaInput::OnRebalance(int err, rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = Cooperative(consumer_);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Each partition continues from its committed offset (else --input.kafka.start).
    rd_kafka_error_t* failed = nullptr;
    rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cooperative) {
      failed = Rdk().rd_kafka_incremental_assign(consumer_, partitions);
    } else {
      assign_err = Rdk().rd_kafka_assign(consumer_, partitions);
    }
    if (failed != nullptr || assign_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::error("{}: taking partitions assigned: {}", name(),
                    failed != nullptr ? Rdk().rd_kafka_error_string(failed)
                                      : Rdk().rd_kafka_err2str(assign_err));
      if (failed != nullptr) Rdk().rd_kafka_error_destroy(failed);
    }
    spdlog::info("{}: group {}: {} partition(s) assigned", name(), group_, partitions->cnt);
    joined_ = true;
    if (brokers_down_) BrokersBack();
    UpdateUp();
    return;
  }
  // Revoked (or lost): apply what is held and store its offsets while the
  // partitions are still ours, and commit unless they are lost already (a
  // commit would be refused: another member may own them now).
  Flush();
  if (!Rdk().rd_kafka_assignment_lost(consumer_) && !brokers_down_) Commit("revoke");
  if (cooperative) {
    rd_kafka_error_t* failed = Rdk().rd_kafka_incremental_unassign(consumer_, partitions);
    if (failed != nullptr) Rdk().rd_kafka_error_destroy(failed);
  } else {
    Rdk().rd_kafka_assign(consumer_, nullptr);
  }
  spdlog::info("{}: group {}: {} partition(s) revoked", name(), group_, partitions->cnt);
}

}  // namespace lle
