// Fuzz target: the actor protocol's decoders (protocol_codec.hpp), which read
// the bytes of a command or a state that another actor, or another process,
// sent: decode_command and decode_state, typed and through the erased
// aggregates as an entity actor and a caller use them.
// Input: kind (1 byte: even = a command, odd = a state) | schema version (1
// byte) | type name (u32 little-endian length, then the bytes) | payload
// (rest).
// Invariants: a command is known to at most one sample aggregate; a decoded
// command or state re-encodes to the same type name, payload bytes and schema
// version (the encoding is canonical); the erased decoders agree with the
// typed ones; a refused command is invalid_argument (not this aggregate's
// type, or another schema version) or decode_failure (bad payload), and
// either names the aggregate; a refused state is decode_failure naming it.

#include <string>
#include <variant>

#include "cafes/domain/erased_aggregate.hpp"
#include "cafes/domain/protocol_codec.hpp"
#include "cafes_samples/bank_account.hpp"
#include "cafes_samples/example.hpp"
#include "cafes_samples/tally.hpp"

#include "check.hpp"

using namespace cafes;
using namespace cafes_samples;

namespace {

void check_same(const encoded_event& again, const encoded_event& message) {
  FUZZ_CHECK(again.type == message.type);
  FUZZ_CHECK(again.payload == message.payload);
  FUZZ_CHECK(again.schema_version == message.schema_version);
}

void check_names(const failure& problem, std::string_view aggregate) {
  FUZZ_CHECK(problem.message.find(std::string{aggregate}) != std::string::npos);
}

/// Returns 1 when aggregate `A` decoded `message` as one of its commands.
template <aggregate A>
int command_of(const encoded_command& message) {
  auto typed = decode_command<typename A::command>(message, A::name);
  auto erased = erase<A>()->decode_command(message);
  FUZZ_CHECK(typed.ok() == erased.ok());
  if (!typed) {
    const auto& problem = typed.error();
    FUZZ_CHECK(problem.code == ec::invalid_argument || problem.code == ec::decode_failure);
    FUZZ_CHECK(erased.error().code == problem.code);
    check_names(problem, A::name);
    return 0;
  }
  check_same(encode_command(*typed), message);
  return 1;
}

/// Checks aggregate `A`'s state decoder on `message`.
template <aggregate A>
void state_of(const encoded_state& message) {
  auto erased_aggregate = erase<A>();
  auto typed = decode_state<typename A::state>(message, A::name);
  auto erased = erased_aggregate->decode_state(message);
  FUZZ_CHECK(typed.ok() == erased.ok());
  if (!typed) {
    FUZZ_CHECK(typed.error().code == ec::decode_failure);
    FUZZ_CHECK(erased.error().code == ec::decode_failure);
    check_names(typed.error(), A::name);
    return;
  }
  FUZZ_CHECK(message.type == A::name);
  check_same(encode_state(*typed, A::name), message);
  check_same(erased_aggregate->encode_state(*erased), message);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2)
    return 0;
  bool is_state = (data[0] & 1) != 0;
  encoded_event message;
  message.schema_version = data[1];
  byte_reader reader{data + 2, size - 2};
  if (!reader.read(message.type))
    return 0;
  message.payload = reader.read_rest();
  if (is_state) {
    state_of<bank::account>(message);
    state_of<example::entity>(message);
    state_of<tally::counter>(message);
  } else {
    int known = command_of<bank::account>(message) + command_of<example::entity>(message)
                + command_of<tally::counter>(message);
    FUZZ_CHECK(known <= 1);
  }
  return 0;
}
