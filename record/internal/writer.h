// The recorder's writer thread: merges the per-thread slot rings back into
// one stream in ticket order, turns slots into trace events, answers marker
// requests from the control channel and feeds a TraceWriter.
//
// It promises: events reach the file in ticket order with dense sequence
// numbers; a moving realloc appears as kAlloc(new), kFree(old) at a point
// consistent with every other thread's use of both addresses (see
// ReallocPlacement in writer.cc); the open chunk is flushed at least every
// SLABTRACE_FLUSH_MS; a write error never stops the program (events are
// then counted as dropped and the trailer says incomplete).
//
// All of its memory comes from the recorder's private jemalloc arena (the
// thread runs with the recorder's "busy" flag set for its whole life).

#ifndef SLABTRACE_RECORD_INTERNAL_WRITER_H_
#define SLABTRACE_RECORD_INTERNAL_WRITER_H_

namespace slabtrace {
namespace record_internal {

// Opens the output, writes the header and starts the thread. False (with a
// message on stderr) when the recording cannot start; recording is then
// disabled and the program runs on.
bool StartWriterThread();

// Adds the "exit" marker, drains every ring, writes the trailer and joins
// the thread (bounded wait). Recording has stopped when it returns.
void StopWriterThread();

// In a forked child: forgets the parent's writer without touching its file
// or its memory (both belong to the parent).
void WriterForgetAfterFork();

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_WRITER_H_
