#pragma once
// A money transfer between two bank accounts, and the process manager that
// carries it out: withdraw from the source, deposit to the target; when
// the target refuses (closed, unknown), refund the source.
//
//   requested --withdrawn--> debited --deposited--> completed
//       |                       |----refused, refunded----> refunded
//       |                       `----refused, refund refused (the source
//       |                            closed meanwhile)----> held
//       `--source refused (insufficient funds, closed)--> rejected
//
// A held transfer keeps the amount, out of every account, for an operator:
// money is never lost silently, and the manager is not stuck retrying.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>

#include "cafes/actors/process_manager.hpp"
#include "cafes/domain/aggregate.hpp"

namespace bank_example {

// -- events ---------------------------------------------------------------------

struct transfer_requested {
  static constexpr std::string_view type_name = "transfer.requested";
  cafes::entity_id from;
  cafes::entity_id to;
  std::int64_t amount = 0;
  static constexpr std::array field_names{"from", "to", "amount"};
  auto fields() const { return std::tie(from, to, amount); }
};

struct transfer_debited {
  static constexpr std::string_view type_name = "transfer.debited";
  static constexpr std::array<const char*, 0> field_names{};
  auto fields() const { return std::tie(); }
};

struct transfer_completed {
  static constexpr std::string_view type_name = "transfer.completed";
  static constexpr std::array<const char*, 0> field_names{};
  auto fields() const { return std::tie(); }
};

struct transfer_refunded {
  static constexpr std::string_view type_name = "transfer.refunded";
  std::string reason;
  static constexpr std::array field_names{"reason"};
  auto fields() const { return std::tie(reason); }
};

struct transfer_held {
  static constexpr std::string_view type_name = "transfer.held";
  std::string reason;
  static constexpr std::array field_names{"reason"};
  auto fields() const { return std::tie(reason); }
};

struct transfer_rejected {
  static constexpr std::string_view type_name = "transfer.rejected";
  std::string reason;
  static constexpr std::array field_names{"reason"};
  auto fields() const { return std::tie(reason); }
};

// -- commands -------------------------------------------------------------------

struct request_transfer {
  static constexpr std::string_view type_name = "transfer.request";
  cafes::entity_id from;
  cafes::entity_id to;
  std::int64_t amount = 0;
  static constexpr std::array field_names{"from", "to", "amount"};
  auto fields() const { return std::tie(from, to, amount); }
};
struct record_debit {
  static constexpr std::string_view type_name = "transfer.record_debit";
  static constexpr std::array<const char*, 0> field_names{};
  auto fields() const { return std::tie(); }
};
struct record_completion {
  static constexpr std::string_view type_name = "transfer.record_completion";
  static constexpr std::array<const char*, 0> field_names{};
  auto fields() const { return std::tie(); }
};
struct record_refund {
  static constexpr std::string_view type_name = "transfer.record_refund";
  std::string reason;
  static constexpr std::array field_names{"reason"};
  auto fields() const { return std::tie(reason); }
};
struct record_rejection {
  static constexpr std::string_view type_name = "transfer.record_rejection";
  std::string reason;
  static constexpr std::array field_names{"reason"};
  auto fields() const { return std::tie(reason); }
};
struct record_hold {
  static constexpr std::string_view type_name = "transfer.record_hold";
  std::string reason;
  static constexpr std::array field_names{"reason"};
  auto fields() const { return std::tie(reason); }
};

// -- the aggregate --------------------------------------------------------------

enum class transfer_status { none, requested, debited, completed, refunded, held, rejected };

/// Returns "requested", "completed", ...
std::string_view to_string(transfer_status status) noexcept;

struct transfer_state {
  transfer_status status = transfer_status::none;
  cafes::entity_id from;
  cafes::entity_id to;
  std::int64_t amount = 0;
  std::string reason; // why it was refunded, held or rejected
  static constexpr std::array field_names{"status", "from", "to", "amount", "reason"};
  auto fields() const { return std::tie(status, from, to, amount, reason); }
};

struct transfer {
  static constexpr std::string_view name = "bank_transfer";
  using state = transfer_state;
  using command = std::variant<request_transfer, record_debit, record_completion,
                               record_refund, record_hold, record_rejection>;
  using event = std::variant<transfer_requested, transfer_debited, transfer_completed,
                             transfer_refunded, transfer_held, transfer_rejected>;

  /// A transfer is requested once (positive amount, two different
  /// accounts); each later step only from the state before it.
  static cafes::decision<event> decide(const state& current, const command& cmd);
  static state evolve(state current, const event& ev);
};

/// The process manager of transfers.
struct transfer_manager {
  static constexpr std::string_view name = "bank.transfers";
  using event = std::variant<transfer_requested, transfer_debited>;

  static std::optional<cafes::failure> react(cafes::process_context& context, const event& e,
                                             const cafes::event_record& meta);
};

/// Returns whether a transfer in `status` has ended (completed, refunded,
/// held or rejected).
bool ended(transfer_status status) noexcept;

/// Waits until transfer `id` has ended, as `manager` reacts to its events,
/// for at most `timeout`. Returns its state then (not ended: timed out).
/// Throws cafes_error as the repository does (ec::not_found for a
/// transfer never requested).
transfer_state await_transfer(cafes::application& app, cafes::process_manager_runner& manager,
                              const cafes::entity_id& id, std::chrono::milliseconds timeout);

} // namespace bank_example
