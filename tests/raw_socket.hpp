#pragma once
// A raw TCP connection to a server of the test, for what no proper client
// sends: garbage, half a request or frame, a connection that only waits.

#include <cerrno>
#include <cstdint>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace cafes::testing {

class raw_socket {
public:
  /// Connects to 127.0.0.1:`port` (the test fails if it cannot). Reads
  /// give up after 20 s: only a bound, so a server that never answers ends
  /// the test instead of hanging it.
  explicit raw_socket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    timeval limit{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  ~raw_socket() { ::close(fd_); }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  /// Sends `bytes` (a peer that closed already makes it a no-op).
  void send(const std::string& bytes) const {
    ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }

  /// Returns everything read until the server closes (or the bound passes).
  std::string read_all() const {
    std::string out;
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buffer, sizeof buffer, 0)) > 0)
      out.append(buffer, static_cast<std::size_t>(n));
    return out;
  }

  /// Returns whether the server closed the connection within the bound.
  bool closed_by_peer() const {
    char buffer[4096];
    for (;;) {
      auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n == 0)
        return true;
      if (n < 0)
        return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }

private:
  int fd_;
};

} // namespace cafes::testing
