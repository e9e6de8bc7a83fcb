#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace lle::test {
namespace {

void ClosePipe(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// Reads what is available on `fd` within `timeout_ms` into `out`; false at EOF.
bool ReadSome(int fd, std::string& out, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return true;
  char buf[65536];
  const ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
  out.append(buf, static_cast<std::size_t>(n));
  return true;
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& stdin_path) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_path.empty()) {
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  stderr_fd_ = err[0];
  if (rc != 0) {
    reaped_ = true;
    throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
  signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  ClosePipe(stdin_fd_);
  ClosePipe(stdout_fd_);
  ClosePipe(stderr_fd_);
}

void ChildProcess::Write(const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = write(stdin_fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("write to child: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
}

void ChildProcess::CloseStdin() { ClosePipe(stdin_fd_); }

void ChildProcess::Signal(int sig) { kill(pid_, sig); }

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (reaped_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling waitpid
  }
}

std::string ChildProcess::ReadStderrUntil(const std::string& needle,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (stderr_buf_.find(needle) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    if (!ReadSome(stderr_fd_, stderr_buf_, 50)) break;
  }
  return stderr_buf_;
}

std::string ChildProcess::ReadStdoutUntil(const std::string& needle,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (stdout_buf_.find(needle) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    if (!ReadSome(stdout_fd_, stdout_buf_, 50)) break;
  }
  return stdout_buf_;
}

void ChildProcess::Drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = stdout_fd_ >= 0, err_open = stderr_fd_ >= 0;
  while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
    pollfd p[2] = {{out_open ? stdout_fd_ : -1, POLLIN, 0},
                   {err_open ? stderr_fd_ : -1, POLLIN, 0}};
    if (poll(p, 2, 50) <= 0) continue;
    if (out_open && p[0].revents != 0) out_open = ReadSome(stdout_fd_, stdout_buf_, 0);
    if (err_open && p[1].revents != 0) err_open = ReadSome(stderr_fd_, stderr_buf_, 0);
  }
}

std::string ChildProcess::DrainStdout(std::chrono::milliseconds timeout) {
  Drain(timeout);
  return stdout_buf_;
}

std::string ChildProcess::DrainStderr(std::chrono::milliseconds timeout) {
  Drain(timeout);
  return stderr_buf_;
}

namespace {

// Its output and exit code, once it has ended.
RunResult Collect(ChildProcess& child, std::chrono::milliseconds timeout) {
  RunResult result;
  result.out = child.DrainStdout(timeout);
  result.err = child.DrainStderr(timeout);
  result.exit_code = child.Wait(timeout);
  return result;
}

}  // namespace

RunResult Run(const std::vector<std::string>& argv, const std::string& input,
              std::chrono::milliseconds timeout) {
  ChildProcess child(argv);
  // Feed stdin from a thread while draining stdout/stderr here, so a child that
  // writes a lot before it reads everything cannot deadlock either side.
  std::thread writer([&] {
    try {
      child.Write(input);
    } catch (const std::exception&) {
      // The child stopped reading (exited early); its exit code tells the test.
    }
    child.CloseStdin();
  });
  const RunResult result = Collect(child, timeout);
  writer.join();
  return result;
}

RunResult RunWithStdinFile(const std::vector<std::string>& argv, const std::string& stdin_path,
                           std::chrono::milliseconds timeout) {
  ChildProcess child(argv, stdin_path);
  child.CloseStdin();  // the unused pipe
  return Collect(child, timeout);
}

}  // namespace lle::test
