#include "llm_log_exporter/app/input_factory.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstddef>
#include <stdexcept>
#include <string>

#include "llm_log_exporter/app/kafka_input.h"
#include "llm_log_exporter/app/redis_input.h"
#include "llm_log_exporter/source/fd_source.h"
#include "llm_log_exporter/source/file_tailer.h"
#include "llm_log_exporter/store/store.h"

namespace lle {
namespace {

// Whether `fd` is /dev/null (a service's stdin: systemd, `docker run` without
// -i, a Kubernetes container), on which no line can ever come.
bool IsDevNull(int fd) {
  struct stat fd_stat {};
  struct stat null_stat {};
  return fstat(fd, &fd_stat) == 0 && S_ISCHR(fd_stat.st_mode) &&
         stat("/dev/null", &null_stat) == 0 && fd_stat.st_rdev == null_stat.st_rdev;
}

// Logs a followed file's state once per change and keeps its
// llm_log_exporter_input_file_readable gauge. Its first call (the tailer's
// first look) logs only a file that cannot be read yet.
FileStateCallback FileStateReporter(Exporter& exporter, std::size_t file, const std::string& path) {
  // Written by the tailer's constructor, then by its reader thread only.
  Shard* shard = exporter.self_store().AddShard();
  return [&exporter, shard, file, path, first = true](FileState state,
                                                      const std::string& reason) mutable {
    shard->Apply(exporter.self().FileReadable(file, state == FileState::kOpen));
    switch (state) {
      case FileState::kOpen:
        if (!first) spdlog::info("{}: opened, reading it from its start", path);
        break;
      case FileState::kMissing:
        spdlog::info("waiting for {} to appear", path);
        break;
      case FileState::kUnreadable:
        spdlog::warn("{}: cannot be read: {}; retrying until it can", path, reason);
        break;
    }
    first = false;
  };
}

}  // namespace

std::vector<std::string> QueueLabels(const Options& options) {
  std::vector<std::string> labels;
  if (!options.redis_url.empty()) labels.push_back(RedisSourceLabel(options));
  for (const std::string& topic : options.kafka_topics) {
    labels.push_back(KafkaSourceName(options.kafka_brokers, topic));
  }
  return labels;
}

bool StdinDropsWhenFull(int fd) {
  struct stat fd_stat {};
  return !(fstat(fd, &fd_stat) == 0 && S_ISREG(fd_stat.st_mode));
}

bool ReadsStdin(const Options& options) {
  return options.input_files.empty() && QueueLabels(options).empty() &&
         !(options.ingest_enable && IsDevNull(0));
}

std::vector<std::unique_ptr<Input>> MakeInputs(Exporter& exporter, const Options& options,
                                               bool read_stdin) {
  std::vector<std::unique_ptr<Input>> inputs;
  if (read_stdin) {
    // Never make a pipe's writer wait for long; count what finds no room instead.
    auto stdin_input = std::make_unique<StreamInput>(exporter, kStdinSource, "stdin",
                                                     std::make_unique<FdSource>(0), options,
                                                     StdinDropsWhenFull(0), options.input_workers);
    // A live pipe: a bigger kernel buffer absorbs bursts while the workers
    // catch up, and lets the reader rest longer.
    stdin_input->PaceForPipe(0);
    inputs.push_back(std::move(stdin_input));
    return inputs;
  }
  for (std::size_t i = 0; i < options.input_files.size(); ++i) {
    // A file's writer never waits for us: read at our pace, drop nothing.
    // One worker each: files are written at log rates.
    const std::string& path = options.input_files[i];
    auto tailer = std::make_unique<FileTailer>(path, options.input_from_beginning,
                                               FileStateReporter(exporter, i, path));
    inputs.push_back(std::make_unique<StreamInput>(exporter, exporter.FileSource(i), path,
                                                   std::move(tailer), options,
                                                   /*drop_when_full=*/false, 1));
  }
  // The queues, after the files (QueueLabels' order).
  std::size_t queue = exporter.QueueSource(0);
  if (!options.redis_url.empty()) {
    inputs.push_back(std::make_unique<RedisInput>(exporter, queue++, options));
  }
  if (!options.kafka_topics.empty()) {
    // One consumer for every topic, each topic a source (and a pipeline) of its own.
    std::vector<std::size_t> sources;
    for (std::size_t i = 0; i < options.kafka_topics.size(); ++i) sources.push_back(queue++);
    std::string error;
    int code = 0;
    rd_kafka_conf_t* conf = MakeKafkaConf(options, &error, &code);
    std::unique_ptr<KafkaInput> kafka;
    if (conf != nullptr) kafka = KafkaInput::Create(exporter, options, sources, conf, &error);
    // CheckKafkaOptions passed at start: only a file changed since, or memory, fails here.
    if (kafka == nullptr) throw std::runtime_error("--input.kafka: " + error);
    inputs.push_back(std::move(kafka));
  }
  return inputs;
}

std::unique_ptr<StreamInput> MakeOnceInput(Exporter& exporter, const Options& options, int fd) {
  // A file or pipe we are asked to read whole: wait for workers rather than drop.
  return std::make_unique<StreamInput>(exporter, kStdinSource, "stdin",
                                       std::make_unique<FdSource>(fd), options,
                                       /*drop_when_full=*/false, options.input_workers);
}

}  // namespace lle
