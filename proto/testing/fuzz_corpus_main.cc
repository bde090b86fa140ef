// Runs LLVMFuzzerTestOneInput over every file named on the command line, so
// CI exercises a fuzz target's seed corpus with the ordinary compiler.
// Fails when no file is given or one cannot be read.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_FILE...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                           bytes.size());
    // Every prefix too: the corpus is small, and truncation is where
    // readers break.
    for (size_t cut = 0; cut < bytes.size(); cut += 1 + bytes.size() / 512) {
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                             cut);
    }
  }
  std::printf("ran %d corpus files\n", argc - 1);
  return 0;
}
