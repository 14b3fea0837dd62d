#pragma once
// An in-memory store for tests: the same contract, nothing durable.

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cafes/storage/event_store.hpp"

namespace cafes {

class memory_store final : public event_store {
public:
  result<std::uint64_t> append(const append_request& request) override;
  std::vector<result<std::uint64_t>>
  append_batch(std::span<const append_request> requests) override;
  result<std::vector<event_record>> read(const entity_id& entity,
                                         std::uint64_t from = 1,
                                         std::uint64_t to = last_version) override;
  result<std::uint64_t> head(const entity_id& entity) override;
  result<std::vector<entity_id>> list_entities(std::optional<entity_id> after,
                                               std::size_t limit) override;
  result<log_page> read_all(std::uint64_t after, std::size_t limit,
                            const log_filter& filter = {}) override;
  result<std::uint64_t> last_position() override;
  result<std::optional<std::uint64_t>> find_command(const entity_id& entity,
                                                    const uuid& command) override;
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

  /// Returns false: appends only take a mutex.
  bool appends_wait_for_device() const noexcept override { return false; }

private:
  result<std::uint64_t> append_locked(const append_request& request);

  std::mutex mutex_;
  std::unordered_map<entity_id, std::vector<event_record>> streams_;
  /// The global log: position p is log_[p - 1].
  struct log_entry {
    entity_id entity;
    std::uint64_t version;
    std::string aggregate;
  };
  std::vector<log_entry> log_;
  /// Per entity: the commands it applied, with their versions.
  std::unordered_map<entity_id, std::unordered_map<uuid, std::uint64_t>> commands_;
  struct view_state {
    view_checkpoint checkpoint;
    std::map<std::string, std::vector<std::uint8_t>, std::less<>> rows;
  };
  /// Views by name.
  std::map<std::string, view_state, std::less<>> views_;
};

} // namespace cafes
