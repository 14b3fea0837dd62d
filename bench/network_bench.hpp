#pragma once
// The network paths against the in-process one, in one run: a round trip at
// one client (a command and a get) and throughput at 64 clients, in process
// (the synchronous API), through a CAF node (cafes::net::node, plain and
// mutual TLS), and over HTTP and HTTPS (cafes::net::http_edge). Server and
// clients share this process and talk over loopback TCP (the 'node' case
// runs its server in another process).

#include <cstdint>

#include <nlohmann/json.hpp>

namespace cafes::bench {

/// Runs each path `repeats` times: `calls` round trips at one client, and
/// `calls` commands spread over 64 clients; prints medians and ranges, and
/// the ratio of each path to the in-process one. TLS needs the `openssl`
/// program (for throwaway certificates); without it those rows are
/// skipped, and say so. Throws std::runtime_error when a call fails.
nlohmann::json measure_network(int repeats, std::uint64_t calls);

} // namespace cafes::bench
