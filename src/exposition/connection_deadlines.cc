#include "connection_deadlines.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_received
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace lle {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint8_t kTcpEstablished = 1;  // tcpi_state

// How often the listen backlog is looked at (one getsockopt).
constexpr std::chrono::milliseconds kRecheck(10);

int LocalPort(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  }
  return -1;
}

// Calls `visit(fd, peer, connected)` for each TCP socket of this process
// whose local port is one of `ports`; stops when it returns true.
template <typename Visit>
void ForEachSocketOnPorts(const std::vector<int>& ports, Visit visit) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd == own) continue;
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        std::find(ports.begin(), ports.end(), LocalPort(local)) == ports.end()) {
      continue;  // not a socket, or not one of ours
    }
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    const bool connected = getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0;
    if (visit(fd, peer, connected)) break;
  }
  closedir(dir);
}

// The peer of a connection as bytes (address, then port), or "" if unknown.
std::string PeerKey(const sockaddr_storage& peer) {
  std::string key;
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    key.assign(reinterpret_cast<const char*>(&in->sin_addr), sizeof in->sin_addr);
    key.append(reinterpret_cast<const char*>(&in->sin_port), sizeof in->sin_port);
  } else if (peer.ss_family == AF_INET6) {
    const auto* in = reinterpret_cast<const sockaddr_in6*>(&peer);
    key.assign(reinterpret_cast<const char*>(&in->sin6_addr), sizeof in->sin6_addr);
    key.append(reinterpret_cast<const char*>(&in->sin6_port), sizeof in->sin6_port);
  }
  return key;
}

std::string PeerKey(const char* addr, int port) {
  sockaddr_storage peer{};
  auto* in = reinterpret_cast<sockaddr_in*>(&peer);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&peer);
  if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
    peer.ss_family = AF_INET;
    in->sin_port = htons(static_cast<std::uint16_t>(port));
  } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
    peer.ss_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(port));
  }
  return PeerKey(peer);
}

// Whether thread `tid` of this process runs or waits for a CPU (state R):
// not blocked on a socket, a lock or a timer.
bool Runnable(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char stat[512];
  const ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return false;
  stat[n] = '\0';
  // "tid (comm) S ...": the name may hold ')' itself, the state follows the last.
  const char* end = std::strrchr(stat, ')');
  return end != nullptr && end[1] == ' ' && end[2] == 'R';
}

}  // namespace

ConnectionDeadlines::ConnectionDeadlines(std::chrono::milliseconds grace)
    : grace_(grace),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      thread_([this] { Run(); }) {}

ConnectionDeadlines::~ConnectionDeadlines() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  Wake();
  thread_.join();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void ConnectionDeadlines::Wake() {
  const std::uint64_t one = 1;
  // Nothing to do if it fails: the eventfd can only be full, i.e. already signalled.
  [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
}

bool ConnectionDeadlines::WaitFor(Clock::time_point until, const std::vector<int>& listeners) {
  timespec timeout{};
  timespec* timeout_ptr = nullptr;  // no deadline: wait for an event
  if (until != Clock::time_point::max()) {
    const auto left = std::max(until - Clock::now(), Clock::duration::zero());
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
    timeout = {static_cast<std::time_t>(seconds.count()),
               static_cast<long>(std::chrono::nanoseconds(left - seconds).count())};
    timeout_ptr = &timeout;
  }
  // Without the eventfd (it could not be made), never wait longer than a recheck.
  if (wake_fd_ < 0 && timeout_ptr == nullptr) return WaitFor(Clock::now() + kRecheck, listeners);
  std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};  // a negative fd is ignored
  for (const int listener : listeners) fds.push_back({listener, POLLIN, 0});
  if (ppoll(fds.data(), fds.size(), timeout_ptr, nullptr) <= 0) return false;
  if (fds[0].revents != 0) {
    std::uint64_t count;
    [[maybe_unused]] const ssize_t n = read(wake_fd_, &count, sizeof count);
  }
  return std::any_of(fds.begin() + 1, fds.end(), [](const pollfd& p) { return p.revents != 0; });
}

void ConnectionDeadlines::Listen(std::vector<int> ports) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ports_ = std::move(ports);
    listeners_.clear();
  }
  Wake();
}

void ConnectionDeadlines::BeginRequest(const void* key, const char* remote_addr, int remote_port) {
  std::lock_guard<std::mutex> lock(mutex_);
  Entry& entry = requests_[key] = Entry{PeerKey(remote_addr, remote_port), -1,
                                        Clock::time_point::max()};
  const auto served = served_.find(key);
  if (served != served_.end()) served->second.peer = entry.peer;
}

void ConnectionDeadlines::Arm(const void* key, int fd, Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = requests_.find(key);
    if (it == requests_.end()) return;
    it->second.fd = fd;
    it->second.deadline = deadline;
  }
  Wake();
}

void ConnectionDeadlines::Attach(const void* key) {
  std::lock_guard<std::mutex> lock(mutex_);
  served_[key] = Served{"", gettid()};
}

void ConnectionDeadlines::End(const void* key) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.erase(key);
}

void ConnectionDeadlines::Close(const void* key) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.erase(key);
  served_.erase(key);
}

long ConnectionDeadlines::idle_cuts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_cuts_;
}

bool ConnectionDeadlines::Crowded() {
  if (ports_.empty()) return false;
  if (listeners_.empty()) {
    std::vector<int> found;
    ForEachSocketOnPorts(ports_, [&found](int fd, const sockaddr_storage&, bool connected) {
      int listening = 0;
      socklen_t len = sizeof listening;
      if (!connected && getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
          listening != 0) {
        found.push_back(fd);  // civetweb keeps it open until the server stops
      }
      return false;
    });
    // One per port, or look again later.
    if (found.size() < ports_.size()) return false;
    listeners_ = std::move(found);
  }
  // For a listening socket, tcpi_unacked is the length of its accept queue.
  return std::any_of(listeners_.begin(), listeners_.end(), [](int listener) {
    tcp_info info{};
    socklen_t len = sizeof info;
    return getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
           info.tcpi_unacked > 0;
  });
}

