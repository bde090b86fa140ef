#include "record/control_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace slabtrace {
namespace {

socklen_t FillAddress(pid_t pid, sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  const std::string name = ControlSocketName(pid);
  // sun_path[0] == 0: Linux abstract namespace.
  std::memcpy(address->sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 +
                                name.size());
}

}  // namespace

std::string ControlSocketName(pid_t pid) {
  return absl::StrCat("slabtrace-record.", pid, ".", ProcessStartTime(pid));
}

uint64_t ProcessStartTime(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buffer[1024];
  const ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
  close(fd);
  if (n <= 0) return 0;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // fields are counted from the last ')'; starttime is field 22.
  const absl::string_view stat(buffer, static_cast<size_t>(n));
  const size_t comm_end = stat.rfind(')');
  if (comm_end == absl::string_view::npos) return 0;
  const std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(comm_end + 1), ' ', absl::SkipEmpty());
  constexpr size_t kStartTime = 22 - 3;  // fields[0] is field 3, the state.
  uint64_t start_time = 0;
  if (fields.size() <= kStartTime ||
      !absl::SimpleAtoi(fields[kStartTime], &start_time)) {
    return 0;
  }
  return start_time;
}

absl::StatusOr<int> ListenOnControlSocket(pid_t pid) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(strerror(errno));
  sockaddr_un address;
  const socklen_t length = FillAddress(pid, &address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(fd, 8) != 0) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat(
        "control socket @", ControlSocketName(pid), ": ", strerror(error)));
  }
  return fd;
}

absl::StatusOr<std::string> ParseMarkRequest(absl::string_view line) {
  line = absl::StripSuffix(line, "\n");
  if (!absl::ConsumePrefix(&line, "MARK ") || line.empty()) {
    return absl::InvalidArgumentError("expected 'MARK <label>'");
  }
  if (line.size() > kMaxMarkerLabel) {
    return absl::InvalidArgumentError(
        absl::StrCat("label longer than ", kMaxMarkerLabel, " bytes"));
  }
  if (line.find('\n') != absl::string_view::npos) {
    return absl::InvalidArgumentError("label contains a newline");
  }
  return std::string(line);
}

absl::StatusOr<uint64_t> RequestMarker(pid_t pid, absl::string_view label,
                                       absl::Duration timeout) {
  if (label.empty() || label.size() > kMaxMarkerLabel ||
      label.find('\n') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("marker label must be 1..",
                                                   kMaxMarkerLabel,
                                                   " bytes without newlines"));
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(strerror(errno));
  sockaddr_un address;
  const socklen_t length = FillAddress(pid, &address);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    close(fd);
    return absl::NotFoundError(
        absl::StrCat("no slabtrace recording in process ", pid));
  }
  const std::string request = absl::StrCat("MARK ", label, "\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("process ", pid, ": cannot send the marker request"));
  }
  std::string reply;
  const absl::Time deadline = absl::Now() + timeout;
  while (!absl::StrContains(reply, "\n")) {
    pollfd waiting = {fd, POLLIN, 0};
    const int left_ms =
        static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left_ms <= 0 || poll(&waiting, 1, left_ms) <= 0) {
      close(fd);
      return absl::DeadlineExceededError(absl::StrCat(
          "process ", pid, ": no answer to the marker request within ",
          absl::FormatDuration(timeout)));
    }
    char buffer[256];
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  absl::string_view answer = absl::StripSuffix(reply, "\n");
  uint64_t seq = 0;
  if (absl::ConsumePrefix(&answer, "OK ") && absl::SimpleAtoi(answer, &seq)) {
    return seq;
  }
  absl::ConsumePrefix(&answer, "ERR ");
  return absl::FailedPreconditionError(
      absl::StrCat("process ", pid, ": recorder refused the marker: ",
                   answer.empty() ? "connection closed" : answer));
}

}  // namespace slabtrace
