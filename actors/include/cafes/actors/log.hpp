#pragma once
// The named spdlog logger "cafes". Register your own logger under that name
// before starting an application to send cafes' messages elsewhere; otherwise
// one is made that writes warnings and errors to stderr.

#include <memory>

namespace spdlog {
class logger;
} // namespace spdlog

namespace cafes {

/// Returns the "cafes" logger (never null).
std::shared_ptr<spdlog::logger> logger();

} // namespace cafes
