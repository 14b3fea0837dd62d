#pragma once
// Every CAF atom, message type and the error category of cafes, in one place.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include "cafes/actors/messages.hpp"
#include "cafes/domain/error.hpp"
#include "cafes/domain/event_record.hpp"
#include "cafes/storage/event_store.hpp"

namespace cafes {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, uuid& x) {
  return f(caf::meta::type_name("cafes.uuid"), x.high, x.low);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_record& x) {
  return f(caf::meta::type_name("cafes.event_record"), x.entity, x.version,
           x.id, x.type, x.payload, x.timestamp_ns, x.position, x.command_id,
           x.correlation_id, x.causation_id, x.schema_version);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_request& x) {
  return f(caf::meta::type_name("cafes.append_request"), x.entity,
           x.expected_version, x.events, x.aggregate);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, encoded_event& x) {
  return f(caf::meta::type_name("cafes.encoded_event"), x.type, x.payload, x.schema_version);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, awaited_projection& x) {
  return f(caf::meta::type_name("cafes.awaited_projection"), x.name, x.runner);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, command_envelope& x) {
  return f(caf::meta::type_name("cafes.command_envelope"), x.command, x.expected_version,
           x.command_id, x.correlation_id, x.causation_id, x.await_projections,
           x.await_timeout, x.answer_with_events);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entity_snapshot& x) {
  return f(caf::meta::type_name("cafes.entity_snapshot"), x.id, x.version, x.state,
           x.command_version, x.events);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_stats& x) {
  return f(caf::meta::type_name("cafes.registry_stats"), x.resident,
           x.peak_resident, x.spawned, x.passivated);
}

} // namespace cafes

CAF_BEGIN_TYPE_ID_BLOCK(cafes, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(cafes, (cafes::uuid))
  CAF_ADD_TYPE_ID(cafes, (cafes::event_record))
  CAF_ADD_TYPE_ID(cafes, (std::vector<cafes::event_record>))
  CAF_ADD_TYPE_ID(cafes, (cafes::append_request))
  CAF_ADD_TYPE_ID(cafes, (cafes::registry_stats))
  CAF_ADD_ATOM(cafes, cafes, append_atom, "append")
  CAF_ADD_ATOM(cafes, cafes, read_atom, "read")
  CAF_ADD_ATOM(cafes, cafes, head_atom, "head")
  CAF_ADD_ATOM(cafes, cafes, execute_atom, "execute")
  CAF_ADD_ATOM(cafes, cafes, passivate_atom, "passivate")
  CAF_ADD_ATOM(cafes, cafes, stop_atom, "stop")
  CAF_ADD_ATOM(cafes, cafes, stats_atom, "stats")
  CAF_ADD_ATOM(cafes, cafes, delay_atom, "delay")
  CAF_ADD_ATOM(cafes, cafes, fire_atom, "fire")
  CAF_ADD_ATOM(cafes, cafes, decide_atom, "decide")
  CAF_ADD_ATOM(cafes, cafes, appended_atom, "appended")
  CAF_ADD_ATOM(cafes, cafes, wait_atom, "wait")
  CAF_ADD_ATOM(cafes, cafes, log_events_atom, "logevents")
  CAF_ADD_ATOM(cafes, cafes, next_atom, "next")
  // Added after the atoms: appending keeps every earlier id (nodes of
  // different builds agree on them).
  CAF_ADD_TYPE_ID(cafes, (cafes::encoded_event))
  CAF_ADD_TYPE_ID(cafes, (cafes::awaited_projection))
  CAF_ADD_TYPE_ID(cafes, (cafes::command_envelope))
  CAF_ADD_TYPE_ID(cafes, (cafes::entity_snapshot))
CAF_END_TYPE_ID_BLOCK(cafes)

// Two-argument form: the one-argument form turns the enum name into an atom.
CAF_ERROR_CODE_ENUM(cafes::ec, "cafes")
