#include "llm_log_exporter/source/fd_source.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lle {

FdSource::FdSource(int fd) : fd_(fd) {}

void FdSource::Stop() { stop_.Signal(); }

bool FdSource::WaitReady(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
  return poll(fds, 2, static_cast<int>(timeout.count())) > 0;
}

void FdSource::RestFor(std::chrono::nanoseconds duration) { stop_.Sleep(duration); }

void FdSource::Nudge() { stop_.Nudge(); }

bool FdSource::HasUnread() const {
  pollfd fds{fd_, POLLIN, 0};
  return poll(&fds, 1, 0) > 0 && (fds.revents & POLLIN) != 0;
}

FdSource::Status FdSource::Read(char* buffer, std::size_t capacity, std::size_t* n,
                                std::string* error) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
  for (;;) {
    // Nothing to read now: say so before waiting. Something to read: no
    // second poll (a system call per read matters at low rates, issue 21).
    int ready = reports_progress() ? poll(fds, 2, 0) : 0;
    const bool waits = ready == 0 && reports_progress();
    if (waits) ReportProgress(Progress::kWaiting);
    if (ready == 0) ready = poll(fds, 2, -1);
    if (waits) ReportProgress(Progress::kResumed);
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
