#pragma once

#include <cstddef>
#include <string>

#include "llm_log_exporter/source/byte_source.h"

namespace lle {

/// Reads a file descriptor (stdin, a pipe, a file) and can be interrupted from
/// another thread while it waits for input. Does not own `fd`; owns the eventfd
/// that Stop() signals. Read() on one thread; Stop() from any.
class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd);
  ~FdSource() override;
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;

  Status Read(char* buffer, std::size_t capacity, std::size_t* n, std::string* error) override;
  void Stop() override;
  bool WaitReady(std::chrono::milliseconds timeout) override;

 private:
  int fd_;
  int wake_fd_;  // eventfd that Stop() signals
};

}  // namespace lle
