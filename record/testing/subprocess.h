// Test helpers for running the recorder end to end: start a program, wait
// for it with a deadline (killing it, and its process group, if it does not
// end), and find binaries in the test's runfiles.

#ifndef SLABTRACE_RECORD_TESTING_SUBPROCESS_H_
#define SLABTRACE_RECORD_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slabtrace {

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLoopbackPort();

// $TEST_SRCDIR/slabtrace/<path>.
std::string RunfilePath(const std::string& path);
// A fresh directory under $TEST_TMPDIR.
std::string TestDirectory(const std::string& name);

struct ProcessOptions {
  // stdout and stderr of the child go here ("" = /dev/null).
  std::string output_path;
  // stdin of the child ("" = /dev/null).
  std::string input_path;
  // Runs in the child between fork and exec (e.g. setrlimit).
  std::function<void()> in_child;
};

// Starts argv[0] (a path) in its own process group.
absl::StatusOr<pid_t> StartProcess(const std::vector<std::string>& argv,
                                   const ProcessOptions& options = {});
// Its exit code (128 + signal if killed); kills the group at the deadline
// and returns DeadlineExceeded.
absl::StatusOr<int> WaitProcess(pid_t pid, absl::Duration timeout);
absl::StatusOr<int> RunProcess(const std::vector<std::string>& argv,
                               absl::Duration timeout,
                               const ProcessOptions& options = {});

std::string ReadFileOrEmpty(const std::string& path);

}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_TESTING_SUBPROCESS_H_
