// CommandLine parses one subcommand's arguments: `--name=value`,
// `--name value`, boolean `--name`, short aliases such as `-o`, positional
// arguments, and `--` after which everything is positional (for
// `slabtrace record -- COMMAND ARGS...`). Every subcommand declares its
// options up front so that `--help` lists them and an unknown or malformed
// option is a one-line error rather than a silent default.

#ifndef SLABTRACE_TOOLS_INTERNAL_COMMAND_LINE_H_
#define SLABTRACE_TOOLS_INTERNAL_COMMAND_LINE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace slabtrace {

class CommandLine {
 public:
  // `usage` is the first line of --help, e.g. "slabtrace inspect FILE".
  // `summary` is a paragraph under it.
  CommandLine(std::string usage, std::string summary);

  // Declares an option taking a value, with its default ("" for none).
  void AddOption(const std::string& name, const std::string& default_value,
                 const std::string& help, const std::string& short_alias = "");
  // Declares an option that may be given any number of times; GetAll()
  // returns its values in order.
  void AddRepeatedOption(const std::string& name, const std::string& help,
                         const std::string& short_alias = "");
  // Declares a boolean option (present or absent; `--name=false` works too).
  void AddFlag(const std::string& name, const std::string& help,
               const std::string& short_alias = "");

  // Parses args (without the program and subcommand names). Errors name the
  // offending argument. `--help`/`-h` sets help_requested() instead.
  absl::Status Parse(const std::vector<std::string>& args);

  // Parse() plus what every subcommand does with its outcome: a parse error
  // goes to stderr as "slabtrace CMD: message" and gives kExitBadInput;
  // --help prints HelpText() and gives kExitOk. nullopt: carry on.
  std::optional<int> ParseOrExit(const std::vector<std::string>& args);

  bool help_requested() const { return help_requested_; }
  std::string HelpText() const;

  // The last value given (or the default).
  const std::string& Get(const std::string& name) const;
  // Every value given, in order (repeated options).
  std::vector<std::string> GetAll(const std::string& name) const;
  bool GetFlag(const std::string& name) const;
  // Was the option given explicitly on the command line?
  bool Has(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  absl::StatusOr<double> GetDouble(const std::string& name) const;
  // Comma-separated list; empty elements are an error.
  absl::StatusOr<std::vector<std::string>> GetList(
      const std::string& name) const;

  const std::vector<std::string>& positional() const { return positional_; }

 private:
  struct Spec {
    std::string default_value;
    std::string help;
    std::string short_alias;
    bool is_flag = false;
    bool repeated = false;
  };
  std::string usage_;
  std::string summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> short_to_long_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_INTERNAL_COMMAND_LINE_H_
