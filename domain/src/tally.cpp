#include "cafes/domain/tally.hpp"

namespace cafes::tally {

decision<counter::event> counter::decide(const state&, const command& cmd) {
  const auto& addition = std::get<add>(cmd);
  if (addition.amount <= 0)
    return reject("amount must be positive, got " + std::to_string(addition.amount));
  return std::vector<event>{added{addition.command_id, addition.amount}};
}

state counter::evolve(state current, const event& ev) {
  current.total += std::get<added>(ev).amount;
  ++current.additions;
  return current;
}

} // namespace cafes::tally
