#include "cafes_samples/tally.hpp"

#include <limits>

using namespace cafes;

namespace cafes_samples::tally {

decision<counter::event> counter::decide(const state& current, const command& cmd) {
  const auto& addition = std::get<add>(cmd);
  if (addition.amount <= 0)
    return reject("amount must be positive, got " + std::to_string(addition.amount));
  if (addition.amount > std::numeric_limits<std::int64_t>::max() - current.total)
    return reject("adding " + std::to_string(addition.amount) + " would overflow the total of "
                  + std::to_string(current.total));
  return std::vector<event>{added{addition.command_id, addition.amount}};
}

state counter::evolve(state current, const event& ev) {
  // Decisions never store an overflowing addition; one from damaged data
  // saturates rather than overflow (undefined behaviour).
  std::int64_t sum = 0;
  current.total = __builtin_add_overflow(current.total, std::get<added>(ev).amount, &sum)
                    ? std::numeric_limits<std::int64_t>::max()
                    : sum;
  ++current.additions;
  return current;
}

} // namespace cafes_samples::tally
