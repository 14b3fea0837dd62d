#pragma once
// A bank account: open, deposit, withdraw (refused on insufficient funds),
// close. Amounts are integer cents.
// A sample aggregate (cafes::samples, not installed): examples, tests and
// tools use it; a service defines its own aggregates like it.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>

#include "cafes/domain/aggregate.hpp"

namespace cafes_samples::bank {

// -- events (past tense) ------------------------------------------------------

struct opened {
  static constexpr std::string_view type_name = "bank.opened";
  std::string owner;
  static constexpr std::array field_names{"owner"};
  auto fields() const { return std::tie(owner); }
};

struct deposited {
  static constexpr std::string_view type_name = "bank.deposited";
  std::int64_t amount = 0;
  static constexpr std::array field_names{"amount"};
  auto fields() const { return std::tie(amount); }
};

struct withdrawn {
  static constexpr std::string_view type_name = "bank.withdrawn";
  std::int64_t amount = 0;
  static constexpr std::array field_names{"amount"};
  auto fields() const { return std::tie(amount); }
};

struct closed {
  static constexpr std::string_view type_name = "bank.closed";
  static constexpr std::array<const char*, 0> field_names{};
  auto fields() const { return std::tie(); }
};

// -- commands -----------------------------------------------------------------

struct open {
  static constexpr std::string_view type_name = "bank.open";
  std::string owner;
  static constexpr std::array field_names{"owner"};
  auto fields() const { return std::tie(owner); }
};

struct deposit {
  static constexpr std::string_view type_name = "bank.deposit";
  std::int64_t amount = 0;
  static constexpr std::array field_names{"amount"};
  auto fields() const { return std::tie(amount); }
};

struct withdraw {
  static constexpr std::string_view type_name = "bank.withdraw";
  std::int64_t amount = 0;
  static constexpr std::array field_names{"amount"};
  auto fields() const { return std::tie(amount); }
};

struct close {
  static constexpr std::string_view type_name = "bank.close";
  static constexpr std::array<const char*, 0> field_names{};
  auto fields() const { return std::tie(); }
};

// -- the aggregate -----------------------------------------------------------

struct state {
  bool is_open = false;
  bool is_closed = false;
  std::string owner;
  std::int64_t balance = 0;
  static constexpr std::array field_names{"is_open", "is_closed", "owner", "balance"};
  auto fields() const { return std::tie(is_open, is_closed, owner, balance); }
};

struct account {
  static constexpr std::string_view name = "bank_account";
  using state = bank::state;
  using command = std::variant<open, deposit, withdraw, close>;
  using event = std::variant<opened, deposited, withdrawn, closed>;

  /// Rules: open once, with an owner; amounts must be positive; a withdrawal
  /// may not exceed the balance; only an account with a zero balance can be
  /// closed; nothing happens to a closed account. A command other than open on
  /// an account never opened gives `ec::not_found`; every other refusal
  /// `ec::rejected` with the reason.
  static cafes::decision<event> decide(const state& current, const command& cmd);

  /// Applies one event; no rules.
  static state evolve(state current, const event& ev);
};

} // namespace cafes_samples::bank
