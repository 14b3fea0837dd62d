#pragma once
// Translation between cafes failures and CAF errors, and the exceptions the
// synchronous API throws.

#include <stdexcept>

#include <caf/fwd.hpp>

#include "cafes/actors/exceptions.hpp"
#include "cafes/domain/error.hpp"

namespace cafes {

/// Returns a CAF error of category "cafes" carrying all of `f` (message,
/// versions, entity, missed events) as context.
caf::error to_caf_error(const failure& f);

/// Returns the failure inside a "cafes" error; maps CAF's own errors:
/// request_timeout -> ec::timeout, a dead or unreachable receiver ->
/// ec::closing, anything else -> ec::actor_error with CAF's text.
failure to_failure(const caf::error& err);

/// Registers the "cafes" error category so `actor_system::render` prints
/// names and context instead of numbers.
void add_error_category(caf::actor_system_config& config);

} // namespace cafes
