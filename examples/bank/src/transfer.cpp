#include "bank_example/transfer.hpp"

#include "cafes/domain/overloaded.hpp"
#include "cafes_samples/bank_account.hpp"

namespace bank_example {

using namespace cafes;
using namespace cafes_samples;

std::string_view to_string(transfer_status status) noexcept {
  switch (status) {
    case transfer_status::none: return "none";
    case transfer_status::requested: return "requested";
    case transfer_status::debited: return "debited";
    case transfer_status::completed: return "completed";
    case transfer_status::refunded: return "refunded";
    case transfer_status::held: return "held";
    case transfer_status::rejected: return "rejected";
  }
  return "unknown";
}

bool ended(transfer_status status) noexcept {
  return status == transfer_status::completed || status == transfer_status::refunded
         || status == transfer_status::held || status == transfer_status::rejected;
}

transfer_state await_transfer(application& app, process_manager_runner& manager,
                              const entity_id& id, std::chrono::milliseconds timeout) {
  auto transfers = app.entities<transfer>();
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto state = transfers.get(id).state;
    if (ended(state.status) || std::chrono::steady_clock::now() >= until)
      return state;
    // Its next step is appended by the manager: wait until it has reacted
    // to everything committed now, then look again.
    manager.wait_for(0, std::chrono::milliseconds{10});
  }
}

decision<transfer::event> transfer::decide(const state& current, const command& cmd) {
  using events = std::vector<event>;
  auto expect = [&](transfer_status wanted, std::string_view step) -> std::optional<failure> {
    if (current.status == transfer_status::none)
      return does_not_exist("transfer");
    if (current.status != wanted)
      return reject("cannot " + std::string{step} + " a transfer that is "
                    + std::string{to_string(current.status)});
    return std::nullopt;
  };
  return std::visit(
    overloaded{
      [&](const request_transfer& c) -> decision<event> {
        if (current.status != transfer_status::none)
          return reject("the transfer was requested before");
        if (c.amount <= 0)
          return reject("a transfer amount must be positive");
        if (c.from == c.to)
          return reject("a transfer needs two different accounts");
        return events{transfer_requested{c.from, c.to, c.amount}};
      },
      [&](const record_debit&) -> decision<event> {
        if (auto refused = expect(transfer_status::requested, "debit"))
          return *refused;
        return events{transfer_debited{}};
      },
      [&](const record_completion&) -> decision<event> {
        if (auto refused = expect(transfer_status::debited, "complete"))
          return *refused;
        return events{transfer_completed{}};
      },
      [&](const record_refund& c) -> decision<event> {
        if (auto refused = expect(transfer_status::debited, "refund"))
          return *refused;
        return events{transfer_refunded{c.reason}};
      },
      [&](const record_hold& c) -> decision<event> {
        if (auto refused = expect(transfer_status::debited, "hold"))
          return *refused;
        return events{transfer_held{c.reason}};
      },
      [&](const record_rejection& c) -> decision<event> {
        if (auto refused = expect(transfer_status::requested, "reject"))
          return *refused;
        return events{transfer_rejected{c.reason}};
      },
    },
    cmd);
}

transfer::state transfer::evolve(state current, const event& ev) {
  std::visit(overloaded{
               [&](const transfer_requested& e) {
                 current.status = transfer_status::requested;
                 current.from = e.from;
                 current.to = e.to;
                 current.amount = e.amount;
               },
               [&](const transfer_debited&) { current.status = transfer_status::debited; },
               [&](const transfer_completed&) { current.status = transfer_status::completed; },
               [&](const transfer_refunded& e) {
                 current.status = transfer_status::refunded;
                 current.reason = e.reason;
               },
               [&](const transfer_held& e) {
                 current.status = transfer_status::held;
                 current.reason = e.reason;
               },
               [&](const transfer_rejected& e) {
                 current.status = transfer_status::rejected;
                 current.reason = e.reason;
               },
             },
             ev);
  return current;
}

namespace {

/// A refusal by the domain: an outcome of the step, not a failure to retry.
bool refused(const failure& f) {
  return f.code == ec::rejected || f.code == ec::not_found;
}

/// Records `command` on the transfer; a refusal means a step was recorded
/// before (this event is being reacted to again): nothing more to do.
std::optional<failure> record(process_context& context, transfer::command command,
                              std::string_view step) {
  auto recorded = context.send<transfer>(context.trigger().entity, std::move(command), step);
  if (!recorded && !refused(recorded.error()))
    return recorded.error();
  return std::nullopt;
}

} // namespace

std::optional<failure> transfer_manager::react(process_context& context, const event& e,
                                               const event_record& meta) {
  // What this transfer's steps have done so far: a reaction that runs
  // again after a crash picks up where the first one stopped.
  auto current = context.get<transfer>(meta.entity);
  if (!current)
    return current.error();
  const auto& t = current->state;
  return std::visit(
    overloaded{
      [&](const transfer_requested&) -> std::optional<failure> {
        if (t.status != transfer_status::requested)
          return std::nullopt; // reacted to before
        auto withdrawn = context.send<bank::account>(t.from, bank::withdraw{t.amount},
                                                     "withdraw");
        if (!withdrawn) {
          if (!refused(withdrawn.error()))
            return withdrawn.error();
          return record(context, record_rejection{withdrawn.error().message}, "reject");
        }
        return record(context, record_debit{}, "debit");
      },
      [&](const transfer_debited&) -> std::optional<failure> {
        if (t.status != transfer_status::debited)
          return std::nullopt; // reacted to before
        // A refund made by an earlier run decides the outcome: the target
        // must not get the money as well.
        auto refunded = context.applied(t.from, "refund");
        if (!refunded)
          return refunded.error();
        std::string reason = "refunded before a restart";
        if (!*refunded) {
          auto deposited = context.send<bank::account>(t.to, bank::deposit{t.amount},
                                                       "deposit");
          if (deposited)
            return record(context, record_completion{}, "complete");
          if (!refused(deposited.error()))
            return deposited.error();
          reason = deposited.error().message;
          auto refund = context.send<bank::account>(t.from, bank::deposit{t.amount}, "refund");
          if (!refund) {
            if (!refused(refund.error()))
              return refund.error();
            // Both accounts refuse it: the transfer holds the money.
            return record(context,
                          record_hold{reason + "; the refund was refused too: "
                                      + refund.error().message},
                          "hold");
          }
        }
        return record(context, record_refund{reason}, "mark refunded");
      },
    },
    e);
}

} // namespace bank_example
