#pragma once
// Runs a built program in a child process, for tests of how it ends: one of
// its output streams is read line by line through a pipe (to know when it is
// under way), the other goes to a file. Signal dispositions are reset to the
// default in the child, so the program alone decides what a signal does.

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace cafes::testing {

class child_process {
public:
  enum class watch { out, err };

  struct settings {
    /// The stream read through the pipe; the other goes to `other_path`.
    watch watched = watch::err;
    std::string other_path = "/dev/null";
    /// A file size limit (RLIMIT_FSIZE) for the child, in bytes.
    std::optional<rlim_t> file_size_limit;
  };

  /// Starts `argv[0]` with `argv`. Throws std::runtime_error if it cannot.
  child_process(std::vector<std::string> argv, settings how) : how_(std::move(how)) {
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    int other = ::open(how_.other_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (other < 0)
      throw std::runtime_error("cannot open " + how_.other_path);
    rlimit limit{};
    ::getrlimit(RLIMIT_FSIZE, &limit);
    if (how_.file_size_limit)
      limit.rlim_cur = std::min(*how_.file_size_limit, limit.rlim_max);
    pid_ = ::fork();
    if (pid_ == 0) { // the child: async-signal-safe calls only until exec
      int piped = how_.watched == watch::out ? STDOUT_FILENO : STDERR_FILENO;
      int filed = how_.watched == watch::out ? STDERR_FILENO : STDOUT_FILENO;
      ::dup2(ends[1], piped);
      ::dup2(other, filed);
      for (int s : {SIGINT, SIGTERM, SIGXFSZ, SIGPIPE})
        ::signal(s, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      if (how_.file_size_limit)
        ::setrlimit(RLIMIT_FSIZE, &limit);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(ends[1]);
    ::close(other);
    read_end_ = ends[0];
    if (pid_ < 0) {
      ::close(read_end_);
      throw std::runtime_error("fork failed");
    }
  }

  ~child_process() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int ignored;
      ::waitpid(pid_, &ignored, 0);
    }
    if (read_end_ >= 0)
      ::close(read_end_);
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Reads the watched stream until a line starting with `prefix`; returns
  /// that line, or std::nullopt if the stream ended first.
  std::optional<std::string> wait_for_line(std::string_view prefix) {
    for (;;) {
      for (auto end = text_.find('\n', next_line_); end != std::string::npos;
           end = text_.find('\n', next_line_)) {
        auto line = text_.substr(next_line_, end - next_line_);
        next_line_ = end + 1;
        if (line.starts_with(prefix))
          return line;
      }
      if (!read_some())
        return std::nullopt;
    }
  }

  /// Sends `signal` to the child.
  void send(int signal) { ::kill(pid_, signal); }

  /// Sends SIGSTOP and returns once the child has stopped: kill() returns
  /// before that, and the child's threads on other cores may run on for a
  /// moment (a frozen-server test once got its answer in that moment).
  /// Returns false if the child ended instead.
  bool freeze() {
    ::kill(pid_, SIGSTOP);
    int status = 0;
    while (::waitpid(pid_, &status, WUNTRACED) < 0 && errno == EINTR)
      ;
    return WIFSTOPPED(status);
  }

  /// Reads the watched stream to its end and waits for the child; returns
  /// its wait status (see WIFEXITED, WEXITSTATUS, WIFSIGNALED).
  int wait() {
    while (read_some())
      ;
    if (!status_) {
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR)
        ;
      status_ = status;
    }
    return *status_;
  }

  /// Everything read from the watched stream so far.
  const std::string& text() const { return text_; }

private:
  bool read_some() {
    char buffer[4096];
    for (;;) {
      auto n = ::read(read_end_, buffer, sizeof buffer);
      if (n > 0) {
        text_.append(buffer, static_cast<std::size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR)
        continue;
      return false;
    }
  }

  settings how_;
  pid_t pid_ = -1;
  int read_end_ = -1;
  std::string text_;
  std::size_t next_line_ = 0; // where the first line not yet looked at starts
  std::optional<int> status_;
};

} // namespace cafes::testing
