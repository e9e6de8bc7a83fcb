#pragma once

#include <cstddef>
#include <string>

#include "llm_log_exporter/source/byte_source.h"
#include "llm_log_exporter/source/stop_signal.h"

namespace lle {

/// Reads a file descriptor (stdin, a pipe, a file) and can be interrupted from
/// another thread while it waits for input. Does not own `fd`. Read() on one
/// thread; Stop() from any.
class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd);
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;

  Status Read(char* buffer, std::size_t capacity, std::size_t* n, std::string* error) override;
  void Stop() override;
  bool WaitReady(std::chrono::milliseconds timeout) override;
  void Nudge() override;
  bool HasUnread() const override;

 protected:
  void RestFor(std::chrono::nanoseconds duration) override;

 private:
  int fd_;
  StopSignal stop_;
};

}  // namespace lle
