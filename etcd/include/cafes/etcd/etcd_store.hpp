#pragma once
// The etcd store: event histories in an etcd cluster (Raft), shared by any
// number of processes on any number of machines, behind the same
// `event_store` contract as the RocksDB store.
//
// How it keeps the contract (the README has the whole story):
// - One conditional append is one etcd transaction. It compares the
//   entity's head (and that its command ids are new) and the global log's
//   last position, and writes the events, the head, the log entries, the
//   command records and the new last position: all or nothing.
// - Positions of the global log are gapless, 1, 2, 3, ... in commit order,
//   as on the other stores: every append compares the last position, so two
//   writers never take the same one (the loser retries at once; only its
//   log slot moved, not its entity). Position p is not etcd's revision: a
//   transaction holding k events takes k positions and one revision.
// - Group commit: appends from all threads of a process that wait at the
//   same time go out together, as one transaction of up to 128 operations
//   (etcd's --max-txn-ops); one transaction is in flight per store.
// - Ambiguous writes: a transaction whose answer is lost (a deadline, a
//   member that died) may still commit. The store sends it again until its
//   write budget runs out; the compare makes sure it lands at most once,
//   and a retry that finds its own first event id at the expected version
//   reports success. When the budget runs out first, the answer is
//   `ec::unknown_outcome`; when no attempt can have reached the cluster,
//   `ec::storage_unavailable`.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cafes/storage/event_store.hpp"

