#include "bank_example/accounts_by_owner.hpp"

#include "cafes/domain/overloaded.hpp"

namespace bank_example {

using namespace cafes;
using namespace cafes_samples;

std::string accounts_by_owner::owner_prefix(std::string_view owner) {
  return "owner/" + std::to_string(owner.size()) + ":" + std::string{owner} + "/";
}

void accounts_by_owner::project(view<row>& view, const event& e, const event_record& meta) {
  const auto account_key = "account/" + to_string(meta.entity);
  auto totals = view.get("totals");
  auto sums = totals ? std::get<totals_row>(*totals) : totals_row{};
  auto stored = view.get(account_key);
  auto account = stored ? std::get<account_row>(*stored) : account_row{};
  auto save = [&] {
    view.put(account_key, account);
    view.put(owner_prefix(account.owner) + to_string(meta.entity), account);
  };
  std::visit(overloaded{
               [&](const bank::opened& opened) {
                 account = account_row{opened.owner, 0};
                 ++sums.open_accounts;
                 save();
               },
               [&](const bank::deposited& deposited) {
                 account.balance += deposited.amount;
                 sums.balance += deposited.amount;
                 save();
               },
               [&](const bank::withdrawn& withdrawn) {
                 account.balance -= withdrawn.amount;
                 sums.balance -= withdrawn.amount;
                 save();
               },
               [&](const bank::closed&) {
                 --sums.open_accounts;
                 sums.balance -= account.balance; // 0: only empty accounts close
                 view.erase(account_key);
                 view.erase(owner_prefix(account.owner) + to_string(meta.entity));
               },
             },
             e);
  view.put("totals", sums);
}

result<std::vector<owned_account>> accounts_of(const view_reader<accounts_by_owner>& view,
                                               std::string_view owner) {
  std::vector<owned_account> out;
  const auto prefix = accounts_by_owner::owner_prefix(owner);
  std::string after;
  for (;;) {
    auto rows = view.scan(prefix, after, 1'000);
    if (!rows)
      return std::move(rows).error();
    if (rows->empty())
      return out;
    for (const auto& [key, row] : *rows) {
      auto id = uuid::parse(std::string_view{key}.substr(prefix.size()));
      const auto* account = std::get_if<account_row>(&row);
      if (!id || !account)
        return failure::make(ec::decode_failure,
                             "view '" + std::string{accounts_by_owner::name}
                               + "': row '" + key + "' is not an account of its owner");
      out.push_back({*id, account->balance});
    }
    after = rows->back().first;
  }
}

result<totals_row> totals(const view_reader<accounts_by_owner>& view) {
  auto row = view.get("totals");
  if (!row)
    return std::move(row).error();
  if (!*row)
    return totals_row{};
  if (const auto* sums = std::get_if<totals_row>(&**row))
    return *sums;
  return failure::make(ec::decode_failure, "view '" + std::string{accounts_by_owner::name}
                                             + "': row 'totals' is not a totals row");
}

} // namespace bank_example
