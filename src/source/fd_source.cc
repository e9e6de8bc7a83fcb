#include "llm_log_exporter/source/fd_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "llm_log_exporter/core/line.h"

namespace lle {

FdSource::FdSource(int fd, std::size_t read_bytes)
    : fd_(fd),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      buffer_(read_bytes + kLinePadding),
      read_bytes_(read_bytes) {}

FdSource::~FdSource() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void FdSource::Stop() {
  const std::uint64_t one = 1;
  // Nothing to do if it fails: the eventfd can only be full, i.e. already signalled.
  [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
}

FdSource::End FdSource::Run(const std::function<void(std::string_view)>& on_chunk,
                            std::string* error) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    const int ready = poll(fds, wake_fd_ >= 0 ? 2 : 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      *error = std::string("poll: ") + std::strerror(errno);
      return End::kError;
    }
    if (fds[1].revents != 0) return End::kStopped;
    if (fds[0].revents & POLLNVAL) {
      *error = "not an open file descriptor";
      return End::kError;
    }
    const ssize_t n = read(fd_, buffer_.data(), read_bytes_);
    if (n > 0) {
      on_chunk(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
    } else if (n == 0) {
      return End::kEof;
    } else if (errno != EINTR && errno != EAGAIN) {
      *error = std::string("read: ") + std::strerror(errno);
      return End::kError;
    }
  }
}

}  // namespace lle
