#pragma once
// Process managers: react to events of the global log by sending commands
// to entities, exactly once. A process manager is plain C++:
//
//   struct transfer_manager {
//     static constexpr std::string_view name = "bank.transfers";
//     using event = std::variant<transfer_requested, transfer_debited>;
//     // Nothing: handled. A failure: not handled, the runner tries again.
//     static std::optional<failure> react(process_context& context,
//                                         const event& e, const event_record& meta);
//   };
//
// Every command it sends carries an id derived from the triggering event's
// id and a step name (uuid::name_based), the event's correlation id and, as
// its causation id, the event's id. Its checkpoint is kept in the store (a
// view with no rows). After a crash the runner reacts again to the events
// after its checkpoint; their commands carry the same ids, so an entity
// that applied one answers with the version it got then (idempotent
// commands), and nothing is applied twice.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "cafes/actors/application.hpp"

namespace cafes {

/// What a reaction sees: the triggering event, and commands to send.
class process_context {
public:
  process_context(application& app, const event_record& trigger)
    : app_(&app), trigger_(&trigger) {}

  /// The event being reacted to.
  const event_record& trigger() const noexcept { return *trigger_; }

  /// Returns the id the command of step `step` carries: the same for the
  /// same triggering event and step, in every run.
  uuid command_id(std::string_view step) const {
    return uuid::name_based(trigger_->id, step);
  }

  /// Sends `command` as step `step` to entity `id` of aggregate `A`, at
  /// whatever version it has, and waits for the answer. Returns the
  /// entity's copy after it (a repeat of a step that was applied before is
  /// answered with the current copy; its command_version says which
  /// version the step got). Errors: ec::rejected and ec::not_found (the
  /// domain refused: an outcome to react to); anything else (a timeout, a
  /// storage failure, the application closing) is best returned from
  /// `react`, so that the event is tried again.
  template <aggregate A>
  result<copy<A>> send(const entity_id& id, typename A::command command,
                       std::string_view step) {
    command_ids ids{command_id(step), correlation(), trigger_->id};
    try {
      return app_->entities<A>().execute(id, std::move(command), ids);
    } catch (const cafes_error& error) {
      return error.details();
    }
  }

  /// Returns entity `id`'s copy. Errors: ec::not_found, and as `send`.
  template <aggregate A>
  result<copy<A>> get(const entity_id& id) {
    try {
      return app_->entities<A>().get(id);
    } catch (const cafes_error& error) {
      return error.details();
    }
  }

  /// Returns whether entity `id` has applied the command of step `step`
  /// (for a reaction that must know what a run before a crash did).
  /// Errors: the store's.
  result<bool> applied(const entity_id& id, std::string_view step) {
    auto found = app_->store()->find_command(id, command_id(step));
    if (!found)
      return std::move(found).error();
    return found->has_value();
  }

private:
  uuid correlation() const {
    // A conversation started by a command without ids is named by the event.
    if (!trigger_->correlation_id.is_nil())
      return trigger_->correlation_id;
    return trigger_->command_id.is_nil() ? trigger_->id : trigger_->command_id;
  }

  application* app_;
  const event_record* trigger_;
};

template <class P>
concept process_manager = requires(process_context& context, const typename P::event& event,
                                   const event_record& meta) {
  { P::name } -> std::convertible_to<std::string_view>;
  { P::react(context, event, meta) } -> std::same_as<std::optional<failure>>;
};

/// A type-erased process manager (see `erase_process_manager`).
class erased_process_manager {
public:
  virtual ~erased_process_manager() = default;
  virtual std::string_view name() const = 0;
  virtual std::vector<std::string> event_types() const = 0;
  /// Decodes `record` and reacts to it. Errors: what the reaction
  /// returned; ec::decode_failure for an event that does not decode.
  virtual std::optional<failure> react(application& app, const event_record& record) const = 0;
};

template <process_manager P>
class erased_process_manager_impl final : public erased_process_manager {
public:
  using event_type = typename P::event;

  std::string_view name() const override { return P::name; }

  std::vector<std::string> event_types() const override {
    auto names = type_names<event_type>();
    return {names.begin(), names.end()};
  }

  std::optional<failure> react(application& app, const event_record& record) const override {
    auto event = decode<event_type>(record);
    if (!event)
      return std::move(event).error();
    process_context context{app, record};
    return P::react(context, *event, record);
  }
};

struct process_manager_options {
  /// Most events read per checkpoint: 256.
  std::size_t batch = 256;
  /// Threads reacting at once: 8. The events of one entity always go to
  /// the same thread, in log order (one transfer's steps stay in order);
  /// those of different entities run side by side.
  std::size_t workers = 8;
  /// Wait before trying again an event whose reaction failed: 200 ms.
  std::chrono::milliseconds retry_delay{200};
};

/// Runs one process manager over an application: reads the global log after
/// its checkpoint (stored as view "process/<name>"), reacts to each event,
/// and moves the checkpoint past a batch once every reaction of the batch
/// succeeded. A reaction that fails is retried after `retry_delay` (with
/// the events after it in its batch, which react again idempotently).
/// Stops when destroyed; destroy it before its application.
///
/// Run one runner per process manager and store: the checkpoint is
/// conditional, but two runners would react to one event at the same
/// time, and a reaction that reads state before it acts (as the transfer
/// manager does) relies on being the only one. A reaction that keeps
/// failing holds the runner at that event (a warning each retry): return
/// the domain's refusals as outcomes (the transfer manager records a
/// refused refund as a held transfer), failures only for what passes.
class process_manager_runner {
public:
  /// Starts the runner's thread. Throws cafes_error with
  /// ec::invalid_argument for a name longer than the view names allow.
  process_manager_runner(application& app, std::shared_ptr<const erased_process_manager> manager,
                         process_manager_options options = {});

  /// Stops: the batch being reacted to finishes, its checkpoint may not be
  /// written (a restart reacts to it again, idempotently).
  ~process_manager_runner();

  process_manager_runner(const process_manager_runner&) = delete;
  process_manager_runner& operator=(const process_manager_runner&) = delete;

  /// Returns the position up to which every event has been reacted to.
  std::uint64_t position() const noexcept { return position_.load(); }

  /// Waits until every event up to `position` (0: the log's last position
  /// now) has been reacted to. Returns false when that did not happen
  /// within `timeout`.
  bool wait_for(std::uint64_t position, std::chrono::milliseconds timeout);

private:
  void run();
  /// Reacts to one batch; returns the position reached.
  std::optional<std::uint64_t> react_to(const log_page& page);

  application& app_;
  std::shared_ptr<const erased_process_manager> manager_;
  process_manager_options options_;
  std::string view_name_;
  std::atomic<std::uint64_t> position_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// Returns the shared type-erased view of process manager `P`.
template <process_manager P>
std::shared_ptr<const erased_process_manager> erase_process_manager() {
  static const auto instance = std::make_shared<erased_process_manager_impl<P>>();
  return instance;
}

} // namespace cafes
