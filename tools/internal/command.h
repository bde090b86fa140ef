// The shape every `slabtrace` subcommand has: it gets its own arguments
// (after the subcommand name) and returns the process exit code. Exit codes:
// 0 success, 1 a check failed (e.g. a threshold), 2 bad input or usage.

#ifndef SLABTRACE_TOOLS_INTERNAL_COMMAND_H_
#define SLABTRACE_TOOLS_INTERNAL_COMMAND_H_

#include <string>
#include <vector>

namespace slabtrace {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitBadInput = 2;

struct Subcommand {
  const char* name;
  const char* summary;  // one line for `slabtrace --help`
  int (*run)(const std::vector<std::string>& args);
};

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_INTERNAL_COMMAND_H_
