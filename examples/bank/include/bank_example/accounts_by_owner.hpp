#pragma once
// A projection of bank accounts: the open accounts of each owner with
// their balances, and the total balance held across all open accounts.

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "cafes/domain/projection.hpp"
#include "cafes/storage/view_reader.hpp"
#include "cafes_samples/bank_account.hpp"

namespace bank_example {

/// One open account.
struct account_row {
  static constexpr std::string_view type_name = "bank.view.account";
  std::string owner;
  std::int64_t balance = 0;
  auto fields() const { return std::tie(owner, balance); }
};

/// Every open account together.
struct totals_row {
  static constexpr std::string_view type_name = "bank.view.totals";
  std::int64_t open_accounts = 0;
  std::int64_t balance = 0;
  auto fields() const { return std::tie(open_accounts, balance); }
};

struct accounts_by_owner {
  static constexpr std::string_view name = "bank.accounts_by_owner";
  static constexpr std::uint32_t version = 1;
  using event = std::variant<cafes_samples::bank::opened, cafes_samples::bank::deposited,
                             cafes_samples::bank::withdrawn, cafes_samples::bank::closed>;
  using row = std::variant<account_row, totals_row>;

  /// Rows: "account/<id>" and "owner/<length>:<owner>/<id>" (an account
  /// row each; the length keeps one owner's prefix from matching another's)
  /// and "totals".
  static void project(cafes::view<row>& view, const event& e, const cafes::event_record& meta);

  /// Returns the key prefix of `owner`'s accounts.
  static std::string owner_prefix(std::string_view owner);
};

/// One owner's open account, as the view shows it.
struct owned_account {
  cafes::entity_id id;
  std::int64_t balance = 0;
};

/// Returns `owner`'s open accounts (by id). Errors: the view's.
cafes::result<std::vector<owned_account>>
accounts_of(const cafes::view_reader<accounts_by_owner>& view, std::string_view owner);

/// Returns the totals over every open account. Errors: the view's.
cafes::result<totals_row> totals(const cafes::view_reader<accounts_by_owner>& view);

} // namespace bank_example
