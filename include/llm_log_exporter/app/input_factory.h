#pragma once

#include <memory>
#include <string>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/input.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/app/stream_input.h"

namespace lle {

/// Whether the daemon reads stdin: unless files or queues are read instead, or
/// HTTP ingest comes with stdin on /dev/null (a service's stdin, on which no
/// line can ever come).
bool ReadsStdin(const Options& options);

/// Whether lines read from stdin `fd` that find the input buffer full are
/// dropped (after --input.drop-after-ms): a pipe's writer (the server) must
/// never wait long; a regular file (`llm_log_exporter < FILE`) has no writer
/// to wait, and is read at the workers' pace.
bool StdinDropsWhenFull(int fd);

/// The inputs `options` ask for, in their exporter's source order, built but
/// not started: stdin if `read_stdin` (ReadsStdin), else each --input.file,
/// then the queue inputs (QueueLabels): Redis (--input.redis.url), then the
/// Kafka consumer of --input.kafka.topic (one input for all its topics).
/// The one place where flags become inputs: a new kind of input is one case
/// here (and its flags in options.cc). HTTP ingest, pushed to by the HTTP
/// server rather than read, is not among them (HttpIngest). A followed file
/// logs its first look and keeps its llm_log_exporter_input_file_readable
/// gauge. `exporter` must outlive the inputs.
/// The `source` labels of the queue inputs `options` ask for, in MakeInputs'
/// order (ExporterInputs::queues): the Redis key, then each Kafka topic.
std::vector<std::string> QueueLabels(const Options& options);

std::vector<std::unique_ptr<Input>> MakeInputs(Exporter& exporter, const Options& options,
                                               bool read_stdin);

/// --once's input: `fd` read whole, waiting for the workers rather than
/// dropping lines.
std::unique_ptr<StreamInput> MakeOnceInput(Exporter& exporter, const Options& options, int fd);

}  // namespace lle
