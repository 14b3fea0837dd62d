#include "cafes_samples/example.hpp"

#include "cafes/domain/overloaded.hpp"

using namespace cafes;

namespace cafes_samples::example {

decision<entity::event> entity::decide(const state& current,
                                       const command& cmd) {
  using events = std::vector<event>;
  return std::visit(
    overloaded{
      [&](const create& c) -> decision<event> {
        if (current.exists)
          return reject("example entity already exists");
        return events{created{c.foo}};
      },
      [&](const change_foo& c) -> decision<event> {
        if (!current.exists)
          return does_not_exist("example entity");
        if (current.discarded)
          return reject("example entity is discarded");
        return events{attribute_changed{"foo", c.foo}};
      },
      [&](const discard&) -> decision<event> {
        if (!current.exists)
          return does_not_exist("example entity");
        if (current.discarded)
          return reject("example entity is discarded");
        return events{discarded{}};
      },
    },
    cmd);
}

state entity::evolve(state current, const event& ev) {
  std::visit(overloaded{
               [&](const created& e) {
                 current.exists = true;
                 current.foo = e.foo;
               },
               [&](const attribute_changed& e) {
                 if (e.name == "foo")
                   current.foo = e.value;
               },
               [&](const discarded&) { current.discarded = true; },
             },
             ev);
  return current;
}

} // namespace cafes_samples::example
