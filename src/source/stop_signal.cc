#include "llm_log_exporter/source/stop_signal.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>

namespace lle {

StopSignal::StopSignal()
    : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      nudge_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

StopSignal::~StopSignal() {
  if (fd_ >= 0) close(fd_);
  if (nudge_fd_ >= 0) close(nudge_fd_);
}

void StopSignal::Nudge() {
  const std::uint64_t one = 1;
  // Nothing to do if it fails: the eventfd can only be full, i.e. already nudged.
  [[maybe_unused]] const ssize_t n = write(nudge_fd_, &one, sizeof one);
}

void StopSignal::Signal() {
  signalled_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  // Nothing to do if it fails: the eventfd can only be full, i.e. already signalled.
  [[maybe_unused]] const ssize_t n = write(fd_, &one, sizeof one);
}

void StopSignal::Sleep(std::chrono::nanoseconds duration) const {
  if (signalled() || duration <= std::chrono::nanoseconds::zero()) return;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
  const timespec timeout{static_cast<std::time_t>(seconds.count()),
                         static_cast<long>((duration - seconds).count())};
  // Woken early by a signal (EINTR): a shorter rest is harmless.
  pollfd fds[2] = {{fd_, POLLIN, 0}, {nudge_fd_, POLLIN, 0}};
  ppoll(fds, 2, &timeout, nullptr);  // a negative fd is ignored: a plain sleep
  if (fds[1].revents != 0) {
    std::uint64_t count;  // taken: the nudge ends this sleep only
    [[maybe_unused]] const ssize_t n = read(nudge_fd_, &count, sizeof count);
  }
}

}  // namespace lle