namespace cafes {

/// TLS towards the cluster: etcd serves its clients with --cert-file and
/// --key-file, and checks their certificates with --client-cert-auth and
/// --trusted-ca-file. Every file is PEM.
struct etcd_tls {
  /// The CA that signed the members' certificates; empty: gRPC's default
  /// roots (the file in GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, else its own
  /// set). Each member's certificate must name the host its endpoint gives.
  std::string ca_file;
  /// This client's certificate and its key (unencrypted), for a cluster
  /// that checks its clients; both or neither.
  std::string cert_file;
  std::string key_file;
};

struct etcd_options {
  /// The cluster's members as HOST:PORT (all of them: the client goes on
  /// to the next when one fails). At least one.
  std::vector<std::string> endpoints;
  /// Prepended to every key, so that several stores share one cluster
  /// (tests use a random one each). At most 64 bytes.
  std::string key_prefix = "cafes/";
  /// The deadline of each call to the cluster.
  std::chrono::milliseconds call_timeout{2'000};
  /// How long an append may take in all, retries of an ambiguous
  /// transaction and time waiting for the group commit included (plus,
  /// for an append whose answer was lost, one read that confirms it, and
  /// for a conflict one read of the missed events); at least
  /// `call_timeout`. Also each read's budget across members.
  std::chrono::milliseconds write_timeout{6'000};
  /// etcd's --max-request-bytes (1.5 MiB by default): larger transactions
  /// are refused before they are sent.
  std::size_t max_request_bytes = 1'572'864;
  /// etcd's --max-txn-ops (128 by default).
  std::size_t max_txn_ops = 128;
  /// Set: every connection uses TLS; unset: plaintext (etcd's default,
  /// for a cluster on a trusted network only).
  std::optional<etcd_tls> tls;
};

/// Parses "HOST:PORT,HOST:PORT,...". Returns the endpoints.
/// Errors: `ec::invalid_argument` for an empty list, an empty entry or one
/// without a port in 1..65535.
result<std::vector<std::string>> parse_endpoints(std::string_view text);

class etcd_store final : public event_store {
public:
  /// Connects to the cluster and reads the global log's last position, so
  /// that a cluster that does not answer is an error here.
  /// Errors: `ec::invalid_argument` (no endpoints, a bad endpoint, a key
  /// prefix over 64 bytes, a write timeout below the call timeout, a TLS
  /// file that cannot be read, holds no PEM certificate or key, or holds an
  /// encrypted key, a client certificate without its key or a key without
  /// its certificate; file contents are not parsed here);
  /// `ec::storage_unavailable` (no member answered within `call_timeout`,
  /// the cluster has no leader, or no TLS handshake succeeded: a member's
  /// certificate not signed by the CA or not naming its host, a client
  /// certificate the cluster refuses, TLS on one side only; the message
  /// says whether the store connected with TLS); `ec::decode_failure` (the
  /// stored last position does not decode: not a cafes store under this
  /// prefix).
  static result<std::shared_ptr<etcd_store>> open(const etcd_options& options);

  ~etcd_store() override;

  /// As event_store::append, with these differences: `ec::invalid_argument`
  /// also when the request needs more operations than one transaction may
  /// hold (`max_txn_ops`; an append of n events with c command ids takes
  /// 2n + c + 2) or more bytes than `max_request_bytes`, naming the limit;
  /// `ec::storage_unavailable` when no member could take it (none answers,
  /// no leader) and no attempt may have been applied; `ec::unknown_outcome`
  /// when an attempt may have been applied and the write budget ran out
  /// before the store could tell; `ec::storage_failure` when etcd refused
  /// the write for another reason (its space quota: "database space
  /// exceeded"), naming it. Never `ec::timeout`.
  result<std::uint64_t> append(const append_request& request) override;
  /// As event_store::append_batch, with `append`'s codes.
  std::vector<result<std::uint64_t>>
  append_batch(std::span<const append_request> requests) override;

  // Reads are linearizable (etcd's default): a read sees every append
  // acknowledged before it started, by any process. Their errors:
  // `ec::storage_unavailable` when no member answers within `call_timeout`
  // or the cluster has no leader; `ec::decode_failure` as on every store;
  // `ec::storage_failure` for any other error of etcd, naming it.
  result<std::vector<event_record>> read(const entity_id& entity, std::uint64_t from = 1,
                                         std::uint64_t to = last_version) override;
  /// Reads up to max_txn_ops / 2 whole histories (from version 1) in one
  /// read-only transaction: one round trip; the others one by one.
  std::vector<result<std::vector<event_record>>>
  read_batch(std::span<const read_request> requests) override;
  result<std::uint64_t> head(const entity_id& entity) override;
  result<std::vector<entity_id>> list_entities(std::optional<entity_id> after,
                                               std::size_t limit) override;
  result<log_page> read_all(std::uint64_t after, std::size_t limit,
                            const log_filter& filter = {}) override;
  result<std::optional<std::uint64_t>> find_command(const entity_id& entity,
                                                    const uuid& command) override;
  result<std::uint64_t> last_position() override;

  // Views, as event_store says; one commit is one transaction, so
  // `commit_view` also gives `ec::invalid_argument` for more distinct row
  // keys than max_view_changes() (naming etcd's limit), and the write
  // codes of `append`.
  result<std::optional<view_checkpoint>> read_view_checkpoint(std::string_view view) override;
  result<view_checkpoint> reset_view(std::string_view view, std::uint32_t version,
                                     const std::optional<view_checkpoint>& expected) override;
  result<view_checkpoint> commit_view(std::string_view view, const view_checkpoint& expected,
                                      std::uint64_t position,
                                      std::span<const view_change> changes) override;
  result<std::optional<std::vector<std::uint8_t>>> read_view(std::string_view view,
                                                             std::string_view key) override;
  result<std::vector<view_row>> scan_view(std::string_view view, std::string_view prefix,
                                          std::string_view after,
                                          std::size_t limit) override;

  /// Watches the global log's last-position key (an etcd Watch stream on
  /// one member, opened again on the next when it ends) and calls
  /// `on_append` at every commit of any process, a few milliseconds after
  /// it: subscriptions wake at once instead of at their next poll.
  std::unique_ptr<append_watch> watch_appends(std::function<void()> on_append) override;

  /// Returns the most row changes one `commit_view` takes: `max_txn_ops` - 1.
  std::size_t max_view_changes() const noexcept override;

  /// Returns true: an append waits for the cluster's quorum to store it.
  bool appends_wait_for_device() const noexcept override { return true; }

  /// Figures of the group commit since the store opened.
  struct commit_stats {
    std::uint64_t transactions = 0; ///< transactions sent for appends
    std::uint64_t appends = 0;      ///< appends they carried (committed or not)
    std::uint64_t log_races = 0;    ///< sent again: another writer took the positions
    std::uint64_t ambiguous = 0;    ///< answers lost (deadline, member gone), sent again
    /// Appends whose lost answer was a success: a later attempt found their
    /// own first event at the expected version.
    std::uint64_t confirmed = 0;
  };
  commit_stats stats() const;

  class impl;

private:
  explicit etcd_store(std::unique_ptr<impl> self);
  std::unique_ptr<impl> impl_;
};

} // namespace cafes
