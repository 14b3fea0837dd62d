#include "cafes/actors/errors.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "cafes/actors/type_ids.hpp"

namespace cafes {

namespace {

const caf::atom_value category = caf::atom("cafes");

} // namespace

caf::error to_caf_error(const failure& f) {
  return caf::make_error(f.code, f.message, f.expected_version, f.actual_version, f.entity,
                         f.missed_events);
}

failure to_failure(const caf::error& err) {
  if (!err)
    return failure{};
  if (err.category() == category) {
    failure out;
    out.code = static_cast<ec>(err.code());
    const auto& context = err.context();
    if (context.match_elements<std::string, std::uint64_t, std::uint64_t, entity_id,
                               std::vector<event_record>>()) {
      out.message = context.get_as<std::string>(0);
      out.expected_version = context.get_as<std::uint64_t>(1);
      out.actual_version = context.get_as<std::uint64_t>(2);
      out.entity = context.get_as<entity_id>(3);
      out.missed_events = context.get_as<std::vector<event_record>>(4);
    } else {
      out.message = "an error of code " + std::string{to_string(out.code)}
                    + " without its details (" + to_string(context) + ")";
    }
    return out;
  }
  if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::request_timeout)
      return failure::make(ec::timeout, "no answer in time (" + to_string(err) + ")");
    if (code == caf::sec::request_receiver_down || code == caf::sec::invalid_argument)
      return failure::make(ec::closing,
                           "the receiving actor is gone (" + to_string(err) + ")");
  }
  return failure::make(ec::actor_error, "the actor runtime reported " + to_string(err));
}

void add_error_category(caf::actor_system_config& config) {
  config.add_error_category(
    category, [](std::uint8_t code, caf::atom_value, const caf::message& context) {
      failure f;
      f.code = static_cast<ec>(code);
      if (context.size() > 0 && context.match_element<std::string>(0))
        f.message = context.get_as<std::string>(0);
      return "cafes." + to_string(f);
    });
}

void throw_failure(failure f) {
  if (f.code == ec::conflict)
    throw concurrency_error{std::move(f)};
  throw cafes_error{std::move(f)};
}

} // namespace cafes
