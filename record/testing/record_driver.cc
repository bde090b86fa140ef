// The `record` and `mark` subcommands of `slabtrace` on their own, so the
// recorder's tests do not depend on every other subcommand building.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/mark_command.h"
#include "tools/record_command.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "record") == 0) {
    return slabtrace::RunRecord(
        std::vector<std::string>(argv + 2, argv + argc));
  }
  if (argc >= 2 && std::strcmp(argv[1], "mark") == 0) {
    return slabtrace::RunMark(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "usage: record_driver (record|mark) ...\n");
  return 2;
}
