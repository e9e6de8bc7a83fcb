#include "llm_log_exporter/source/file_tailer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <utility>

namespace lle {

FileTailer::FileTailer(std::string path, bool from_beginning, FileStateCallback on_state,
                       std::chrono::milliseconds poll_interval)
    : path_(std::move(path)),
      from_beginning_(from_beginning),
      on_state_(std::move(on_state)),
      poll_interval_(poll_interval),
      inotify_fd_(inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
  if (inotify_fd_ >= 0) {
    // The directory, not the file: it also sees the file being created,
    // renamed away or deleted. Without it (no inotify, no directory yet) we poll.
    const std::size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    inotify_add_watch(inotify_fd_, dir.c_str(),
                      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                          IN_CLOSE_WRITE | IN_ATTRIB);
  }
  // Decide where to start now, not when the reader thread first runs: a line
  // written after the daemon says "following" must count. A file that exists
  // now is followed from its end (unless asked otherwise); one that appears
  // later is new, and read whole.
  Open(/*at_end=*/!from_beginning_);
}

FileTailer::~FileTailer() {
  CloseFile();
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

void FileTailer::Stop() { stop_.Signal(); }

void FileTailer::RestFor(std::chrono::nanoseconds duration) { stop_.Sleep(duration); }

void FileTailer::Nudge() { stop_.Nudge(); }

bool FileTailer::HasUnread() const {
  // An inotify event not yet taken: the directory changed since the reader
  // last looked (without inotify, unknown).
  pollfd fds{inotify_fd_, POLLIN, 0};
  return poll(&fds, 1, 0) > 0 && (fds.revents & POLLIN) != 0;
}

void FileTailer::CloseFile() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void FileTailer::Report(FileState state, std::string reason) {
  if (reported_ && state == state_ && reason == reason_) return;
  reported_ = true;
  state_ = state;
  reason_ = std::move(reason);
  if (on_state_) on_state_(state_, reason_);
}

bool FileTailer::Open(bool at_end) {
  // O_NONBLOCK: opening a FIFO would wait for a writer (it is refused below).
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int error = errno;
    Report(error == ENOENT ? FileState::kMissing : FileState::kUnreadable,
           error == ENOENT ? "" : std::strerror(error));
    return false;
  }
  struct stat st;
  const bool stat_ok = fstat(fd, &st) == 0;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    Report(FileState::kUnreadable, stat_ok ? "not a regular file" : std::strerror(errno));
    close(fd);
    return false;
  }
  Report(FileState::kOpen, "");
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  offset_ = at_end ? lseek(fd_, 0, SEEK_END) : 0;
  ends_with_newline_ = true;
  return true;
}

bool FileTailer::EndPartialLine(char* buffer, std::size_t capacity, std::size_t* n) {
  // A last line without '\n' ends where its file did, rather than run into
  // the first line of what comes next.
  if (ends_with_newline_ || capacity == 0) return false;
  ends_with_newline_ = true;
  buffer[0] = '\n';
  *n = 1;
  return true;
}

bool FileTailer::Wait() {
  pollfd fds[2] = {{stop_.fd(), POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
  const int ready = poll(fds, 2, static_cast<int>(poll_interval_.count()));
  // Resumed before the events are taken: while the wait is reported, an event
  // still queued is what HasUnread() sees (else a scrape could find the reader
  // waiting, nothing unread, and not wait for the lines that woke it).
  ReportProgress(Progress::kResumed);
  if (ready > 0 && fds[0].revents != 0) return false;
  if (ready > 0 && fds[1].revents != 0) {
    // Which event does not matter: every wake-up re-checks the file. The
    // kernel merges a file's repeated IN_MODIFY: one read mostly takes all;
    // another only if this one may have stopped for want of room.
    constexpr std::size_t kMaxEvent = sizeof(inotify_event) + NAME_MAX + 1;
    alignas(inotify_event) char events[4096];
    while (read(inotify_fd_, events, sizeof events) > static_cast<ssize_t>(sizeof events - kMaxEvent)) {
    }
  }
  return !stop_.signalled();
}

ByteSource::Status FileTailer::Read(char* buffer, std::size_t capacity, std::size_t* n,
                                    std::string* error) {
  for (;;) {
    if (stop_.signalled()) return Status::kStopped;
    if (fd_ < 0) {
      if (Open(/*at_end=*/false)) continue;
    } else {
      const ssize_t got = read(fd_, buffer, capacity);
      if (got > 0) {
        offset_ += got;
        ends_with_newline_ = buffer[got - 1] == '\n';
        *n = static_cast<std::size_t>(got);
        return Status::kData;
      }
      if (got < 0 && errno != EINTR && errno != EAGAIN) {
        *error = path_ + ": " + std::strerror(errno);
        return Status::kError;
      }
      // At the end of what we hold open: has the name moved on?
      struct stat st;
      if (stat(path_.c_str(), &st) == 0) {
        if (st.st_dev != dev_ || st.st_ino != ino_) {
          // Rotated or recreated. What was written to the old file between our
          // last read and the stat() is still to be read: drain it first.
          const ssize_t more = read(fd_, buffer, capacity);
          if (more > 0) {
            offset_ += more;
            ends_with_newline_ = buffer[more - 1] == '\n';
            *n = static_cast<std::size_t>(more);
            return Status::kData;
          }
          CloseFile();
          if (EndPartialLine(buffer, capacity, n)) return Status::kData;
          continue;
        }
        if (st.st_size < offset_) {
          // Truncated in place (copytruncate): what follows starts at 0.
          offset_ = lseek(fd_, 0, SEEK_SET);
          if (EndPartialLine(buffer, capacity, n)) return Status::kData;
          continue;
        }
      }
    }
    // Read to the end (or no file yet): what is left is to come.
    ReportProgress(Progress::kWaiting);
    if (!Wait()) return Status::kStopped;
  }
}

}  // namespace lle
