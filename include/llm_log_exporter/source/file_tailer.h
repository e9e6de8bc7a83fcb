#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>

#include "llm_log_exporter/source/byte_source.h"

namespace lle {

/// Follows a file by name like `tail -F`: waits for it to exist, reads what
/// is appended, and after a rename rotation or a delete + create reads the
/// old file to its end before opening the new one from its start; after a
/// truncation (copytruncate) reads again from the start. Woken by inotify on
/// the file's directory, and by a poll every `poll_interval` where inotify is
/// missing or silent. Owns its descriptors. Read() on one thread; Stop() from any.
class FileTailer : public ByteSource {
 public:
  /// `from_beginning` false: start at the end of a file that exists already.
  FileTailer(std::string path, bool from_beginning,
             std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  ~FileTailer() override;
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  /// Never kEof: a followed file may always grow.
  Status Read(char* buffer, std::size_t capacity, std::size_t* n, std::string* error) override;
  void Stop() override;

 private:
  bool Open(bool at_end);
  void CloseFile();
  /// Waits for a change or the poll interval; false once stopped.
  bool Wait();
  /// Puts a '\n' in `buffer` if what was read so far ended mid-line.
  bool EndPartialLine(char* buffer, std::size_t capacity, std::size_t* n);

  std::string path_;
  bool from_beginning_;
  std::chrono::milliseconds poll_interval_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  bool ends_with_newline_ = true;  // of what was read from the current file
  int wake_fd_ = -1;               // eventfd signalled by Stop()
  int inotify_fd_ = -1;            // -1: polling only
};

}  // namespace lle
