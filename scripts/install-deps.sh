#!/usr/bin/env bash
# Installs the Debian 12 packages cafes needs, only those that are missing.
# Safe to run any number of times. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake
  libcaf-dev          # CAF 0.17.6: the actor framework
  librocksdb-dev      # RocksDB 7.8: the embedded store
  libspdlog-dev       # logging at the edges
  catch2              # Catch2 v2.13: the test suite
  libcli11-dev        # command lines of the demo and tools
  nlohmann-json3-dev  # JSON reports of the stress tool and bench
  gnuplot-nox         # the bench's PNG plot
  clang               # the fuzz targets (scripts/fuzz.sh): libFuzzer is clang's
  libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes for clang 14; only
                      # recommended by clang, so --no-install-recommends skips it
  libcpp-httplib-dev  # the HTTP/JSON edge (net/); brings libssl-dev, zlib, brotli
  pkg-config          # cpp-httplib's build flags must match Debian's library
  libssl-dev          # CAF's openssl module (TLS between nodes): its headers
                      # include <openssl/ssl.h>, which libcaf-dev does not bring
  openssl             # the node tests and bench make their test PKI with it
  etcd-server etcd-client   # the etcd store's cluster (scripts/etcd-cluster.sh)
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
                            # the etcd store's client: gRPC and its code generator
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
