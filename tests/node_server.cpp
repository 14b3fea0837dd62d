// The server child of the node tests: an application on RocksDB in DIR
// whose tally aggregate a CAF node publishes on 127.0.0.1. Prints
// "port N" on stdout once it listens, then serves until it is killed.
// Usage: node_server DIR PORT [CERT KEY CA] (PORT 0: the system picks;
// with the three PEM files: mutual TLS). Exit codes: 2 usage, 3 the store
// or the node failed to start.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "cafes/actors/application.hpp"
#include "cafes/net/node.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "node_tally.hpp"

using namespace cafes;

int main(int argc, char** argv) {
  if (argc != 3 && argc != 6) {
    std::fprintf(stderr, "usage: node_server DIR PORT [CERT KEY CA]\n");
    return 2;
  }
  try {
    rocksdb_options store_options;
    store_options.path = argv[1];
    auto store = rocksdb_store::open(store_options);
    if (!store) {
      std::fprintf(stderr, "%s\n", to_string(store.error()).c_str());
      return 3;
    }
    net::node_options options;
    options.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
    if (argc == 6)
      options.tls = net::tls_options{argv[3], argv[4], "", argv[5]};
    net::node node{options};
    application app{node.system(), std::shared_ptr<event_store>{std::move(*store)}};
    auto port = node.publish<testing::tally>(app);
    std::printf("port %u\n", static_cast<unsigned>(port));
    std::fflush(stdout);
    for (;;)
      ::pause(); // until killed
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 3;
  }
}
