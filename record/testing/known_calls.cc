// known_calls EXPECTATIONS_FILE [--churn=N] [--forever] [--pid-file=F]
//
// A program with a known sequence of allocator calls, for the recorder's
// tests. Phase 1 (main thread, between two sentinel mallocs of 11111 and
// 22222 bytes) calls every API once or more and writes one line per
// expected event: "<kind> <api> <ptr> <size> <usable>". Phase 2 runs 8
// threads that use only mallocx/rallocx/sdallocx (which nothing else in the
// process calls), free each other's blocks and grow realloc chains; it
// writes "count <api>[.<outcome>] <n>" lines with its exact call counts.
// Then two bursts of back-to-back malloc/free pairs 100 ms apart, for the
// recorder's timestamps: "timing <pairs> <size1> <size2> <burst1 ns> <gap
// ns> <burst2 ns>", measured with CLOCK_MONOTONIC around them.
// --churn=N adds N malloc/free pairs; --forever churns until killed.
// --fork forks a child that allocates three blocks of 33333 bytes, frees
// them and exits; the parent waits for it.
//
// Output is written with write(2) from a fixed buffer so that the program's
// own bookkeeping allocates nothing inside phase 1. Only meaningful under
// the recorder: without it, glibc's pvalloc/reallocarray would hand glibc
// blocks to jemalloc.

#include <fcntl.h>
#include <jemalloc/jemalloc.h>
#include <malloc.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

char out_buffer[1 << 16];
size_t out_length = 0;

void Line(const char* format, ...) __attribute__((format(printf, 1, 2)));
void Line(const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = vsnprintf(out_buffer + out_length, sizeof(out_buffer) - out_length,
                    format, args);
  va_end(args);
  if (n > 0) out_length += static_cast<size_t>(n);
}

// `size` of a free: what the caller passed (sized delete, sdallocx), else 0.
// `usable` 0: not known (a block freed already).
void ExpectLine(const char* kind, const char* api, void* ptr, size_t size,
                size_t usable) {
  Line("%s %s %llu %zu %zu\n", kind, api,
       static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(ptr)), size,
       usable);
}

void Expect(const char* kind, const char* api, void* ptr, size_t size) {
  ExpectLine(kind, api, ptr, size,
             std::strcmp(kind, "free") == 0 ? 0 : malloc_usable_size(ptr));
}

// The free of a block still live, whose usable size the line can carry.
void ExpectFree(const char* api, void* ptr, size_t size_passed) {
  ExpectLine("free", api, ptr, size_passed, malloc_usable_size(ptr));
}

// Keeps the compiler from eliding a malloc/free pair it can see through.
void Escape(void* ptr) { asm volatile("" : : "r"(ptr) : "memory"); }

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 +
         static_cast<uint64_t>(ts.tv_nsec);
}

