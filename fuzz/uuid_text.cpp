// Fuzz target: the text form of UUIDs (ids typed on a command line or, soon,
// received from the network).
// Input: text for uuid::parse; its first 16 bytes, when there are that many,
// also give a UUID to print.
// Invariants: text that parses is the canonical form of the UUID it gives, up
// to letter case; the printed form of any UUID, lower or upper case, parses
// back to it.

#include <string>

#include "cafes/domain/bytes.hpp"
#include "cafes/domain/uuid.hpp"

#include "check.hpp"

using namespace cafes;

namespace {

enum class letters { lower, upper };

/// Returns `text` with its ASCII letters in `to` case (no locale involved).
std::string with_case(std::string_view text, letters to) {
  std::string out{text};
  for (auto& c : out) {
    if (to == letters::lower && c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (to == letters::upper && c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = fuzz::as_text(data, size);
  if (auto id = uuid::parse(text))
    FUZZ_CHECK(to_string(*id) == with_case(text, letters::lower));

  byte_reader reader{data, size};
  uuid id;
  if (!reader.read(id))
    return 0;
  auto printed = to_string(id);
  FUZZ_CHECK(uuid::parse(printed) == id);
  FUZZ_CHECK(uuid::parse(with_case(printed, letters::upper)) == id);
  return 0;
}
