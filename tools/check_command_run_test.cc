// RunCheck end to end on a hand-built trace with known answers: two 1280-
// byte slabs filled, then every other object freed (DSR 0, both pinned).

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/slab_geometry.h"
#include "proto/testing/test_header.h"
#include "proto/trace_writer.h"
#include "tools/check_command.h"
#include "tools/internal/command.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;

std::string WriteScatterTrace() {
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/scatter.slabtrace";
  const TraceHeader header = JemallocTestHeader();
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  EXPECT_TRUE(geometry.ok()) << geometry.status();
  const uint32_t size_class = geometry->ClassForSize(1280);
  const uint64_t slab_size = geometry->slab_size(size_class);
  const uint32_t nregs = geometry->nregs(size_class);
  absl::StatusOr<std::unique_ptr<TraceWriter>> writer =
      TraceWriter::Create(path, header);
  EXPECT_TRUE(writer.ok()) << writer.status();
  uint64_t seq = 0;
  auto append = [&](EventKind kind, uint64_t ptr) {
    Event event;
    event.seq = seq;
    event.time_ns = seq * 100;
    ++seq;
    event.ptr = ptr;
    event.size = kind == EventKind::kAlloc ? 1200 : 0;
    event.size_class = size_class;
    event.kind = kind;
    event.api = kind == EventKind::kAlloc ? AllocApi::kMalloc : AllocApi::kFree;
    EXPECT_TRUE((*writer)->Append(event).ok());
  };
  auto marker = [&](const char* label) {
    Marker m;
    m.set_seq(seq);
    m.set_time_ns(seq * 100);
    m.set_label(label);
    EXPECT_TRUE((*writer)->AddMarker(m).ok());
  };
  const uint64_t base = uint64_t{1} << 32;
  for (uint64_t slab = 0; slab < 2; ++slab) {
    for (uint32_t k = 0; k < nregs; ++k) {
      append(EventKind::kAlloc, base + slab * slab_size + k * 1280);
    }
  }
  marker("written");
  for (uint64_t slab = 0; slab < 2; ++slab) {
    for (uint32_t k = 1; k < nregs; k += 2) {
      append(EventKind::kFree, base + slab * slab_size + k * 1280);
    }
  }
  marker("deleted");
  EXPECT_TRUE((*writer)->Close().ok());
  return path;
}

class RunCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trace_ = new std::string(WriteScatterTrace());
  }
  static int Check(std::vector<std::string> expectations,
                   std::string* out = nullptr) {
    std::vector<std::string> args = {*trace_};
    for (std::string& e : expectations) {
      args.push_back("--expect");
      args.push_back(std::move(e));
    }
    ::testing::internal::CaptureStdout();
    const int code = RunCheck(args);
    const std::string text = ::testing::internal::GetCapturedStdout();
    if (out != nullptr) *out = text;
    return code;
  }
  static std::string* trace_;
};
std::string* RunCheckTest::trace_ = nullptr;

TEST_F(RunCheckTest, AllHold) {
  std::string out;
  EXPECT_EQ(Check({"pinned_slabs@deleted==2", "live_objects@written==32",
                   "live_objects@deleted==16", "dsr@deleted<=0",
                   "stranded_bytes@deleted==20KiB", "inconsistencies==0"},
                  &out),
            kExitOk);
  EXPECT_THAT(out, HasSubstr("6 of 6 expectations hold"));
}

TEST_F(RunCheckTest, ViolationExitsOneWithASentence) {
  std::string out;
  EXPECT_EQ(Check({"dsr@deleted>=0.4", "pinned_slabs@deleted==2"}, &out),
            kExitCheckFailed);
  EXPECT_THAT(
      out, HasSubstr("FAIL dsr at marker 'deleted' is 0.00, expected >= 0.40"));
  EXPECT_THAT(out, HasSubstr("1 of 2 expectations hold"));
}

TEST_F(RunCheckTest, PerClassNeedsNoExtraFlag) {
  EXPECT_EQ(Check({"pinned_slabs[1280]@deleted==2"}), kExitOk);
}

TEST_F(RunCheckTest, BadInputExitsTwo) {
  EXPECT_EQ(Check({"dsr@nope>=0"}), kExitBadInput);
  EXPECT_EQ(Check({"dsr>>0"}), kExitBadInput);
  EXPECT_EQ(Check({}), kExitBadInput);
  EXPECT_EQ(RunCheck({"/nonexistent/x.slabtrace", "--expect", "dsr>=0"}),
            kExitBadInput);
  EXPECT_EQ(RunCheck({*trace_, "--expect=dsr>=0", "--bogus"}), kExitBadInput);
}

// The comparison runs the same stream through the policies: `recorded`
// reproduces the replay, and the clairvoyant `oracle` puts the 16 objects
// that die at "deleted" into one slab, so it drains half of its slabs.
TEST_F(RunCheckTest, PolicyMetricsComeFromTheComparison) {
  std::string out;
  EXPECT_EQ(Check({"pinned_slabs@deleted:recorded==2",
                   "footprint_ratio@deleted:recorded==1",
                   "live_objects@deleted:oracle==16",
                   "pinned_slabs@deleted:oracle==1", "dsr@deleted:oracle==0.5",
                   "footprint_ratio@deleted:oracle==0.5",
                   "pinned_slabs[1280]@deleted:oracle==1",
                   // Both slabs of lcm(4096, 1280) bytes pinned at the peak.
                   "peak_footprint==40KiB"},
                  &out),
            kExitOk)
      << out;
  EXPECT_THAT(out, HasSubstr("8 of 8 expectations hold"));
}

TEST_F(RunCheckTest, PolicyViolationNamesThePolicy) {
  std::string out;
  EXPECT_EQ(Check({"dsr@deleted:recorded>=0.4"}, &out), kExitCheckFailed);
  EXPECT_THAT(out, HasSubstr("FAIL dsr of policy 'recorded' at marker "
                             "'deleted' is 0.00, expected >= 0.40"));
}

TEST_F(RunCheckTest, UnknownPolicyExitsTwo) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Check({"dsr@deleted:nonesuch>=0"}), kExitBadInput);
  EXPECT_EQ(RunCheck({*trace_, "--expect=dsr>=0", "--policies=bogus"}),
            kExitBadInput);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("unknown policy 'nonesuch'"));
}

TEST_F(RunCheckTest, EqualsFormAndHelp) {
  EXPECT_EQ(RunCheck({*trace_, "--expect=live_objects@deleted==16"}), kExitOk);
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunCheck({"--help"}), kExitOk);
  EXPECT_THAT(::testing::internal::GetCapturedStdout(),
              HasSubstr("footprint_ratio"));
}

}  // namespace
}  // namespace slabtrace
