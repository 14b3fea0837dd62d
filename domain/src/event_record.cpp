#include "cafes/domain/event_record.hpp"

#include <chrono>

namespace cafes {

std::int64_t now_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch())
    .count();
}

} // namespace cafes
