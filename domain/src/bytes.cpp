#include "cafes/domain/bytes.hpp"

namespace cafes {

void byte_writer::write_raw(const std::uint8_t* data, std::size_t size) {
  out_.insert(out_.end(), data, data + size);
}

} // namespace cafes
