#include "cafes_samples/bank_account.hpp"

#include <limits>

#include "cafes/domain/overloaded.hpp"

using namespace cafes;

namespace cafes_samples::bank {

decision<account::event> account::decide(const state& current,
                                         const command& cmd) {
  using events = std::vector<event>;
  if (!std::holds_alternative<open>(cmd)) {
    if (!current.is_open)
      return does_not_exist("bank account");
    if (current.is_closed)
      return reject("bank account is closed");
  }
  return std::visit(
    overloaded{
      [&](const open& c) -> decision<event> {
        if (current.is_open)
          return reject("bank account is already open");
        if (c.owner.empty())
          return reject("an account needs an owner");
        return events{opened{c.owner}};
      },
      [&](const deposit& c) -> decision<event> {
        if (c.amount <= 0)
          return reject("deposit amount must be positive");
        if (c.amount > std::numeric_limits<std::int64_t>::max() - current.balance)
          return reject("deposit of " + std::to_string(c.amount)
                        + " would overflow the balance of "
                        + std::to_string(current.balance));
        return events{deposited{c.amount}};
      },
      [&](const withdraw& c) -> decision<event> {
        if (c.amount <= 0)
          return reject("withdrawal amount must be positive");
        if (c.amount > current.balance)
          return reject("insufficient funds: balance "
                        + std::to_string(current.balance) + ", requested "
                        + std::to_string(c.amount));
        return events{withdrawn{c.amount}};
      },
      [&](const close&) -> decision<event> {
        if (current.balance != 0)
          return reject("cannot close an account with balance "
                        + std::to_string(current.balance));
        return events{closed{}};
      },
    },
    cmd);
}

namespace {

/// Decisions never store an event that overflows; one that does can only
/// come from damaged data, and replaying it must stay defined behaviour.
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum))
    return sum;
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

std::int64_t saturating_sub(std::int64_t a, std::int64_t b) {
  std::int64_t difference = 0;
  if (!__builtin_sub_overflow(a, b, &difference))
    return difference;
  return b < 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

} // namespace

state account::evolve(state current, const event& ev) {
  std::visit(overloaded{
               [&](const opened& e) {
                 current.is_open = true;
                 current.owner = e.owner;
               },
               [&](const deposited& e) {
                 current.balance = saturating_add(current.balance, e.amount);
               },
               [&](const withdrawn& e) {
                 current.balance = saturating_sub(current.balance, e.amount);
               },
               [&](const closed&) { current.is_closed = true; },
             },
             ev);
  return current;
}

} // namespace cafes_samples::bank