uintptr_t Address(void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

void Realloc(const char* api, uintptr_t old_ptr, void* new_ptr, size_t size) {
  if (Address(new_ptr) == old_ptr) {
    Expect("resize", api, new_ptr, size);
  } else {
    Expect("alloc", api, new_ptr, size);
    Expect("free", api, reinterpret_cast<void*>(old_ptr), 0);
  }
}

void PhaseOne() {
  void* begin = malloc(11111);
  Escape(begin);
  void* p1 = malloc(100);
  Expect("alloc", "malloc", p1, 100);
  void* p2 = calloc(10, 20);
  Expect("alloc", "calloc", p2, 200);
  const uintptr_t a1 = Address(p1);
  void* p3 = realloc(p1, 104);  // same 112-byte class: in place
  Realloc("realloc", a1, p3, 104);
  const uintptr_t a3 = Address(p3);
  void* p4 = realloc(p3, 5000);  // another class: moves
  Realloc("realloc", a3, p4, 5000);
  void* p5 = reallocarray(nullptr, 10, 30);
  Expect("alloc", "reallocarray", p5, 300);
  void* p6 = nullptr;
  if (posix_memalign(&p6, 64, 200) != 0) std::abort();
  Expect("alloc", "posix_memalign", p6, 200);
  void* p7 = aligned_alloc(256, 512);
  Expect("alloc", "aligned_alloc", p7, 512);
  void* p8 = memalign(128, 300);
  Expect("alloc", "memalign", p8, 300);
  void* p9 = valloc(1000);
  Expect("alloc", "valloc", p9, 1000);
  void* p10 = pvalloc(100);
  Expect("alloc", "pvalloc", p10, 100);
  void* p11 = mallocx(700, 0);
  Expect("alloc", "mallocx", p11, 700);
  const uintptr_t a11 = Address(p11);
  void* p12 = rallocx(p11, 4000, 0);
  Realloc("rallocx", a11, p12, 4000);
  size_t usable = xallocx(p12, 4096, 0, 0);
  if (usable >= 4096) Expect("resize", "xallocx", p12, 4096);
  // Large blocks that may grow in place (into free pages after them): the
  // event then takes its ticket after the call.
  int xallocx_in_place = usable >= 4096 ? 1 : 0;
  void* big = malloc(64 << 10);
  Expect("alloc", "malloc", big, 64 << 10);
  if (xallocx(big, 96 << 10, 0, 0) >= (96 << 10)) {
    Expect("resize", "xallocx", big, 96 << 10);
    ++xallocx_in_place;
  }
  // A block that grew in place is freed from its grown class.
  void* grown = malloc(64 << 10);
  Expect("alloc", "malloc", grown, 64 << 10);
  const size_t grown_usable = xallocx(grown, 128 << 10, 0, 0);
  if (grown_usable >= (128 << 10)) {
    ExpectLine("resize", "xallocx", grown, 128 << 10, grown_usable);
    ++xallocx_in_place;
  }
  ExpectLine("free", "free", grown, 0, grown_usable);
  free(grown);
  Line("count xallocx.in_place %d\n", xallocx_in_place);
  const uintptr_t a_big = Address(big);
  void* bigger = realloc(big, 160 << 10);
  Realloc("realloc", a_big, bigger, 160 << 10);
  // p3 above stayed in place too.
  Line("count realloc.in_place %d\n", Address(bigger) == a_big ? 2 : 1);
  ExpectFree("free", bigger, 0);
  free(bigger);
  void* n1 = ::operator new(24);
  Expect("alloc", "operator_new", n1, 24);
  void* n2 = ::operator new[](48);
  Expect("alloc", "operator_new_array", n2, 48);
  void* n3 = ::operator new(64, std::align_val_t(64));
  Expect("alloc", "operator_new", n3, 64);
  void* n4 = ::operator new(32, std::nothrow);
  Expect("alloc", "operator_new", n4, 32);
  void* n5 = ::operator new[](80, std::align_val_t(32), std::nothrow);
  Expect("alloc", "operator_new_array", n5, 80);
  ExpectFree("operator_delete", n1, 24);
  ::operator delete(n1, 24);
  ExpectFree("operator_delete_array", n2, 0);
  ::operator delete[](n2);
  ExpectFree("operator_delete", n3, 0);
  ::operator delete(n3, std::align_val_t(64));
  ExpectFree("operator_delete", n4, 0);
  ::operator delete(n4, std::nothrow);
  ExpectFree("operator_delete_array", n5, 80);
  ::operator delete[](n5, 80, std::align_val_t(32));
  void* volatile null_pointer = nullptr;
  free(null_pointer);  // counted as free.null, no event
  volatile size_t huge_size = SIZE_MAX / 2;
  void* huge = malloc(huge_size);  // fails: malloc.failed, no event
  Escape(huge);
  if (huge != nullptr) std::abort();
  ExpectFree("dallocx", p12, 0);
  dallocx(p12, 0);
  ExpectFree("sdallocx", p9, 1000);
  sdallocx(p9, 1000, 0);
  const uintptr_t a10 = Address(p10);
  void* gone = realloc(p10, 0);  // jemalloc 5.3 frees and returns NULL
  if (gone == nullptr) {
    Expect("free", "realloc", reinterpret_cast<void*>(a10), 0);
  } else {
    Realloc("realloc", a10, gone, 0);
    free(gone);
  }
  for (void* p : {p2, p4, p5, p6, p7, p8}) {
    ExpectFree("free", p, 0);
    free(p);
  }
  free(begin);
  void* end = malloc(22222);
  Escape(end);
  free(end);
}

// Phase two: exact counts of the APIs only this phase uses.
struct Counts {
  std::atomic<uint64_t> mallocx{0}, rallocx{0}, moved{0}, in_place{0},
      sdallocx{0};
};
Counts counts;

struct Block {
  void* ptr;
  size_t size;
};

struct Mailbox {
  std::mutex mutex;
  std::vector<Block> blocks;
};

constexpr int kThreads = 8;
constexpr int kBlocksPerThread = 1500;

void Worker(int index, Mailbox* mailboxes, std::atomic<int>* done) {
  Mailbox& mine = mailboxes[index];
  Mailbox& next = mailboxes[(index + 1) % kThreads];
  auto drain = [&] {
    std::vector<Block> blocks;
    {
      std::lock_guard<std::mutex> lock(mine.mutex);
      blocks.swap(mine.blocks);
    }
    for (const Block& block : blocks) {
      sdallocx(block.ptr, block.size, 0);  // a block another thread made
      counts.sdallocx++;
    }
  };
  for (int i = 0; i < kBlocksPerThread; ++i) {
    size_t size = 16 + static_cast<size_t>((i * 37 + index * 11) % 900);
    void* p = mallocx(size, 0);
    counts.mallocx++;
    for (int step = 0; step < 4; ++step) {  // a realloc chain
      size_t bigger = size + 8 + static_cast<size_t>(step * step * 200);
      void* q = rallocx(p, bigger, 0);
      counts.rallocx++;
      (q == p ? counts.in_place : counts.moved)++;
      p = q;
      size = bigger;
    }
    {
      std::lock_guard<std::mutex> lock(next.mutex);
      next.blocks.push_back({p, size});
    }
    if (i % 64 == 0) drain();
  }
  done->fetch_add(1);
  while (done->load() < kThreads) {
    drain();
    std::this_thread::yield();
  }
  drain();
}

void PhaseTwo() {
  std::vector<Mailbox> mailboxes(kThreads);
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(Worker, i, mailboxes.data(), &done);
  }
  for (std::thread& thread : threads) thread.join();
  for (Mailbox& mailbox : mailboxes) {
    for (const Block& block : mailbox.blocks) {
      sdallocx(block.ptr, block.size, 0);
      counts.sdallocx++;
    }
  }
}

