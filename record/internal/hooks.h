// The second way in: jemalloc's experimental.hooks (record/README.md, "Ways
// in"). Interposition cannot see the calls of a program that carries its own
// jemalloc (linked statically, like upstream Redis with its je_ prefix):
// those never reach a preloaded library. Such a program's jemalloc still
// answers mallctl when it exports it, and its hooks see every call.
//
// ChooseWayIn() runs once while the recorder initialises, after
// recorder.real is resolved: it picks interposition or hooks (auto, or
// SLABTRACE_WAY_IN=interpose|hooks), fills recorder.target and points the
// statistics reader at it. InstallHooks() runs once recording is enabled.

#ifndef SLABTRACE_RECORD_INTERNAL_HOOKS_H_
#define SLABTRACE_RECORD_INTERNAL_HOOKS_H_

namespace slabtrace {
namespace record_internal {

// False when recording must be disabled (a message is on stderr).
bool ChooseWayIn();

// Installs the hooks if ChooseWayIn() chose them; false (with a message on
// stderr) if jemalloc refused.
bool InstallHooks();

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_HOOKS_H_
