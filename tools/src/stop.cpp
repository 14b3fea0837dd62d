#include "cafes/tools/stop.hpp"

#include <csignal>
#include <signal.h> // sigaction (POSIX)

namespace cafes::tools {

namespace {

// A signal handler may only touch lock-free atomics.
static_assert(std::atomic<bool>::is_always_lock_free);
static_assert(std::atomic<int>::is_always_lock_free);

std::atomic<bool> requested{false};
std::atomic<int> received{0};

extern "C" void on_stop_signal(int signal) {
  received.store(signal);
  requested.store(true);
}

} // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // Once only: a second signal ends the program. Interrupted system calls
  // restart, so no store I/O sees EINTR because of the first one.
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void ignore_file_size_signal() { std::signal(SIGXFSZ, SIG_IGN); }

const std::atomic<bool>& stop_requested() noexcept { return requested; }

int stop_signal() noexcept { return received.load(); }

const char* stop_signal_name() noexcept {
  switch (received.load()) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "";
  }
}

int stopped_exit_code() noexcept { return 128 + received.load(); }

} // namespace cafes::tools
