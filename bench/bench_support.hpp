#pragma once
// Small helpers of the benchmark: scratch directories, stores, medians, and
// a driver that spawns many entity actors.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <random>
#include <stdexcept>
#include <vector>

#include <caf/all.hpp>

#include "cafes/actors/application.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/stop.hpp"
#include "cafes/tools/stress.hpp"

namespace cafes::bench {

/// Thrown where a measurement notices a stop signal: no result is kept.
struct stopped {};

/// Throws `stopped` once SIGINT or SIGTERM arrived.
inline void stop_point() {
  if (tools::stop_requested())
    throw stopped{};
}

class scratch_dir {
public:
  scratch_dir()
    : path_(std::filesystem::temp_directory_path()
            / ("cafes-bench-" + to_string(uuid::random()))) {}
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

inline std::shared_ptr<event_store> open_store(const std::string& path, bool sync) {
  rocksdb_options options;
  options.path = path;
  options.sync = sync;
  auto store = rocksdb_store::open(options);
  if (!store)
    throw std::runtime_error(store.error().message);
  return std::move(*store);
}

inline std::shared_ptr<event_store> open_memory_store() {
  rocksdb_options options;
  options.in_memory = true;
  options.sync = false;
  return std::move(*rocksdb_store::open(options));
}

inline double median(std::vector<double> values) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  auto mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Sends a get for `count` distinct new ids (1,000 outstanding at a time),
/// so each spawns an entity actor that replays an empty history; returns when
/// all have answered, or when those sent have after a stop signal
/// (tools::stop_requested).
inline void spawn_entities(caf::actor_system& system,
                           const std::vector<registry_actor>& registries,
                           std::uint64_t count) {
  std::promise<void> finished;
  auto done = finished.get_future();
  system.spawn([&registries, count, &finished](caf::event_based_actor* self) {
    auto next = std::make_shared<std::uint64_t>(0);
    auto answered = std::make_shared<std::uint64_t>(0);
    auto send_one = std::make_shared<std::function<void()>>();
    *send_one = [=, &registries, &finished] {
      auto id = stress::entity_of(99, (*next)++);
      auto on_answer = [=, &finished] {
        ++*answered;
        if (*next < count && !tools::stop_requested()) {
          (*send_one)();
        } else if (*answered == *next) { // the last one outstanding
          *send_one = nullptr; // it holds itself: break the cycle
          finished.set_value();
          self->quit();
        }
      };
      self->request(registries[shard_of(id, registries.size())], caf::infinite,
                    caf::get_atom::value, id)
        .then([=](entity_snapshot&) { on_answer(); }, [=](caf::error&) { on_answer(); });
    };
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(1000, count); ++i)
      (*send_one)();
  });
  done.wait();
}

} // namespace cafes::bench
