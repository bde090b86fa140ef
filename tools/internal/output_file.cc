#include "tools/internal/output_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace slabtrace {

absl::Status WriteOutput(const std::string& path, const std::string& text) {
  const bool to_stdout = path.empty() || path == "-";
  FILE* out = to_stdout ? stdout : std::fopen(path.c_str(), "wb");
  if (out == nullptr) {
    return absl::UnavailableError(
        absl::StrCat(path, ": cannot write: ", std::strerror(errno)));
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), out) == text.size();
  ok = (to_stdout ? std::fflush(out) : std::fclose(out)) == 0 && ok;
  if (!ok) {
    return absl::UnavailableError(
        absl::StrCat(to_stdout ? "standard output" : path,
                     ": cannot write: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace slabtrace
