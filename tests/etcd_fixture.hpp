#pragma once
// The etcd store's test fixture: a store over the cluster that CTest's
// etcd fixture started (scripts/etcd-cluster.sh; CAFES_ETCD_ENDPOINTS says
// where), under a key prefix of its own, so tests share the cluster
// without seeing each other's keys.

#include <cstdlib>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "cafes/etcd/etcd_store.hpp"

namespace cafes::testing {

/// The endpoints of the test cluster; fails the test when none are given.
inline std::vector<std::string> etcd_endpoints() {
  const char* given = std::getenv("CAFES_ETCD_ENDPOINTS");
  INFO("CAFES_ETCD_ENDPOINTS is not set: run the etcd tests through ctest, which starts "
       "the cluster (scripts/etcd-cluster.sh)");
  REQUIRE(given != nullptr);
  auto endpoints = parse_endpoints(given);
  REQUIRE(endpoints.ok());
  return *endpoints;
}

/// Opens an etcd store under `prefix` (a fresh one when empty).
inline std::shared_ptr<etcd_store> open_etcd(std::string prefix = {},
                                             std::vector<std::string> endpoints = {}) {
  etcd_options options;
  options.endpoints = endpoints.empty() ? etcd_endpoints() : std::move(endpoints);
  options.key_prefix = prefix.empty() ? "test/" + to_string(uuid::random()) + "/" : prefix;
  auto store = etcd_store::open(options);
  INFO((store ? "" : to_string(store.error())));
  REQUIRE(store.ok());
  return std::move(*store);
}

struct etcd_fixture {
  std::shared_ptr<event_store> store = open_etcd();
};

} // namespace cafes::testing
