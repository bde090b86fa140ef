#include "record/control_channel.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace slabtrace {
namespace {

TEST(ControlChannelTest, SocketNameCarriesPidAndStartTime) {
  const uint64_t start_time = ProcessStartTime(getpid());
  EXPECT_GT(start_time, 0u);
  EXPECT_EQ(ControlSocketName(getpid()),
            absl::StrCat("slabtrace-record.", getpid(), ".", start_time));
}

TEST(ControlChannelTest, StartTimeOfNoProcessIsZero) {
  EXPECT_EQ(ProcessStartTime(0), 0u);  // /proc/0 does not exist.
}

TEST(ControlChannelTest, ParsesStartTimeAfterACommandNameWithSpaces) {
  // A process whose comm holds ") (" must still yield field 22: run one.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    execl("/bin/sh", ") ( x", "-c", "sleep 5", static_cast<char*>(nullptr));
    _exit(127);
  }
  // The child's start time is at or after ours (ticks since boot).
  uint64_t start_time = 0;
  for (int i = 0; i < 100 && start_time == 0; ++i) {
    usleep(10000);
    start_time = ProcessStartTime(child);
  }
  EXPECT_GE(start_time, ProcessStartTime(getpid()));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST(ControlChannelTest, MarkerRequestToAPidWithoutRecordingIsNotFound) {
  const absl::StatusOr<uint64_t> seq =
      RequestMarker(getpid(), "label", absl::Seconds(1));
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kNotFound) << seq.status();
}

TEST(ControlChannelTest, ListenerAndClientAgreeOnTheName) {
  absl::StatusOr<int> fd = ListenOnControlSocket(getpid());
  ASSERT_TRUE(fd.ok()) << fd.status();
  // Nobody answers on the listening socket, so the request times out
  // rather than finding no socket.
  const absl::StatusOr<uint64_t> seq =
      RequestMarker(getpid(), "label", absl::Milliseconds(200));
  EXPECT_NE(seq.status().code(), absl::StatusCode::kNotFound) << seq.status();
  close(*fd);
}

}  // namespace
}  // namespace slabtrace
