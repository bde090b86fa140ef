// malloc_free_loop [PAIRS] [WORK] [USABLE]
//
// The recorder's cost per call, without Redis and its network in the way:
// PAIRS times, free a random one of 4,096 live blocks, malloc a new one of
// 8-207 bytes, write it, then spin WORK rounds of arithmetic (the
// application's own work between calls; 400 is about 450 ns here). Prints
// per malloc/free pair: wall time, the CPU time of this (the only
// application) thread, and the CPU time of every other thread of the
// process, which under `slabtrace record` is the recorder's writer. CPU
// time is steadier than wall time on a shared machine. USABLE 1 also asks
// malloc_usable_size of each block after its malloc and before its free,
// as Redis's zmalloc does for its memory accounting.

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

uint64_t WallNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000u +
         static_cast<uint64_t>(t.tv_nsec);
}

double CpuSeconds(int who) {
  rusage r;
  getrusage(who, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  const long pairs = argc > 1 ? std::atol(argv[1]) : 4000000;
  const long work = argc > 2 ? std::atol(argv[2]) : 400;
  const long usable = argc > 3 ? std::atol(argv[3]) : 0;
  if (pairs <= 0 || work < 0 || (usable != 0 && usable != 1)) {
    std::fprintf(
        stderr,
        "usage: malloc_free_loop [PAIRS > 0] [WORK >= 0] [USABLE 0|1]\n");
    return 2;
  }
  volatile size_t accounted = 0;  // what zmalloc's used_memory would be.
  constexpr int kLive = 4096;
  static void* blocks[kLive];
  uint64_t x = 88172645463325252ull;  // xorshift64
  volatile uint64_t sink = 0;
  const double process0 = CpuSeconds(RUSAGE_SELF);
  const double thread0 = CpuSeconds(RUSAGE_THREAD);
  const uint64_t wall0 = WallNs();
  for (long i = 0; i < pairs; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const int k = static_cast<int>(x % kLive);
    if (usable != 0 && blocks[k] != nullptr) {
      accounted = accounted - malloc_usable_size(blocks[k]);
    }
    std::free(blocks[k]);
    const size_t size = 8 + (x >> 20) % 200;
    char* block = static_cast<char*>(std::malloc(size));
    if (usable != 0) accounted = accounted + malloc_usable_size(block);
    std::memset(block, static_cast<int>(i), size);
    blocks[k] = block;
    uint64_t h = static_cast<uint64_t>(i);
    for (long w = 0; w < work; ++w) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
    }
    sink = h;
  }
  const uint64_t wall1 = WallNs();
  const double thread1 = CpuSeconds(RUSAGE_THREAD);
  const double process1 = CpuSeconds(RUSAGE_SELF);
  for (void* block : blocks) std::free(block);
  (void)sink;  // written only so that the work is done.
  const double n = static_cast<double>(pairs);
  std::printf(
      "%.1f ns/pair wall, %.1f ns/pair this thread's CPU, %.1f ns/pair other "
      "threads' CPU\n",
      static_cast<double>(wall1 - wall0) / n, (thread1 - thread0) * 1e9 / n,
      ((process1 - process0) - (thread1 - thread0)) * 1e9 / n);
  return 0;
}
