#include "support/daemon.h"

#include <cstdlib>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/exposition.h"
#include "support/http_client.h"

namespace lle::test {

Daemon LaunchDaemon(const std::string& binary, const std::vector<std::string>& flags,
                    const std::string& ready_marker, std::chrono::milliseconds timeout,
                    const std::string& stdin_path) {
  std::vector<std::string> argv = {binary, "--web.listen-address=127.0.0.1:0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  Daemon daemon;
  daemon.process = std::make_unique<ChildProcess>(argv, stdin_path);
  daemon.log = daemon.process->ReadStderrUntil(ready_marker, timeout);
  const std::string marker = "listening on 127.0.0.1:";
  const std::size_t at = daemon.log.find(marker);
  if (at == std::string::npos || daemon.log.find("(metrics at", at) == std::string::npos) {
    throw std::runtime_error("daemon did not report its port; stderr:\n" + daemon.log);
  }
  daemon.port = std::atoi(daemon.log.c_str() + at + marker.size());
  if (daemon.port <= 0) throw std::runtime_error("bad port in startup log:\n" + daemon.log);
  return daemon;
}

::testing::AssertionResult WaitForMetrics(int port, const Expected& expected,
                                          std::string* exposition, const std::string& path,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const HttpResponse response = HttpGet(port, path);
    std::ostringstream mismatch;
    if (response.status != 200) {
      mismatch << "GET " << path << " answered " << response.status;
    } else {
      for (const auto& [series, value] : expected) {
        const std::optional<double> got = MetricValue(response.body, series);
        if (got == value) continue;
        mismatch << series << " is ";
        if (got) {
          mismatch << *got;
        } else {
          mismatch << "absent";
        }
        mismatch << ", want " << value;
        break;
      }
    }
    if (mismatch.str().empty()) {
      if (exposition != nullptr) *exposition = response.body;
      return ::testing::AssertionSuccess();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return ::testing::AssertionFailure()
             << "after " << std::chrono::duration<double>(timeout).count()
             << " s: " << mismatch.str();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
  }
}

::testing::AssertionResult StopsCleanlyWithin(ChildProcess& process, int sig,
                                              std::chrono::milliseconds limit,
                                              std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  process.Signal(sig);
  const int code = process.Wait(timeout);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  if (code != 0) {
    return ::testing::AssertionFailure()
           << "exit code " << code << " (-1: still running after "
           << std::chrono::duration<double>(timeout).count() << " s); stderr:\n"
           << process.DrainStderr(std::chrono::seconds(1));
  }
  if (took > limit) {
    return ::testing::AssertionFailure() << "exited 0, but only after " << took.count()
                                         << " ms (limit " << limit.count() << " ms)";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace lle::test
