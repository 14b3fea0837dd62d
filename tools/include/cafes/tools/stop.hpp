#pragma once
// Stopping a long run cleanly on SIGINT or SIGTERM, and living through a
// file size limit, for the programs in tools/ and bench/.

#include <atomic>

namespace cafes::tools {

/// Installs handlers for SIGINT and SIGTERM that only record the signal in
/// lock-free atomics (see stop_requested); each handler then reverts to the
/// default, so a second Ctrl-C ends the program at once. Call once, at the
/// start of main.
void install_stop_handlers();

/// Ignores SIGXFSZ, which by default kills a process that writes past its
/// file size limit (RLIMIT_FSIZE, `ulimit -f`): the write then fails with
/// EFBIG, which the store reports as ec::storage_failure like a full disk.
/// Call once, at the start of main, before opening a store.
void ignore_file_size_signal();

/// True once SIGINT or SIGTERM arrived: start no new work, finish and report.
const std::atomic<bool>& stop_requested() noexcept;

/// The signal that asked to stop (SIGINT or SIGTERM); 0 if none did.
int stop_signal() noexcept;

/// "SIGINT", "SIGTERM", or "" if no signal asked to stop.
const char* stop_signal_name() noexcept;

/// The exit code of a program stopped by a signal, as a shell reports one
/// killed by it: 128 + stop_signal() (130 for SIGINT, 143 for SIGTERM).
int stopped_exit_code() noexcept;

} // namespace cafes::tools
