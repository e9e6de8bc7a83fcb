#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <sys/types.h>
#include <vector>

namespace lle {

/// Watches the connections civetweb's workers hold and cuts (shutdown()) the
/// ones that hold a worker for nothing, which civetweb alone would let wait:
/// - a request body still being read at its deadline (civetweb bounds each
///   read and the request head, but not a body that keeps arriving a byte at
///   a time): shutdown(SHUT_RD), so the handler sees the body end and answers;
/// - while connections wait in the kernel's listen backlog for a worker: every
///   accepted connection that is not in a request, has nothing unread and has
///   received nothing for `grace` (idle, between keep-alive requests, or
///   trickling its request head or TLS handshake), found by the kernel's view
///   of the sockets (TCP_INFO), checked every few milliseconds. One that has
///   sent something must also have had no byte move either way over two looks
///   `grace` apart: its worker may be reading its head or answering its TLS
///   handshake. And a connection whose worker (Attach) runs or waits for a
///   CPU is not idle: that worker may have read a head and be on its way to
///   BeginRequest, however long a loaded machine keeps it off a CPU. The
///   backlog is looked at only once a connection waits in it
///   (the listening socket polls readable) and still waits a few milliseconds
///   later: an idle server is never woken.
/// Owns one timer thread and an eventfd. Thread-safe. End a request's entry before its socket
/// can be closed, so a descriptor is never cut for a deadline after its reuse
/// by another connection (both happen under one mutex).
class ConnectionDeadlines {
 public:
  ConnectionDeadlines(std::chrono::milliseconds grace);
  ~ConnectionDeadlines();
  ConnectionDeadlines(const ConnectionDeadlines&) = delete;
  ConnectionDeadlines& operator=(const ConnectionDeadlines&) = delete;

  /// The server's listening ports, once bound: nothing is cut for crowding
  /// before. Crowded while connections wait in the backlog of any of them.
  void Listen(std::vector<int> ports);
  /// Connection `key` is served by the calling thread until Close(key): while
  /// that thread runs or waits for a CPU, its connection is not idle. Its
  /// peer is known from its first BeginRequest on; before, any connection
  /// whose worker is unknown is kept while such a worker runs.
  void Attach(const void* key);
  /// Connection `key`, from `remote_addr` (text) : `remote_port`, is in a
  /// request: never cut as idle until End.
  void BeginRequest(const void* key, const char* remote_addr, int remote_port);
  /// (Re)arms the body deadline of the request of `key`, whose socket is `fd`.
  void Arm(const void* key, int fd, std::chrono::steady_clock::time_point deadline);
  /// The request is answered.
  void End(const void* key);
  /// The connection closes: End, and the thread of Attach no longer serves it.
  void Close(const void* key);
  /// Connections cut while the backlog was not empty, since start.
  long idle_cuts() const;

 private:
  struct Entry {
    std::string peer;                                // "addr:port"
    int fd;                                          // -1 until armed
    std::chrono::steady_clock::time_point deadline;  // of the body; max() if none
  };
  void Run();
  // Connections wait in the listen backlog. Called under mutex_.
  bool Crowded();
  // Cuts idle connections (see the class comment); how many. Under mutex_.
  int CutIdle(std::chrono::steady_clock::time_point now);
  // Signals wake_fd_.
  void Wake();
  // Waits (mutex_ not held) until `until`, Wake(), or one of `listeners` is
  // readable: a connection waits in its backlog. Says whether it was that.
  bool WaitFor(std::chrono::steady_clock::time_point until, const std::vector<int>& listeners);

  const std::chrono::milliseconds grace_;
  std::vector<int> ports_;      // guarded by mutex_, like everything below
  std::vector<int> listeners_;  // their listening sockets, found lazily (all or none)
  mutable std::mutex mutex_;
  const int wake_fd_;  // eventfd: a change for Run() to look at
  std::map<const void*, Entry> requests_;
  struct Served {
    std::string peer;  // "addr:port"; "" until its first request
    pid_t thread;      // its worker
  };
  std::map<const void*, Served> served_;
  // Connections that sent bytes once but seemed idle at the last look: since
  // when nothing has moved on them (by descriptor; rebuilt at each look).
  struct Quiet {
    std::string peer;
    std::uint64_t received;
    std::uint64_t acked;
    std::chrono::steady_clock::time_point since;
  };
  std::map<int, Quiet> quiet_;
  long idle_cuts_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

/// The socket of the server-side connection between one of the local ports
/// `local_ports` and the peer `remote_addr` (text) : `remote_port`, found among
/// this process's descriptors; -1 if none. civetweb does not expose it.
int FindConnectionSocket(const std::vector<int>& local_ports, const char* remote_addr,
                         int remote_port);

}  // namespace lle
