#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace lle::test {

/// A child process with pipes to its stdin, stdout and stderr. Owns the pipes
/// and the process: the destructor kills (SIGKILL) and reaps it if still running.
class ChildProcess {
 public:
  /// Starts `argv[0]` (a path) with `argv`, its stdin a pipe, or the file
  /// `stdin_path` if not empty. Throws std::runtime_error on failure.
  explicit ChildProcess(const std::vector<std::string>& argv, const std::string& stdin_path = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Writes all of `data` to the child's stdin (blocking).
  void Write(const std::string& data);
  /// Closes the child's stdin (EOF for it).
  void CloseStdin();
  /// Sends a signal.
  void Signal(int sig);
  /// Waits for exit up to `timeout`; returns the exit code, or -1 on timeout,
  /// or 128+N if killed by signal N.
  int Wait(std::chrono::milliseconds timeout);
  /// Reads stderr until `needle` appears or `timeout` passes; returns all read so far.
  std::string ReadStderrUntil(const std::string& needle, std::chrono::milliseconds timeout);
  /// The same on stdout.
  std::string ReadStdoutUntil(const std::string& needle, std::chrono::milliseconds timeout);
  /// Reads stdout and stderr until the child closes both (or `timeout`), then
  /// returns all the child wrote to that stream.
  std::string DrainStdout(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string DrainStderr(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  int exit_code_ = -1;
  bool reaped_ = false;
  void Drain(std::chrono::milliseconds timeout);
  std::string stdout_buf_;
  std::string stderr_buf_;
};

/// Runs a command to completion with `input` on stdin; returns exit code, stdout, stderr.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult Run(const std::vector<std::string>& argv, const std::string& input,
              std::chrono::milliseconds timeout = std::chrono::seconds(60));
/// The same with the file `stdin_path` as stdin (a regular file, as in `< FILE`).
RunResult RunWithStdinFile(const std::vector<std::string>& argv, const std::string& stdin_path,
                           std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace lle::test
