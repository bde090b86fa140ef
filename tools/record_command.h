#ifndef SLABTRACE_TOOLS_RECORD_COMMAND_H_
#define SLABTRACE_TOOLS_RECORD_COMMAND_H_

#include <string>
#include <vector>

namespace slabtrace {

// `slabtrace record [-o FILE] [options] -- COMMAND [ARGS...]`: runs COMMAND
// with the recorder preloaded, forwards signals to it, returns its exit
// status (128 + signal when it was killed) and prints a summary of the
// trace to stderr. See record/README.md.
int RunRecord(const std::vector<std::string>& args);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_RECORD_COMMAND_H_
