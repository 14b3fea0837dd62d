#pragma once
// What the network layer asks of an address (http_edge.cpp, node.cpp).

#include <string>

#include <arpa/inet.h>

namespace cafes::net::detail {

/// Whether `host` is a loopback address or name: only processes of this
/// machine can connect there.
inline bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1")
    return true;
  in_addr address{};
  return ::inet_pton(AF_INET, host.c_str(), &address) == 1
         && (ntohl(address.s_addr) >> 24) == 127;
}

} // namespace cafes::net::detail
