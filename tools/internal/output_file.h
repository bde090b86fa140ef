// Where a subcommand's result goes: standard output for "" or "-", else the
// named file, replaced whole. One place so that every command reports a
// failed write the same way instead of losing output silently.

#ifndef SLABTRACE_TOOLS_INTERNAL_OUTPUT_FILE_H_
#define SLABTRACE_TOOLS_INTERNAL_OUTPUT_FILE_H_

#include <string>

#include "absl/status/status.h"

namespace slabtrace {

absl::Status WriteOutput(const std::string& path, const std::string& text);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_INTERNAL_OUTPUT_FILE_H_
