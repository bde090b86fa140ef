// libFuzzer target: any bytes given to TraceReader::OpenBuffer must give a
// status or a stream of records, never a crash, a hang or a huge
// allocation. proto/README.md ("Fuzzing") has the clang build and run
// commands. //proto:trace_reader_fuzz_corpus_test runs the same entry point
// over the seed corpus with the ordinary toolchain.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "proto/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reader = slabtrace::TraceReader::OpenBuffer(
      "fuzz.slabtrace",
      absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!reader.ok()) return 0;
  slabtrace::TraceRecord record;
  uint64_t checksum = 0;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok() || !*more) break;
    for (const slabtrace::Event& e : record.events) {
      checksum += e.ptr ^ e.slab ^ e.size ^ e.time_ns;
    }
    if (record.marker != nullptr) checksum += record.marker->seq();
  }
  // Use the result so the decoding cannot be optimised away.
  return checksum == 1 && (*reader)->warnings().size() == 12345 ? 1 : 0;
}
