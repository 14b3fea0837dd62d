#include "cafes/storage/sharded_store.hpp"

#include <algorithm>
#include <future>
#include <type_traits>

namespace cafes {

namespace {

failure no_global_log(std::string_view what) {
  return failure::make(ec::invalid_argument,
                       std::string{what}
                         + ": a sharded store has no single global log (each shard has its "
                           "own): use the shard's store");
}

} // namespace

result<std::shared_ptr<sharded_store>>
sharded_store::make(std::vector<std::shared_ptr<event_store>> shards) {
  if (shards.empty())
    return failure::make(ec::invalid_argument, "a sharded store needs at least one shard");
  for (const auto& shard : shards)
    if (!shard)
      return failure::make(ec::invalid_argument, "a sharded store's shard is null");
  return std::shared_ptr<sharded_store>{new sharded_store{std::move(shards)}};
}

std::size_t sharded_store::shard_of(const entity_id& entity) const noexcept {
  // The id's own bits (random UUIDs are uniform), never std::hash: every
  // process must agree.
  auto mixed = entity.high ^ (entity.low * 0x9E3779B97F4A7C15ULL);
  return static_cast<std::size_t>(mixed % shards_.size());
}

result<std::uint64_t> sharded_store::append(const append_request& request) {
  return shards_[shard_of(request.entity)]->append(request);
}

template <class Request, class Call>
auto sharded_store::split(std::span<const Request> requests, Call call)
  -> std::vector<typename std::invoke_result_t<Call, event_store&,
                                               std::span<const Request>>::value_type> {
  using answer = typename std::invoke_result_t<Call, event_store&,
                                               std::span<const Request>>::value_type;
  std::vector<std::vector<Request>> by_shard(shards_.size());
  std::vector<std::pair<std::size_t, std::size_t>> where; // shard, index in it
  where.reserve(requests.size());
  for (const auto& request : requests) {
    auto shard = shard_of(request.entity);
    where.emplace_back(shard, by_shard[shard].size());
    by_shard[shard].push_back(request);
  }
  std::vector<std::vector<answer>> answers(shards_.size());
  std::vector<std::future<void>> others;
  std::size_t here = shards_.size();
  for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
    if (by_shard[shard].empty())
      continue;
    if (here == shards_.size()) {
      here = shard; // this thread takes one shard itself
      continue;
    }
    others.push_back(std::async(std::launch::async, [&, shard] {
      answers[shard] = call(*shards_[shard], std::span<const Request>{by_shard[shard]});
    }));
  }
  if (here != shards_.size())
    answers[here] = call(*shards_[here], std::span<const Request>{by_shard[here]});
  for (auto& other : others)
    other.get();
  std::vector<answer> out;
  out.reserve(requests.size());
  for (const auto& [shard, index] : where)
    out.push_back(std::move(answers[shard][index]));
  return out;
}

std::vector<result<std::uint64_t>>
sharded_store::append_batch(std::span<const append_request> requests) {
  if (shards_.size() == 1)
    return shards_[0]->append_batch(requests);
  return split(requests, [](event_store& shard, std::span<const append_request> mine) {
    return shard.append_batch(mine);
  });
}

std::vector<result<std::vector<event_record>>>
sharded_store::read_batch(std::span<const read_request> requests) {
  if (shards_.size() == 1)
    return shards_[0]->read_batch(requests);
  return split(requests, [](event_store& shard, std::span<const read_request> mine) {
    return shard.read_batch(mine);
  });
}

result<std::vector<event_record>> sharded_store::read(const entity_id& entity,
                                                      std::uint64_t from, std::uint64_t to) {
  return shards_[shard_of(entity)]->read(entity, from, to);
}

result<std::uint64_t> sharded_store::head(const entity_id& entity) {
  return shards_[shard_of(entity)]->head(entity);
}

result<std::vector<entity_id>> sharded_store::list_entities(std::optional<entity_id> after,
                                                            std::size_t limit) {
  std::vector<entity_id> out;
  for (const auto& shard : shards_) {
    auto listed = shard->list_entities(after, limit);
    if (!listed)
      return std::move(listed).error();
    out.insert(out.end(), listed->begin(), listed->end());
  }
  std::sort(out.begin(), out.end());
  if (out.size() > limit)
    out.resize(limit);
  return out;
}

result<std::optional<std::uint64_t>> sharded_store::find_command(const entity_id& entity,
                                                                 const uuid& command) {
  return shards_[shard_of(entity)]->find_command(entity, command);
}

result<log_page> sharded_store::read_all(std::uint64_t, std::size_t, const log_filter&) {
  return no_global_log("read_all");
}

result<std::uint64_t> sharded_store::last_position() {
  return no_global_log("last_position");
}

result<std::optional<view_checkpoint>> sharded_store::read_view_checkpoint(std::string_view) {
  return no_global_log("views");
}

result<view_checkpoint> sharded_store::reset_view(std::string_view, std::uint32_t,
                                                  const std::optional<view_checkpoint>&) {
  return no_global_log("views");
}

result<view_checkpoint> sharded_store::commit_view(std::string_view, const view_checkpoint&,
                                                   std::uint64_t,
                                                   std::span<const view_change>) {
  return no_global_log("views");
}

result<std::optional<std::vector<std::uint8_t>>> sharded_store::read_view(std::string_view,
                                                                          std::string_view) {
  return no_global_log("views");
}

result<std::vector<view_row>> sharded_store::scan_view(std::string_view, std::string_view,
                                                       std::string_view, std::size_t) {
  return no_global_log("views");
}

bool sharded_store::appends_wait_for_device() const noexcept {
  return std::any_of(shards_.begin(), shards_.end(),
                     [](const auto& shard) { return shard->appends_wait_for_device(); });
}

} // namespace cafes
