#pragma once
// The network paths against the in-process one, in one run: a round trip at
// one client (a command and a get) and throughput at 64 clients, in process
// (the synchronous API), over HTTP and over HTTPS (cafes::net::http_edge).

#include <cstdint>

#include <nlohmann/json.hpp>

namespace cafes::bench {

/// Runs each path `repeats` times: `calls` round trips at one client, and
/// `calls` commands spread over 64 clients; prints medians and ranges, and
/// the ratio of each path to the in-process one. HTTPS needs the `openssl`
/// program (for a throwaway certificate); without it those rows are
/// skipped, and say so. Throws std::runtime_error when a call fails.
nlohmann::json measure_network(int repeats, std::uint64_t calls);

} // namespace cafes::bench
