#include "tools/report_command.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/internal/command.h"
#include "tools/report/testing/scatter_delete_trace.h"

namespace slabtrace {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ReportCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(WriteScatterDeleteTrace(TempPath("cmd.slabtrace"), 32).ok());
  }
};

TEST_F(ReportCommandTest, WritesTheReportAndIsDeterministic) {
  const std::string trace = TempPath("cmd.slabtrace");
  const std::string a = TempPath("a.html"), b = TempPath("b.html");
  ASSERT_EQ(RunReport({trace, "--policies=recorded,oracle", "-o", a}), kExitOk);
  ASSERT_EQ(RunReport({trace, "--policies", "recorded,oracle", "--output", b}),
            kExitOk);
  const std::string html = ReadFile(a);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("oracle <b>"), std::string::npos);
  EXPECT_TRUE(html == ReadFile(b)) << "two runs differ";
}

TEST_F(ReportCommandTest, NoPoliciesAndAChosenClass) {
  const std::string out = TempPath("none.html");
  ASSERT_EQ(RunReport({TempPath("cmd.slabtrace"), "--policies=none",
                       "--class=64", "-o", out}),
            kExitOk);
  EXPECT_NE(ReadFile(out).find("<option value=\"4\" selected>"),
            std::string::npos);
}

TEST_F(ReportCommandTest, BadInputExitsTwo) {
  const std::string trace = TempPath("cmd.slabtrace");
  const std::string out = TempPath("bad.html");
  EXPECT_EQ(RunReport({}), kExitBadInput);
  EXPECT_EQ(RunReport({TempPath("missing.slabtrace"), "-o", out}),
            kExitBadInput);
  EXPECT_EQ(RunReport({trace, "--class=1000", "-o", out}), kExitBadInput);
  EXPECT_EQ(RunReport({trace, "--policies=bogus", "-o", out}), kExitBadInput);
  EXPECT_EQ(RunReport({trace, "--points=1", "-o", out}), kExitBadInput);
  EXPECT_EQ(RunReport({trace, "--no-such-option"}), kExitBadInput);
  EXPECT_EQ(RunReport({trace, "-o", "/nonexistent-dir/x.html"}), kExitBadInput);
  // A file that is not a trace.
  const std::string junk = TempPath("junk.slabtrace");
  std::ofstream(junk) << "not a trace";
  EXPECT_EQ(RunReport({junk, "-o", out}), kExitBadInput);
}

TEST_F(ReportCommandTest, HelpExitsZero) {
  EXPECT_EQ(RunReport({"--help"}), kExitOk);
}

}  // namespace
}  // namespace slabtrace
