#include "connection_deadlines.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

namespace lle {

ConnectionDeadlines::ConnectionDeadlines() : thread_([this] { Run(); }) {}

ConnectionDeadlines::~ConnectionDeadlines() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ConnectionDeadlines::Arm(const void* key, int fd,
                              std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_[key] = Entry{fd, deadline};
  }
  wake_.notify_all();
}

void ConnectionDeadlines::Disarm(const void* key) {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_.erase(key);
}

void ConnectionDeadlines::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    const auto now = std::chrono::steady_clock::now();
    auto next = now + std::chrono::hours(1);
    for (auto it = armed_.begin(); it != armed_.end();) {
      if (it->second.deadline <= now) {
        // Reads then see end of stream: the handler answers (408) and civetweb
        // closes the connection instead of draining the rest of the body.
        shutdown(it->second.fd, SHUT_RD);
        it = armed_.erase(it);
      } else {
        if (it->second.deadline < next) next = it->second.deadline;
        ++it;
      }
    }
    wake_.wait_until(lock, next);
  }
}

int FindConnectionSocket(int local_port, const char* remote_addr, int remote_port) {
  in6_addr want6{};
  in_addr want4{};
  const bool v4 = inet_pton(AF_INET, remote_addr, &want4) == 1;
  if (!v4 && inet_pton(AF_INET6, remote_addr, &want6) != 1) return -1;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const int fd = std::atoi(entry->d_name);
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t local_len = sizeof local;
    socklen_t peer_len = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
      continue;  // not a socket, or not connected (the listener)
    }
    bool match = false;
    if (v4 && peer.ss_family == AF_INET && local.ss_family == AF_INET) {
      const auto* p = reinterpret_cast<const sockaddr_in*>(&peer);
      const auto* l = reinterpret_cast<const sockaddr_in*>(&local);
      match = ntohs(l->sin_port) == local_port && ntohs(p->sin_port) == remote_port &&
              p->sin_addr.s_addr == want4.s_addr;
    } else if (!v4 && peer.ss_family == AF_INET6 && local.ss_family == AF_INET6) {
      const auto* p = reinterpret_cast<const sockaddr_in6*>(&peer);
      const auto* l = reinterpret_cast<const sockaddr_in6*>(&local);
      match = ntohs(l->sin6_port) == local_port && ntohs(p->sin6_port) == remote_port &&
              std::memcmp(&p->sin6_addr, &want6, sizeof want6) == 0;
    }
    if (match) {
      found = fd;
      break;
    }
  }
  closedir(dir);
  return found;
}

}  // namespace lle
