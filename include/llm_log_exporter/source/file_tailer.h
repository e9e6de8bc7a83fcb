#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "llm_log_exporter/source/byte_source.h"
#include "llm_log_exporter/source/stop_signal.h"

namespace lle {

/// Whether a followed file is being read, and if not, why.
enum class FileState {
  kOpen,        // open and read
  kMissing,     // no such file (yet)
  kUnreadable,  // exists but cannot be opened, or is not a regular file
};

/// Told of each change of a FileTailer's state: `reason` is the errno text
/// (or "not a regular file") for kUnreadable, else empty. Called first for the
/// first look at the file (from the constructor), then from Read()'s thread
/// only when the state or the reason changes.
using FileStateCallback = std::function<void(FileState state, const std::string& reason)>;

/// Follows a regular file by name like `tail -F`: waits for it to exist,
/// reads what is appended, and after a rename rotation or a delete + create
/// reads the old file to its end before opening the new one from its start;
/// after a truncation (copytruncate) reads again from the start. A name that
/// cannot be opened (permissions, a directory, a FIFO, ...) is retried like a
/// missing one. Woken by inotify on the file's directory, and by a poll every
/// `poll_interval` where inotify is missing or silent. Owns its descriptors.
/// Read() on one thread; Stop() from any.
class FileTailer : public ByteSource {
 public:
  /// `from_beginning` false: start at the end of a file that exists already.
  /// `on_state` (may be empty) is told whether the file can be read.
  FileTailer(std::string path, bool from_beginning, FileStateCallback on_state = {},
             std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  ~FileTailer() override;
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  /// Never kEof: a followed file may always grow.
  Status Read(char* buffer, std::size_t capacity, std::size_t* n, std::string* error) override;
  void Stop() override;
  void Nudge() override;
  bool HasUnread() const override;

 protected:
  void RestFor(std::chrono::nanoseconds duration) override;

 private:
  /// Opens the file if it is there and readable, and reports its state.
  bool Open(bool at_end);
  void Report(FileState state, std::string reason);
  void CloseFile();
  /// Waits for a change or the poll interval, then reports kResumed; false
  /// once stopped.
  bool Wait();
  /// Puts a '\n' in `buffer` if what was read so far ended mid-line.
  bool EndPartialLine(char* buffer, std::size_t capacity, std::size_t* n);

  std::string path_;
  bool from_beginning_;
  FileStateCallback on_state_;
  std::chrono::milliseconds poll_interval_;
  bool reported_ = false;  // on_state_ told of state_ and reason_
  FileState state_ = FileState::kMissing;
  std::string reason_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  bool ends_with_newline_ = true;  // of what was read from the current file
  StopSignal stop_;
  int inotify_fd_ = -1;            // -1: polling only
};

}  // namespace lle
