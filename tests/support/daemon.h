#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/child_process.h"

namespace lle::test {

/// A running daemon under test. Owns the process: SIGKILLed by its destructor
/// if still running.
struct Daemon {
  std::unique_ptr<ChildProcess> process;
  int port = 0;
  std::string log;  // stderr up to `ready_marker`
};

/// Starts `binary` on 127.0.0.1:0 with `flags`, reads its stderr until
/// `ready_marker` (which follows the `listening on` line) and the port it
/// bound from that line. Its stdin is a pipe, or the file `stdin_path` if
/// not empty. Throws (failing the test) if it does not start.
Daemon LaunchDaemon(const std::string& binary, const std::vector<std::string>& flags,
                    const std::string& ready_marker = "(metrics at",
                    std::chrono::milliseconds timeout = std::chrono::seconds(10),
                    const std::string& stdin_path = "");

/// Series (as printed, labels included) and the value each must have.
using Expected = std::vector<std::pair<std::string, double>>;

/// Scrapes `path` until every series in `expected` has its value, or fails
/// after `timeout` naming the first mismatch. On success, stores the matching
/// scrape in `*exposition` if given, so callers can check more on the same one.
::testing::AssertionResult WaitForMetrics(
    int port, const Expected& expected, std::string* exposition = nullptr,
    const std::string& path = "/metrics",
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Sends `sig` and checks the process exits 0 within `limit`. Waits up to
/// `timeout` before giving up, so a slow but clean stop is told apart from a hang.
::testing::AssertionResult StopsCleanlyWithin(
    ChildProcess& process, int sig, std::chrono::milliseconds limit,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace lle::test