void Churn(uint64_t pairs, bool forever) {
  std::vector<void*> live(4096, nullptr);
  for (uint64_t i = 0; forever || i < pairs; ++i) {
    void*& slot = live[(i * 2654435761u) % live.size()];
    free(slot);
    slot = malloc(16 + (i * 7919) % 2000);
  }
  for (void* p : live) free(p);
}

}  // namespace

void Burst(int pairs, size_t size) {
  for (int i = 0; i < pairs; ++i) {
    void* block = malloc(size);
    Escape(block);
    free(block);
  }
}

// Two bursts with a pause between them, timed from outside the recorder.
void TimingPhase() {
  constexpr int kPairs = 1000;
  constexpr size_t kSize1 = 4242, kSize2 = 4343;  // used nowhere else.
  const uint64_t t0 = MonotonicNs();
  Burst(kPairs, kSize1);
  const uint64_t t1 = MonotonicNs();
  const timespec pause = {0, 100 * 1000 * 1000};
  nanosleep(&pause, nullptr);
  const uint64_t t2 = MonotonicNs();
  Burst(kPairs, kSize2);
  const uint64_t t3 = MonotonicNs();
  Line("timing %d %zu %zu %llu %llu %llu\n", kPairs, kSize1, kSize2,
       (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
       (unsigned long long)(t3 - t2));
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: known_calls EXPECTATIONS [--churn=N] [--forever]\n");
    return 2;
  }
  uint64_t churn = 0;
  bool forever = false;
  bool fork_child = false;
  const char* pid_file = nullptr;
  for (int i = 2; i < argc; ++i) {
    if (std::strncmp(argv[i], "--churn=", 8) == 0) {
      churn = std::strtoull(argv[i] + 8, nullptr, 10);
    } else if (std::strcmp(argv[i], "--fork") == 0) {
      fork_child = true;
    } else if (std::strcmp(argv[i], "--forever") == 0) {
      forever = true;
    } else if (std::strncmp(argv[i], "--pid-file=", 11) == 0) {
      pid_file = argv[i] + 11;
    }
  }
  if (pid_file != nullptr) {
    std::string pid = std::to_string(getpid());
    int fd = open(pid_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, pid.data(), pid.size()) < 0) return 1;
    close(fd);
  }
  PhaseOne();
  Line("phase2\n");
  PhaseTwo();
  Line("count mallocx %llu\n", (unsigned long long)counts.mallocx.load() + 1);
  Line("count rallocx %llu\n", (unsigned long long)counts.rallocx.load() + 1);
  Line("count sdallocx %llu\n", (unsigned long long)counts.sdallocx.load() + 1);
  TimingPhase();
  Churn(churn, forever);
  if (fork_child) {
    const pid_t child = fork();
    if (child == 0) {
      void* blocks[3];
      for (void*& block : blocks) {
        block = malloc(33333);
        Escape(block);
      }
      for (void* block : blocks) free(block);
      std::exit(0);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || status != 0) {
      return 1;
    }
    Line("child %d\n", static_cast<int>(child));
  }
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  if (write(fd, out_buffer, out_length) != static_cast<ssize_t>(out_length)) {
    return 1;
  }
  close(fd);
  return 0;
}
