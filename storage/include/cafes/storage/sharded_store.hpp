#pragma once
// Entities spread over several stores by id: write scale beyond one store
// (one etcd cluster has one Raft leader, which caps its writes).
//
// What stays as on one store: everything about one entity (its history,
// head, conflicts, command ids), since an entity lives in exactly one shard,
// chosen by its id (the same in every process given the same list).
// What does not: there is no single global log. Each shard has its own,
// ordered and gapless; across shards nothing orders events. So the global
// log (`read_all`, `last_position`) and the views, whose checkpoints are
// positions of a global log, are refused here: run subscriptions,
// projections and process managers over each shard's store (`shard(i)`).

#include <memory>
#include <vector>

#include "cafes/storage/event_store.hpp"

namespace cafes {

class sharded_store final : public event_store {
public:
  /// Returns a store over `shards` (in this order: every process must list
  /// the same stores in the same order). Errors: `ec::invalid_argument` for
  /// no shards or a null one.
  static result<std::shared_ptr<sharded_store>>
  make(std::vector<std::shared_ptr<event_store>> shards);

  /// Returns the index of the shard that holds `entity`.
  std::size_t shard_of(const entity_id& entity) const noexcept;
  /// Returns shard `index` (< shard_count()).
  const std::shared_ptr<event_store>& shard(std::size_t index) const { return shards_[index]; }
  std::size_t shard_count() const noexcept { return shards_.size(); }

  /// As the shard's. Returns what the entity's shard returns, with its codes.
  result<std::uint64_t> append(const append_request& request) override;
  /// Each shard's requests go to it as one batch, all shards at once (one
  /// thread per shard but the first); results in request order, each with
  /// its shard's codes.
  std::vector<result<std::uint64_t>>
  append_batch(std::span<const append_request> requests) override;
  /// Each shard's reads go to it as one batch, all shards at once.
  std::vector<result<std::vector<event_record>>>
  read_batch(std::span<const read_request> requests) override;
  result<std::vector<event_record>> read(const entity_id& entity, std::uint64_t from = 1,
                                         std::uint64_t to = last_version) override;
  result<std::uint64_t> head(const entity_id& entity) override;
  /// Merges the shards' lists: the first `limit` ids after `after`, in id
  /// order. Errors: the first shard's that fails.
  result<std::vector<entity_id>> list_entities(std::optional<entity_id> after,
                                               std::size_t limit) override;
  result<std::optional<std::uint64_t>> find_command(const entity_id& entity,
                                                    const uuid& command) override;

  /// Refused, `ec::invalid_argument`: no global log across shards (see above).
  result<log_page> read_all(std::uint64_t after, std::size_t limit,
                            const log_filter& filter = {}) override;
  /// Refused, `ec::invalid_argument`: no global log across shards.
  result<std::uint64_t> last_position() override;
  /// Views: refused, `ec::invalid_argument` (their checkpoints are global
  /// log positions); run projections over each shard.
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

  /// True when any shard's appends wait for a device.
  bool appends_wait_for_device() const noexcept override;

private:
  /// Splits `requests` by shard, runs `call(shard, its requests)` for every
  /// shard that has any, at once, and returns the results in request order.
  template <class Request, class Call>
  auto split(std::span<const Request> requests, Call call)
    -> std::vector<typename std::invoke_result_t<Call, event_store&,
                                                 std::span<const Request>>::value_type>;

  explicit sharded_store(std::vector<std::shared_ptr<event_store>> shards)
    : shards_(std::move(shards)) {}
  std::vector<std::shared_ptr<event_store>> shards_;
};

} // namespace cafes
