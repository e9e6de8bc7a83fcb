#include "llm_log_exporter/source/fd_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace lle {

FdSource::FdSource(int fd) : fd_(fd), wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

FdSource::~FdSource() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void FdSource::Stop() {
  const std::uint64_t one = 1;
  // Nothing to do if it fails: the eventfd can only be full, i.e. already signalled.
  [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
}

bool FdSource::WaitReady(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  return poll(fds, wake_fd_ >= 0 ? 2 : 1, static_cast<int>(timeout.count())) > 0;
}

FdSource::Status FdSource::Read(char* buffer, std::size_t capacity, std::size_t* n,
                                std::string* error) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    const int ready = poll(fds, wake_fd_ >= 0 ? 2 : 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      *error = std::string("poll: ") + std::strerror(errno);
      return Status::kError;
    }
    if (fds[1].revents != 0) return Status::kStopped;
    if (fds[0].revents & POLLNVAL) {
      *error = "not an open file descriptor";
      return Status::kError;
    }
    const ssize_t got = read(fd_, buffer, capacity);
    if (got > 0) {
      *n = static_cast<std::size_t>(got);
      return Status::kData;
    }
    if (got == 0) return Status::kEof;
    if (errno != EINTR && errno != EAGAIN) {
      *error = std::string("read: ") + std::strerror(errno);
      return Status::kError;
    }
  }
}

}  // namespace lle
