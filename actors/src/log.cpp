#include "cafes/actors/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace cafes {

std::shared_ptr<spdlog::logger> logger() {
  static const auto instance = [] {
    if (auto existing = spdlog::get("cafes"))
      return existing;
    auto made = spdlog::stderr_color_mt("cafes");
    made->set_level(spdlog::level::warn);
    return made;
  }();
  return instance;
}

} // namespace cafes
