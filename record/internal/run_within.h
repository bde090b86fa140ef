// RunWithin runs a function on a thread of its own and waits for its result
// for at most a deadline. It exists for the recorder's exit path: reading
// jemalloc's statistics there can block for ever (exit() called from a
// signal handler that interrupted jemalloc while it held a lock), and the
// trace's trailer must not wait with it.
//
// It promises: the result when `fn` returns within `timeout_ns`, else
// std::nullopt after about `timeout_ns` (polled every millisecond). On
// timeout the thread is abandoned, still running, and the state it shares
// (the function and its result slot) is deliberately leaked so that the
// thread never touches freed memory; use it only where that is acceptable
// (the process is about to exit). If no thread can be created, `fn` runs on
// the caller's thread.

#ifndef SLABTRACE_RECORD_INTERNAL_RUN_WITHIN_H_
#define SLABTRACE_RECORD_INTERNAL_RUN_WITHIN_H_

#include <poll.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

namespace slabtrace {
namespace record_internal {

template <typename T>
std::optional<T> RunWithin(std::function<T()> fn, uint64_t timeout_ns) {
  struct Shared {
    std::function<T()> fn;
    std::optional<T> result;
    std::atomic<bool> done{false};
  };
  auto* shared = new Shared{std::move(fn), std::nullopt, {}};
  auto run = [](void* arg) -> void* {
    auto* state = static_cast<Shared*>(arg);
    state->result = state->fn();
    state->done.store(true, std::memory_order_release);  // its last access.
    return nullptr;
  };
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const int error = pthread_create(&thread, &attributes, run, shared);
  pthread_attr_destroy(&attributes);
  if (error != 0) {
    std::optional<T> result = shared->fn();
    delete shared;
    return result;
  }
  const auto now_ns = [] {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
           static_cast<uint64_t>(ts.tv_nsec);
  };
  const uint64_t deadline = now_ns() + timeout_ns;
  while (!shared->done.load(std::memory_order_acquire)) {
    if (now_ns() >= deadline) return std::nullopt;  // `shared` is leaked.
    poll(nullptr, 0, 1);
  }
  std::optional<T> result = std::move(shared->result);
  delete shared;
  return result;
}

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_RUN_WITHIN_H_
