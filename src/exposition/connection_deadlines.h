#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace lle {

/// Cuts the reading side of a connection (shutdown(SHUT_RD)) that is still
/// armed at its deadline, so a client that trickles a request body can hold a
/// worker no longer than that: civetweb bounds each read and the request head,
/// but not a body that keeps arriving a byte at a time. Owns one timer thread.
/// Thread-safe. Disarm before the socket can be closed, so the fd is never cut
/// after reuse by another connection (both happen under one mutex).
class ConnectionDeadlines {
 public:
  ConnectionDeadlines();
  ~ConnectionDeadlines();
  ConnectionDeadlines(const ConnectionDeadlines&) = delete;
  ConnectionDeadlines& operator=(const ConnectionDeadlines&) = delete;

  /// (Re)arms the deadline of connection `key`, whose socket is `fd`.
  void Arm(const void* key, int fd, std::chrono::steady_clock::time_point deadline);
  void Disarm(const void* key);

 private:
  struct Entry {
    int fd;
    std::chrono::steady_clock::time_point deadline;
  };
  void Run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<const void*, Entry> armed_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

/// The socket of the server-side connection between local port `local_port`
/// and the peer `remote_addr` (text) : `remote_port`, found among this
/// process's descriptors; -1 if none. civetweb does not expose it.
int FindConnectionSocket(int local_port, const char* remote_addr, int remote_port);

}  // namespace lle
