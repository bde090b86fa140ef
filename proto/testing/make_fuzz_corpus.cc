// Writes the seed corpus of proto/trace_reader_fuzz.cc into a directory
// (testdata/fuzz/trace_reader). Small files: a tiny geometry keeps headers
// short so the fuzzer spends its time in chunks.
//
//   bazel run //proto:make_fuzz_corpus -- $PWD/testdata/fuzz/trace_reader

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "proto/testing/redis_like_stream.h"
#include "proto/testing/test_header.h"
#include "proto/testing/trace_items.h"

namespace slabtrace {
namespace {

TraceHeader TinyHeader() {
  TraceHeader header;
  header.set_page_size(4096);
  header.set_time_resolution_ns(1000);
  header.set_allocator("jemalloc");
  const uint64_t sizes[] = {8, 16, 48, 1280, 16384};
  for (uint32_t i = 0; i < 5; ++i) {
    SizeClass* c = header.add_size_classes();
    c->set_index(i);
    c->set_size(sizes[i]);
    if (i < 4) {
      const uint64_t slab = sizes[i] == 48     ? 12288
                            : sizes[i] == 1280 ? 20480
                                               : 4096;
      c->set_slab_size(slab);
      c->set_nregs(static_cast<uint32_t>(slab / sizes[i]));
    }
  }
  header.set_nbins(4);
  return header;
}

bool Save(const std::string& dir, const std::string& name,
          const std::string& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const TraceHeader tiny = TinyHeader();
  TraceWriterOptions small_chunks;
  small_chunks.events_per_chunk = 16;
  bool ok = true;

  const auto random = RandomTraceItems(1, 60, tiny);
  const std::string random_trace = *WriteTrace(random, tiny, small_chunks);
  ok &= Save(dir, "random_small_chunks.slabtrace", random_trace);
  ok &= Save(dir, "no_trailer.slabtrace",
             *WriteTrace(random, tiny, small_chunks, /*close=*/false));
  ok &= Save(dir, "cut_in_chunk.slabtrace",
             random_trace.substr(0, random_trace.size() * 2 / 3));
  std::string flipped = random_trace;
  flipped[flipped.size() / 2] ^= 0x10;
  ok &= Save(dir, "flipped_byte.slabtrace", flipped);
  ok &= Save(dir, "single_event.slabtrace",
             *WriteTrace(RandomTraceItems(2, 1, tiny), tiny, {}));
  ok &= Save(dir, "empty_stream.slabtrace", *WriteTrace({}, tiny, {}));

  // Redis-like events over the full jemalloc geometry.
  const TraceHeader full = JemallocTestHeader();
  RedisLikeStream stream(full, {.seed = 5});
  std::vector<TraceItem> redis(200);
  for (TraceItem& item : redis) stream.Next(&item.event);
  TraceItem marker;
  marker.is_marker = true;
  marker.marker.set_seq(100);
  marker.marker.set_label("half");
  marker.marker.mutable_stats()->set_allocated(12345);
  redis.insert(redis.begin() + 100, marker);
  TraceWriterOptions options;
  options.events_per_chunk = 64;
  ok &= Save(dir, "redis_like.slabtrace", *WriteTrace(redis, full, options));

  ok &= Save(dir, "not_a_trace.txt", "hello, I am not a trace\n");
  if (!ok) {
    std::fprintf(stderr, "make_fuzz_corpus: cannot write into %s\n",
                 dir.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace slabtrace

int main(int argc, char** argv) { return slabtrace::Main(argc, argv); }
