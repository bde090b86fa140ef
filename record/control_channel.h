// The control channel between `slabtrace mark` and a running recording: an
// abstract-namespace unix socket named after the recorded process's pid and
// start time ("slabtrace-record.<pid>.<starttime>", the clock ticks since
// boot of /proc/<pid>/stat), so nothing is left behind on disk, a forked
// child (which records into FILE.<pid>) has its own, and two processes with
// one pid in different PID namespaces that share a network namespace (the
// abstract namespace is per network namespace) do not collide.
//
// Protocol, one exchange per connection: the client sends
// "MARK <label>\n"; the recorder answers "OK <seq>\n" once the marker is in
// the trace (its sequence number), or "ERR <reason>\n". Only clients of the
// same user (or root) are served.

#ifndef SLABTRACE_RECORD_CONTROL_CHANNEL_H_
#define SLABTRACE_RECORD_CONTROL_CHANNEL_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slabtrace {

inline constexpr size_t kMaxMarkerLabel = 200;

// The abstract socket name of pid's recording (without the leading NUL).
std::string ControlSocketName(pid_t pid);

// Field 22 of /proc/<pid>/stat, or 0 when it cannot be read.
uint64_t ProcessStartTime(pid_t pid);

// Listening, non-blocking, close-on-exec socket for this process.
absl::StatusOr<int> ListenOnControlSocket(pid_t pid);

// The label of a request line, or an error for a malformed one.
absl::StatusOr<std::string> ParseMarkRequest(absl::string_view line);

// Asks pid's recorder for a marker and waits for it to be written. NotFound
// when there is no recording in that process.
absl::StatusOr<uint64_t> RequestMarker(pid_t pid, absl::string_view label,
                                       absl::Duration timeout);

}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_CONTROL_CHANNEL_H_
