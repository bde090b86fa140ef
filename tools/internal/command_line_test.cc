#include "tools/internal/command_line.h"

#include <optional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/internal/command.h"

namespace slabtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

CommandLine MakeCommandLine() {
  CommandLine cl("slabtrace test FILE", "A test.");
  cl.AddOption("every", "0", "sweep every N events");
  cl.AddOption("out", "", "output file", "o");
  cl.AddFlag("by-class", "per size class");
  return cl;
}

TEST(CommandLineTest, ParsesEveryForm) {
  CommandLine cl = MakeCommandLine();
  ASSERT_TRUE(cl.Parse({"a", "--every=5", "-o", "x", "--by-class", "--",
                        "--every", "b"})
                  .ok());
  EXPECT_EQ(*cl.GetInt("every"), 5);
  EXPECT_EQ(cl.Get("out"), "x");
  EXPECT_TRUE(cl.GetFlag("by-class"));
  EXPECT_TRUE(cl.Has("every"));
  EXPECT_THAT(cl.positional(), ElementsAre("a", "--every", "b"));
}

TEST(CommandLineTest, DefaultsApply) {
  CommandLine cl = MakeCommandLine();
  ASSERT_TRUE(cl.Parse({"a"}).ok());
  EXPECT_EQ(*cl.GetInt("every"), 0);
  EXPECT_FALSE(cl.GetFlag("by-class"));
  EXPECT_FALSE(cl.Has("every"));
}

TEST(CommandLineTest, RejectsUnknownAndMalformed) {
  CommandLine cl = MakeCommandLine();
  EXPECT_THAT(std::string(cl.Parse({"--nope"}).message()),
              HasSubstr("unknown option '--nope'"));
  CommandLine missing = MakeCommandLine();
  EXPECT_THAT(std::string(missing.Parse({"--every"}).message()),
              HasSubstr("needs a value"));
  CommandLine bad_int = MakeCommandLine();
  ASSERT_TRUE(bad_int.Parse({"--every=x"}).ok());
  EXPECT_FALSE(bad_int.GetInt("every").ok());
}

TEST(CommandLineTest, HelpListsOptions) {
  CommandLine cl = MakeCommandLine();
  ASSERT_TRUE(cl.Parse({"--help"}).ok());
  EXPECT_TRUE(cl.help_requested());
  EXPECT_THAT(cl.HelpText(), HasSubstr("-o, --out=VALUE"));
  EXPECT_THAT(cl.HelpText(), HasSubstr("(default: 0)"));
}

TEST(CommandLineTest, ParseOrExitSaysWhatToDo) {
  CommandLine ok = MakeCommandLine();
  EXPECT_EQ(ok.ParseOrExit({"a"}), std::nullopt);
  CommandLine help = MakeCommandLine();
  testing::internal::CaptureStdout();
  EXPECT_EQ(help.ParseOrExit({"--help"}), kExitOk);
  EXPECT_THAT(testing::internal::GetCapturedStdout(),
              HasSubstr("usage: slabtrace test FILE"));
  CommandLine bad = MakeCommandLine();
  testing::internal::CaptureStderr();
  EXPECT_EQ(bad.ParseOrExit({"--nope"}), kExitBadInput);
  EXPECT_THAT(testing::internal::GetCapturedStderr(),
              HasSubstr("slabtrace test: unknown option '--nope'"));
}

TEST(CommandLineTest, RepeatedOptionKeepsEveryValue) {
  CommandLine cl("u", "s");
  cl.AddRepeatedOption("expect", "an expectation");
  ASSERT_TRUE(cl.Parse({"--expect", "a>1", "x", "--expect=b<2"}).ok());
  EXPECT_THAT(cl.GetAll("expect"), ElementsAre("a>1", "b<2"));
  EXPECT_EQ(cl.Get("expect"), "b<2");
  EXPECT_THAT(cl.positional(), ElementsAre("x"));
}

TEST(CommandLineTest, GetListSplitsAndRejectsEmpty) {
  CommandLine cl("u", "s");
  cl.AddOption("policies", "a,b", "");
  ASSERT_TRUE(cl.Parse({}).ok());
  EXPECT_THAT(*cl.GetList("policies"), ElementsAre("a", "b"));
  CommandLine bad("u", "s");
  bad.AddOption("policies", "", "");
  ASSERT_TRUE(bad.Parse({"--policies=a,,b"}).ok());
  EXPECT_FALSE(bad.GetList("policies").ok());
}

}  // namespace
}  // namespace slabtrace
