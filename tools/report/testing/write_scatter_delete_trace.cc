// Writes the scatter-delete fixture trace: write_scatter_delete_trace OUT
// [SLABS] (default 400 slabs of the 1280-byte class).

#include <cstdio>
#include <cstdlib>

#include "tools/report/testing/scatter_delete_trace.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: write_scatter_delete_trace OUT [SLABS]\n");
    return 2;
  }
  const uint32_t slabs =
      argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10))
               : 400;
  const absl::Status status =
      slabtrace::WriteScatterDeleteTrace(argv[1], slabs);
  if (!status.ok()) {
    std::fprintf(stderr, "write_scatter_delete_trace: %s\n",
                 std::string(status.message()).c_str());
    return 2;
  }
  return 0;
}
