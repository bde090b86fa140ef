#include "tools/internal/command_line.h"

#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tools/internal/command.h"

namespace slabtrace {

CommandLine::CommandLine(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {}

void CommandLine::AddOption(const std::string& name,
                            const std::string& default_value,
                            const std::string& help,
                            const std::string& short_alias) {
  order_.push_back(name);
  specs_[name] = Spec{default_value, help, short_alias, false};
  if (!short_alias.empty()) short_to_long_[short_alias] = name;
}

void CommandLine::AddRepeatedOption(const std::string& name,
                                    const std::string& help,
                                    const std::string& short_alias) {
  AddOption(name, "", help, short_alias);
  specs_[name].repeated = true;
}

void CommandLine::AddFlag(const std::string& name, const std::string& help,
                          const std::string& short_alias) {
  order_.push_back(name);
  specs_[name] = Spec{"false", help, short_alias, true};
  if (!short_alias.empty()) short_to_long_[short_alias] = name;
}

absl::Status CommandLine::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional_.push_back(arg);
      continue;
    }
    std::string name;
    std::string value;
    bool has_value = false;
    if (absl::StartsWith(arg, "--")) {
      std::string body = arg.substr(2);
      size_t eq = body.find('=');
      if (eq != std::string::npos) {
        value = body.substr(eq + 1);
        body = body.substr(0, eq);
        has_value = true;
      }
      name = body;
    } else {
      auto it = short_to_long_.find(arg.substr(1));
      if (it == short_to_long_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option '", arg, "' (see --help)"));
      }
      name = it->second;
    }
    auto spec = specs_.find(name);
    if (spec == specs_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '", arg, "' (see --help)"));
    }
    if (spec->second.is_flag) {
      if (!has_value) value = "true";
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", name, " takes no value or true/false"));
      }
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", name, " needs a value"));
      }
      value = args[++i];
    }
    values_[name].push_back(value);
  }
  return absl::OkStatus();
}

std::optional<int> CommandLine::ParseOrExit(
    const std::vector<std::string>& args) {
  if (absl::Status status = Parse(args); !status.ok()) {
    // "slabtrace replay FILE [options]" -> "slabtrace replay".
    const std::vector<absl::string_view> words =
        absl::StrSplit(usage_, absl::MaxSplits(' ', 2));
    const std::string command =
        words.size() >= 2 ? absl::StrCat(words[0], " ", words[1]) : usage_;
    std::fprintf(stderr, "%s: %s\n", command.c_str(),
                 std::string(status.message()).c_str());
    return kExitBadInput;
  }
  if (help_requested_) {
    std::fputs(HelpText().c_str(), stdout);
    return kExitOk;
  }
  return std::nullopt;
}

std::string CommandLine::HelpText() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n\n", summary_, "\n");
  if (!order_.empty()) absl::StrAppend(&out, "\noptions:\n");
  for (const std::string& name : order_) {
    const Spec& spec = specs_.at(name);
    std::string left = absl::StrCat("  --", name);
    if (!spec.is_flag) absl::StrAppend(&left, "=VALUE");
    if (spec.repeated) absl::StrAppend(&left, " ...");
    if (!spec.short_alias.empty()) {
      left = absl::StrCat("  -", spec.short_alias, ", ", left.substr(2));
    }
    std::string right = spec.help;
    if (!spec.is_flag && !spec.default_value.empty()) {
      absl::StrAppend(&right, " (default: ", spec.default_value, ")");
    }
    absl::StrAppend(&out, absl::StrFormat("%-28s %s\n", left, right));
  }
  return out;
}

const std::string& CommandLine::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.back();
  return specs_.at(name).default_value;
}

std::vector<std::string> CommandLine::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  return {};
}

bool CommandLine::GetFlag(const std::string& name) const {
  return Get(name) == "true";
}

bool CommandLine::Has(const std::string& name) const {
  return values_.count(name) > 0;
}

absl::StatusOr<int64_t> CommandLine::GetInt(const std::string& name) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Get(name), &v)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option --", name, " wants an integer, got '", Get(name), "'"));
  }
  return v;
}

absl::StatusOr<double> CommandLine::GetDouble(const std::string& name) const {
  double v = 0;
  if (!absl::SimpleAtod(Get(name), &v)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option --", name, " wants a number, got '", Get(name), "'"));
  }
  return v;
}

absl::StatusOr<std::vector<std::string>> CommandLine::GetList(
    const std::string& name) const {
  std::vector<std::string> items = absl::StrSplit(Get(name), ',');
  for (const std::string& item : items) {
    if (item.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "option --", name, ": empty element in '", Get(name), "'"));
    }
  }
  return items;
}

}  // namespace slabtrace