int ConnectionDeadlines::CutIdle(Clock::time_point now) {
  std::vector<std::string> busy;
  for (const auto& [key, entry] : requests_) busy.push_back(entry.peer);
  const auto grace_ms = static_cast<std::uint32_t>(grace_.count());
  // Whether a worker whose connection's peer is not known yet runs; looked
  // at once per call, when first needed.
  int unknown = -1;
  auto unknown_runs = [&] {
    if (unknown < 0) {
      unknown = std::any_of(served_.begin(), served_.end(), [](const auto& s) {
        return s.second.peer.empty() && Runnable(s.second.thread);
      });
    }
    return unknown == 1;
  };
  std::map<int, Quiet> seen;
  int cut = 0;
  ForEachSocketOnPorts(ports_, [&](int fd, const sockaddr_storage& peer, bool connected) {
    if (!connected) return false;
    int unread = 0;
    tcp_info info{};
    socklen_t len = sizeof info;
    if (ioctl(fd, FIONREAD, &unread) != 0 || unread > 0 ||
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        info.tcpi_state != kTcpEstablished || info.tcpi_last_data_recv < grace_ms) {
      return false;  // a request waits in it, or bytes came just now
    }
    const std::string key = PeerKey(peer);
    if (std::find(busy.begin(), busy.end(), key) != busy.end()) return false;
    // Never sent a byte since its handshake, `grace` ago: idle for sure.
    bool idle = info.tcpi_bytes_received == 0;
    if (!idle) {
      // Its worker (or, not knowing which, one whose connection is not known)
      // may have read its head and be working on it: quiet looks start over.
      const auto worker = std::find_if(served_.begin(), served_.end(),
                                       [&key](const auto& s) { return s.second.peer == key; });
      if (worker != served_.end() ? Runnable(worker->second.thread) : unknown_runs()) {
        return false;
      }
      // It did send: its worker may be reading it, or (TLS) answering it.
      // Idle only if nothing moved either way over two looks `grace` apart.
      const Quiet now_seen{key, info.tcpi_bytes_received, info.tcpi_bytes_acked, now};
      const auto before = quiet_.find(fd);
      if (before != quiet_.end() && before->second.peer == key &&
          before->second.received == now_seen.received && before->second.acked == now_seen.acked) {
        idle = now - before->second.since >= grace_;
        seen.emplace(fd, before->second);
      } else {
        seen.emplace(fd, now_seen);
      }
    }
    if (idle) {
      shutdown(fd, SHUT_RDWR);
      seen.erase(fd);
      ++cut;
    }
    return false;
  });
  quiet_ = std::move(seen);
  idle_cuts_ += cut;
  return cut;
}

void ConnectionDeadlines::Run() {
  Clock::time_point logged = Clock::now() - std::chrono::hours(1);
  long unlogged = 0;  // cuts since the last log line
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    const auto now = Clock::now();
    auto next = Clock::time_point::max();
    for (auto& [key, entry] : requests_) {
      if (entry.fd < 0) continue;
      if (entry.deadline <= now) {
        // Reads then see end of stream: the handler answers (408) and the
        // connection is closed instead of draining the rest of the body.
        shutdown(entry.fd, SHUT_RD);
        entry.deadline = Clock::time_point::max();
      } else if (entry.deadline < next) {
        next = entry.deadline;
      }
    }
    // While connections queue, look again soon after each cut: the workers
    // freed take the next ones.
    const bool crowded = Crowded();
    if (!crowded) {
      quiet_.clear();
      // No listening socket to watch (yet): look every kRecheck instead.
      if (listeners_.empty()) next = std::min(next, now + kRecheck);
    } else {
      next = std::min(next, now + kRecheck);
      const int cut = CutIdle(now);
      if (cut > 0) {
        next = std::min(next, now + std::chrono::milliseconds(1));
        unlogged += cut;
        if (now - logged >= std::chrono::seconds(10)) {
          spdlog::warn(
              "http: connections wait for a worker (--web.max-connections): closed {} idle ones",
              unlogged);
          logged = now;
          unlogged = 0;
        }
      }
    }
    // Not crowded: woken by a connection in the backlog, which civetweb's
    // master thread takes at once unless every worker is busy. Looked at
    // again kRecheck later: only then is it crowded.
    const std::vector<int> watch = crowded ? std::vector<int>() : listeners_;
    lock.unlock();
    if (WaitFor(next, watch)) WaitFor(std::min(next, Clock::now() + kRecheck), {});
    lock.lock();
  }
}

int FindConnectionSocket(const std::vector<int>& local_ports, const char* remote_addr,
                         int remote_port) {
  in6_addr want6{};
  in_addr want4{};
  const bool v4 = inet_pton(AF_INET, remote_addr, &want4) == 1;
  if (!v4 && inet_pton(AF_INET6, remote_addr, &want6) != 1) return -1;
  int found = -1;
  ForEachSocketOnPorts(local_ports, [&](int fd, const sockaddr_storage& peer, bool connected) {
    if (!connected || LocalPort(peer) != remote_port) return false;
    bool match = false;
    if (v4 && peer.ss_family == AF_INET) {
      match = reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr.s_addr == want4.s_addr;
    } else if (!v4 && peer.ss_family == AF_INET6) {
      match = std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr, &want6,
                          sizeof want6) == 0;
    }
    if (match) found = fd;
    return match;
  });
  return found;
}

}  // namespace lle
