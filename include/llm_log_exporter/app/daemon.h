#pragma once

#include <cstdio>

#include "llm_log_exporter/app/options.h"

namespace lle {

/// First thing in main: descriptors 0-2 open (on /dev/null if the caller
/// closed them), SIGPIPE ignored (a closed reader is a write error).
void PrepareProcess();

/// --check-config: validates the config, prints a summary to `out` (errors to
/// stderr). Returns the exit code.
int CheckConfig(const Options& options, std::FILE* out);

/// --once: reads `in_fd` to EOF, writes the exposition to `out`. Returns the exit code.
int RunOnce(const Options& options, int in_fd, std::FILE* out);

/// Serves metrics while reading stdin; keeps serving after EOF until SIGTERM or
/// SIGINT. Returns the exit code (0 on a clean stop, 1 if it cannot start).
int RunDaemon(const Options& options);

}  // namespace lle
