// FindConnectionSocket: the server side of a connection, found by its peer
// among the sockets of every listening port (--web.listen-address repeated).
// Real sockets on 127.0.0.1 with ports the kernel picks.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "connection_deadlines.h"

namespace lle {
namespace {

// A socket descriptor, closed with it.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

int PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

int Listener() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in addr = Loopback(0);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 4) != 0) {
    ADD_FAILURE() << "cannot listen on 127.0.0.1:0";
  }
  return fd;
}

TEST(FindConnectionSocketTest, FindsTheConnectionOnAnyOfThePorts) {
  const Fd first(Listener());
  const Fd second(Listener());
  const int first_port = PortOf(first.get());
  const int second_port = PortOf(second.get());
  const Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_in to = Loopback(second_port);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
  const Fd accepted(accept4(second.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(accepted.get(), 0);
  const int client_port = PortOf(client.get());

  EXPECT_EQ(FindConnectionSocket({first_port, second_port}, "127.0.0.1", client_port),
            accepted.get());
  EXPECT_EQ(FindConnectionSocket({second_port}, "127.0.0.1", client_port), accepted.get());
  // Not on the ports asked about, or another peer: none.
  EXPECT_EQ(FindConnectionSocket({first_port}, "127.0.0.1", client_port), -1);
  EXPECT_EQ(FindConnectionSocket({first_port, second_port}, "127.0.0.2", client_port), -1);
  EXPECT_EQ(FindConnectionSocket({}, "127.0.0.1", client_port), -1);
}

}  // namespace
}  // namespace lle
