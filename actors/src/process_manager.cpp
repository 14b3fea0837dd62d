#include "cafes/actors/process_manager.hpp"

#include <algorithm>
#include <functional>

#include <caf/all.hpp>

#include "cafes/actors/log.hpp"

#include <spdlog/spdlog.h>

namespace cafes {

process_manager_runner::process_manager_runner(
  application& app, std::shared_ptr<const erased_process_manager> manager,
  process_manager_options options)
  : app_(app), manager_(std::move(manager)), options_(options),
    view_name_("process/" + std::string{manager_->name()}) {
  if (auto bad = check_view_name(view_name_))
    throw cafes_error{*bad};
  options_.batch = std::max<std::size_t>(options_.batch, 1);
  options_.workers = std::max<std::size_t>(options_.workers, 1);
  thread_ = std::thread{[this] { run(); }};
}

process_manager_runner::~process_manager_runner() {
  stopping_ = true;
  thread_.join();
}

bool process_manager_runner::wait_for(std::uint64_t position,
                                      std::chrono::milliseconds timeout) {
  if (position == 0) {
    auto last = app_.store()->last_position();
    if (!last)
      return false;
    position = *last;
  }
  auto until = std::chrono::steady_clock::now() + timeout;
  while (position_.load() < position) {
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return true;
}

std::optional<std::uint64_t> process_manager_runner::react_to(const log_page& page) {
  // One lane per worker; the events of one entity all go to one lane.
  std::vector<std::vector<const event_record*>> lanes(options_.workers);
  for (const auto& record : page.events)
    lanes[std::hash<uuid>{}(record.entity) % lanes.size()].push_back(&record);
  std::vector<std::uint64_t> failed_at(lanes.size(), 0);
  std::vector<std::optional<failure>> why(lanes.size());
  auto run_lane = [&](std::size_t lane) {
    for (const auto* record : lanes[lane]) {
      std::optional<failure> failed;
      if (stopping_)
        failed = failure::make(ec::closing, "the runner is stopping");
      else
        failed = manager_->react(app_, *record);
      if (failed) {
        failed_at[lane] = record->position;
        why[lane] = std::move(failed);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t lane = 1; lane < lanes.size(); ++lane)
    if (!lanes[lane].empty())
      threads.emplace_back(run_lane, lane);
  run_lane(0);
  for (auto& thread : threads)
    thread.join();
  std::optional<std::uint64_t> first_failure;
  for (std::size_t lane = 0; lane < lanes.size(); ++lane) {
    if (failed_at[lane] == 0)
      continue;
    if (!first_failure || failed_at[lane] < *first_failure)
      first_failure = failed_at[lane];
    if (why[lane]->code != ec::closing)
      logger()->warn("process manager '{}': reacting to the event at position {} failed "
                     "({}); it is tried again",
                     manager_->name(), failed_at[lane], to_string(*why[lane]));
  }
  return first_failure;
}

void process_manager_runner::run() {
  auto& store = *app_.store();
  log_filter filter;
  filter.event_types = manager_->event_types();
  std::optional<view_checkpoint> stored;
  caf::scoped_actor self{app_.system(), true};
  // The one wait at the hub in flight, if any: a wait is sent only once the
  // one before it was answered (the hub keeps every waiter until the log
  // moves, so a fresh wait per look would pile them up while idle).
  std::optional<caf::message_id> waiting;
  auto pause = [&] {
    auto until = std::chrono::steady_clock::now() + options_.retry_delay;
    while (!stopping_ && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
  };
  while (!stopping_) {
    if (!stored) {
      auto checkpoint = store.read_view_checkpoint(view_name_);
      if (checkpoint && !*checkpoint) {
        auto reset = store.reset_view(view_name_, 1, std::nullopt);
        if (reset)
          *checkpoint = *reset;
        else if (reset.error().code != ec::conflict)
          checkpoint = std::move(reset).error();
      }
      if (!checkpoint) {
        logger()->warn("process manager '{}': {}", manager_->name(),
                       to_string(checkpoint.error()));
        pause();
        continue;
      }
      if (!*checkpoint)
        continue; // another runner reset it meanwhile: read it again
      stored = **checkpoint;
      position_ = stored->position;
    }
    auto from = position_.load();
    auto page = store.read_all(from, options_.batch, filter);
    if (!page) {
      logger()->warn("process manager '{}': {}", manager_->name(), to_string(page.error()));
      pause();
      continue;
    }
    if (page->events.empty()) {
      if (page->next_after == from) {
        // Everything is read: wait for the next commit (a while at most,
        // to notice a stop).
        if (!waiting)
          waiting = self->request(app_.hub(), caf::infinite, wait_atom::value, from).id();
        caf::blocking_actor::accept_one_cond one;
        self->varargs_receive(one, *waiting, [&](std::uint64_t) { waiting.reset(); },
                              [&](caf::error&) {
                                waiting.reset();
                                pause();
                              },
                              caf::after(std::chrono::milliseconds{100}) >> [] {});
        continue;
      }
      position_ = page->next_after; // a stretch the filter passed over
      continue;
    }
    auto failed_at = react_to(*page);
    auto reached = failed_at ? *failed_at - 1 : page->next_after;
    if (reached > stored->position) {
      auto committed = store.commit_view(view_name_, *stored, reached, {});
      if (!committed) {
        logger()->warn("process manager '{}': {}", manager_->name(),
                       to_string(committed.error()));
        stored.reset(); // read it again: another runner may have moved it
        if (committed.error().code != ec::conflict)
          pause();
        continue;
      }
      stored = *committed;
    }
    position_ = std::max(from, reached);
    if (failed_at)
      pause();
  }
}

} // namespace cafes
