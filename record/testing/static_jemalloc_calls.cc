// static_jemalloc_calls EXPECTATIONS_FILE
//
// A program that carries its own jemalloc (linked from libjemalloc.a and
// exported with -rdynamic, as upstream Redis does with its je_ copy), so
// that a preloaded interposer never sees its calls: the recorder must use
// jemalloc's hooks. Between two sentinel mallocs of 11111 bytes it makes a
// known sequence of calls and writes one line per expected event:
// "<kind> <api> <ptr> <size>". Output goes through write(2) from a fixed
// buffer so that nothing else allocates in between.

#include <fcntl.h>
#include <unistd.h>

// Built with SLABTRACE_JE_PREFIX, the program calls je_malloc, je_free, ...
// of a copy whose public API carries that prefix (upstream Redis's build):
// its plain malloc is then libc's, and only the hooks see the je_ calls.
#if defined(SLABTRACE_JE_PREFIX)
#define JEMALLOC_NO_RENAME
#define JE(name) je_##name
#else
#define JE(name) name
#endif
#include <jemalloc/jemalloc.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

char out_buffer[1 << 14];
size_t out_length = 0;

void Line(const char* format, ...) {
  va_list args;
  va_start(args, format);
  const int n = vsnprintf(out_buffer + out_length,
                          sizeof(out_buffer) - out_length, format, args);
  va_end(args);
  if (n > 0) out_length += static_cast<size_t>(n);
}

uintptr_t P(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: static_jemalloc_calls EXPECTATIONS_FILE\n");
    return 2;
  }
  void* sentinel = JE(malloc)(11111);
  Line("alloc malloc %ju 11111\n", P(sentinel));
  void* a = JE(malloc)(100);
  Line("alloc malloc %ju 100\n", P(a));
  void* b = JE(calloc)(3, 50);
  Line("alloc calloc %ju 150\n", P(b));
  void* c = JE(realloc)(a, 5000);  // another size class: the block moves.
  Line("alloc realloc %ju 5000\n", P(c));
  Line("free realloc %ju 0\n", P(a));
  void* d = JE(mallocx)(300, 0);
  Line("alloc mallocx %ju 300\n", P(d));
  void* d2 = JE(rallocx)(d, 310, 0);  // the same 320-byte class: in place.
  if (d2 == d) {
    Line("resize rallocx %ju 310\n", P(d2));
  } else {
    Line("alloc rallocx %ju 310\n", P(d2));
    Line("free rallocx %ju 0\n", P(d));
  }
  JE(sdallocx)(d2, 310, 0);
  Line("free sdallocx %ju 310\n", P(d2));
  void* e = nullptr;
  if (JE(posix_memalign)(&e, 64, 200) != 0) return 1;
  Line("alloc posix_memalign %ju 200\n", P(e));
  JE(free)(b);
  Line("free free %ju 0\n", P(b));
  JE(free)(c);
  Line("free free %ju 0\n", P(c));
  JE(free)(e);
  Line("free free %ju 0\n", P(e));
  // Through a volatile null: GCC turns a literal realloc(NULL, n) into
  // malloc(n) and the call would never reach realloc.
  void* volatile null_block = nullptr;
  void* f = JE(realloc)(null_block, 77);
  Line("alloc realloc %ju 77\n", P(f));
  void* g = JE(mallocx)(4000, 0);
  Line("alloc mallocx %ju 4000\n", P(g));
  JE(dallocx)(g, 0);
  Line("free dallocx %ju 0\n", P(g));
  JE(free)(sentinel);
  Line("free free %ju 0\n", P(sentinel));
  void* last = JE(malloc)(11111);
  Line("alloc malloc %ju 11111\n", P(last));
  JE(free)(f);
  JE(free)(last);

  const int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return 1;
  const bool written =
      write(fd, out_buffer, out_length) == static_cast<ssize_t>(out_length);
  close(fd);
  return written ? 0 : 1;
}
