#include "record/internal/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "proto/event.h"
#include "proto/trace.pb.h"
#include "proto/trace_writer.h"
#include "record/control_channel.h"
#include "record/internal/call_clock.h"
#include "record/internal/realloc_placement.h"
#include "record/internal/recorder.h"
#include "record/internal/run_within.h"
#include "record/internal/writer_pacing.h"
#include "record/jemalloc_introspection.h"

namespace slabtrace {
namespace record_internal {
namespace {

static_assert(static_cast<int>(SlotType::kAlloc) ==
                      static_cast<int>(EventKind::kAlloc) &&
                  static_cast<int>(SlotType::kFree) ==
                      static_cast<int>(EventKind::kFree) &&
                  static_cast<int>(SlotType::kResize) ==
                      static_cast<int>(EventKind::kResize),
              "Consume() casts these slot types to event kinds");

constexpr int kNumOutcomes = 7;
constexpr const char* kOutcomeNames[kNumOutcomes] = {
    "", "failed", "null", "moved", "in_place", "from_null", "freed"};
// Slots a drain consumes from one ring before it hands their space back.
constexpr uint32_t kCommitEvery = 1024;
// How long the final drain waits for a ticket some thread took but never
// published (it is stuck, or was killed in a signal handler).
constexpr uint64_t kFinalStallNs = 2'000'000'000;

// How long the exit marker waits for jemalloc's statistics.
constexpr uint64_t kExitStatsTimeoutNs = 2'000'000'000;

struct PendingMarker {
  uint64_t ticket = 0;
  uint64_t time_ns = 0;
  std::string label;
  absl::StatusOr<AllocatorStats> stats;
  int reply_fd = -1;
};

void Reply(int fd, const std::string& text) {
  if (fd < 0) return;
  (void)!send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  close(fd);
}

std::vector<std::string> ReadCommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  if (!all.empty() && all.back() == '\0') all.pop_back();
  return absl::StrSplit(all, '\0');
}

// Events normally go straight to the file; they wait in `placement_` only
// behind a moving realloc whose place is not known yet.
class RecordingWriter : private ReallocPlacement::Output {
 public:
  absl::Status Open();
  void Run();
  void RequestStop() {
    stop_requested_.store(true);
    WakeWriterAlways();
  }
  int control_fd() const { return control_fd_; }

 private:
  size_t Drain();
  void Consume(const Slot& slot);
  // ReallocPlacement::Output.
  void EmitEvent(const Event& event) override;
  void EmitMarker() override;
  // The common case: one slot straight into the batch, no Event copies.
  void EmitSlot(const Slot& slot, EventKind kind);
  // The next event of the batch, with its seq and monotone time set from
  // `time_ns`.
  Event& NextEvent(uint64_t time_ns);
  // Hands the batch to the TraceWriter; before anything else is written.
  void AppendBatch();
  void WriteMarker(PendingMarker& marker);
  void TakeMarker(std::string label, int reply_fd);
  // Serves a client of the control socket, waiting up to timeout_ms for
  // one (0: only looks).
  void ServeControl(int timeout_ms);
  // Sleeps up to `ns`, less when woken (WakeWriter, RequestStop).
  void Sleep(uint64_t ns);
  void Finish();
  void DumpState();
  void NoteStatus(const absl::Status& status);
  Event MakeEvent(const Slot& slot, EventKind kind) const;
  void FillEvent(const Slot& slot, EventKind kind, Event& event) const;
  uint64_t NsSinceStart(uint64_t stamp) const;
  void Calibrate();

  std::unique_ptr<TraceWriter> writer_;
  // Events are built in place here and appended a batch at a time: an
  // Event copied right after its fields were stored stalls on store
  // forwarding (48-byte copies of fresh 1- to 8-byte stores), which was a
  // third of the writer's time.
  static constexpr size_t kBatchEvents = 1024;
  std::array<Event, kBatchEvents> batch_;
  size_t batched_ = 0;
  int control_fd_ = -1;
  std::atomic<bool> stop_requested_{false};
  uint64_t next_ticket_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t last_time_ns_ = 0;
  uint64_t calls_[kNumAllocApis][kNumOutcomes] = {};
  std::unique_ptr<PendingMarker> pending_marker_;
  ReallocPlacement placement_{this};
  // Markers added to placement_ and not yet emitted, in order.
  std::deque<std::unique_ptr<PendingMarker>> staged_markers_;
  bool reported_error_ = false;
  std::string incomplete_reason_;
  double ns_per_tick_ = 1.0;
  std::string metadata_clock_source_;
};

// An untimed call's stamp (kUntimedStamp) is before the start in both
// clocks: it gives 0, which NextEvent raises to the last time.
static_assert(kUntimedStamp == 0, "NsSinceStart maps untimed calls to 0");
uint64_t RecordingWriter::NsSinceStart(uint64_t stamp) const {
  if (!recorder.use_tsc) {
    return stamp > recorder.start_ns ? stamp - recorder.start_ns : 0;
  }
  if (stamp <= recorder.start_ticks) return 0;
  return static_cast<uint64_t>(
      static_cast<double>(stamp - recorder.start_ticks) * ns_per_tick_);
}

// TSC ticks per nanosecond, measured against CLOCK_MONOTONIC over the
// whole recording so far (the longer the baseline, the better).
void RecordingWriter::Calibrate() {
  if (!recorder.use_tsc) return;
  const uint64_t ticks = Timestamp();
  const uint64_t ns = MonotonicNs();
  if (ticks > recorder.start_ticks && ns > recorder.start_ns + 1000000) {
    ns_per_tick_ = static_cast<double>(ns - recorder.start_ns) /
                   static_cast<double>(ticks - recorder.start_ticks);
  }
}

absl::Status RecordingWriter::Open() {
  TraceHeader header;
  absl::Status status = ReadJemallocHeader(&header);
  if (!status.ok()) return status;
  header.set_recorder_version(recorder.use_hooks
                                  ? "slabtrace-record 1 (jemalloc hooks)"
                                  : "slabtrace-record 1 (interposer)");
  header.set_pid(recorder.pid);
  for (const std::string& arg : ReadCommandLine()) {
    header.add_command_line(arg);
  }
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  header.set_host(host);
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  const uint64_t since_start = MonotonicNs() - recorder.start_ns;
  header.set_start_time_unix_ns(static_cast<int64_t>(wall.tv_sec) * 1000000000 +
                                wall.tv_nsec -
                                static_cast<int64_t>(since_start));
  header.set_clock("CLOCK_MONOTONIC");
  metadata_clock_source_ = recorder.use_tsc
                               ? "invariant TSC calibrated to CLOCK_MONOTONIC"
                               : "clock_gettime(CLOCK_MONOTONIC)";
  header.set_time_resolution_ns(1000);
  const RecorderOptions& options = recorder.options;
  auto& metadata = *header.mutable_metadata();
  metadata["recorder.way_in"] = recorder.way_in;
  metadata["recorder.clock_source"] = metadata_clock_source_;
  metadata["recorder.ring_events"] = absl::StrCat(options.ring_events);
  metadata["recorder.flush_ms"] = absl::StrCat(options.flush_ms);
  metadata["recorder.on_fork"] =
      options.on_fork == OnFork::kStop ? "stop" : "record";
  metadata["recorder.on_full"] = options.drop_when_full ? "drop" : "wait";
  metadata["recorder.timestamps"] =
      options.calls_per_stamp == 1
          ? "all"
          : absl::StrCat(
                "sampled: every call of a thread whose calls are "
                "sparse, else every ",
                options.calls_per_stamp,
                "th call and the first after each writer wake-up; "
                "the others take the last time (record/README.md)");
  metadata["recorder.private_arena"] =
      recorder.private_flags != 0 ? absl::StrCat(recorder.private_arena)
                                  : "none";
  TraceWriterOptions writer_options;
  writer_options.events_per_chunk = options.events_per_chunk;
  writer_options.zstd_level = options.zstd_level;
  absl::StatusOr<std::unique_ptr<TraceWriter>> writer =
      TraceWriter::Create(options.output, header, writer_options);
  if (!writer.ok()) return writer.status();
  writer_ = *std::move(writer);
  absl::StatusOr<int> control = ListenOnControlSocket(recorder.pid);
  if (control.ok()) {
    control_fd_ = *control;
  } else {
    WriteError("markers unavailable: ",
               std::string(control.status().message()).c_str());
  }
  return absl::OkStatus();
}

void RecordingWriter::NoteStatus(const absl::Status& status) {
  if (status.ok() || reported_error_) return;
  reported_error_ = true;
  WriteError(std::string(status.message()).c_str(),
             "; the program continues, further events are dropped");
}

Event RecordingWriter::MakeEvent(const Slot& slot, EventKind kind) const {
  Event event;
  FillEvent(slot, kind, event);
  event.time_ns = NsSinceStart(slot.time_ns);
  return event;
}

// Everything but seq and time.
void RecordingWriter::FillEvent(const Slot& slot, EventKind kind,
                                Event& event) const {
  event.ptr = slot.ptr;
  event.size = slot.size;
  event.slab = 0;
  event.thread = slot.thread;
  event.size_class = slot.size_class;
  event.kind = kind;
  event.api = static_cast<AllocApi>(slot.api);
}

size_t RecordingWriter::Drain() {
  size_t consumed = 0;
  bool progress = true;
  // What the rings hold now; slots published while this drain runs wait
  // for the next one (see SlotRing::Refresh).
  uint32_t refreshed = 0;
  while (progress) {
    progress = false;
    const uint32_t count = recorder.num_rings.load(std::memory_order_acquire);
    for (; refreshed < count; ++refreshed) recorder.rings[refreshed]->Refresh();
    for (uint32_t i = 0; i < count; ++i) {
      SlotRing* ring = recorder.rings[i];
      uint32_t uncommitted = 0;
      while (const Slot* slot = ring->Peek()) {
        if (slot->ticket != next_ticket_) break;
        Consume(*slot);
        ring->Pop();
        ++next_ticket_;
        ++consumed;
        progress = true;
        // A long run gives space back as it goes: the ring's thread may
        // be about to wait for it.
        if (++uncommitted == kCommitEvery) {
          ring->Commit();
          uncommitted = 0;
        }
      }
      ring->Commit();
      uint32_t retired = SlotRing::kRetired;
      if (ring->state.load(std::memory_order_acquire) == retired &&
          ring->Empty()) {
        ring->state.compare_exchange_strong(retired, SlotRing::kUnused);
      }
    }
    if (pending_marker_ != nullptr && pending_marker_->ticket == next_ticket_) {
      staged_markers_.push_back(std::move(pending_marker_));
      placement_.AddMarker();
      ++next_ticket_;
      progress = true;
    }
  }
  return consumed;
}

void RecordingWriter::Consume(const Slot& slot) {
  if (slot.type != SlotType::kContinuation && slot.api < kNumAllocApis &&
      slot.outcome != CallOutcome::kSecondHalf) {
    ++calls_[slot.api][static_cast<int>(slot.outcome)];
  }
  if (slot.type <= SlotType::kResize) {
    const EventKind kind = static_cast<EventKind>(slot.type);
    if (placement_.idle()) {
      // The common case, without an output queue.
      EmitSlot(slot, kind);
    } else {
      placement_.AddEvent(MakeEvent(slot, kind));
    }
    return;
  }
  switch (slot.type) {
    case SlotType::kMoved: {
      const Event alloc = MakeEvent(slot, EventKind::kAlloc);
      Event free = MakeEvent(slot, EventKind::kFree);
      free.ptr = slot.old_ptr;
      free.size = 0;
      free.size_class = slot.old_size_class;
      if (slot.aux == 0) {  // recording stopped before its second ticket.
        placement_.AddEvent(alloc);
        placement_.AddEvent(free);
      } else {
        placement_.AddMove(slot.ticket, alloc, free);
      }
      return;
    }
    case SlotType::kContinuation:
      placement_.Resolve(slot.aux);
      return;
    default:  // kNoEvent, kMarker (markers come through pending_marker_).
      return;
  }
}

Event& RecordingWriter::NextEvent(uint64_t time_ns) {
  if (batched_ == kBatchEvents) AppendBatch();
  Event& event = batch_[batched_++];
  event.seq = next_seq_++;
  // Threads read the clock a little before or after their ticket; keep the
  // stream's time monotone (differences are below the clock's resolution).
  // An untimed call (0) takes the last time this way too.
  if (time_ns < last_time_ns_) time_ns = last_time_ns_;
  last_time_ns_ = time_ns;
  event.time_ns = time_ns;
  return event;
}

void RecordingWriter::EmitEvent(const Event& event) {
  Event copy = event;
  Event& next = NextEvent(event.time_ns);  // sets seq and time only.
  copy.seq = next.seq;
  copy.time_ns = next.time_ns;
  next = copy;
}

void RecordingWriter::EmitSlot(const Slot& slot, EventKind kind) {
  FillEvent(slot, kind, NextEvent(NsSinceStart(slot.time_ns)));
}

void RecordingWriter::AppendBatch() {
  NoteStatus(
      writer_->AppendBatch(absl::MakeConstSpan(batch_.data(), batched_)));
  batched_ = 0;
}

void RecordingWriter::EmitMarker() {
  std::unique_ptr<PendingMarker> marker = std::move(staged_markers_.front());
  staged_markers_.pop_front();
  WriteMarker(*marker);
}

void RecordingWriter::WriteMarker(PendingMarker& pending) {
  AppendBatch();
  Marker marker;
  marker.set_seq(next_seq_);
  marker.set_time_ns(std::max(pending.time_ns, last_time_ns_));
  marker.set_label(pending.label);
  if (pending.stats.ok()) {
    *marker.mutable_stats() = *pending.stats;
    marker.mutable_stats()->set_threads(recorder.threads.load());
  }
  absl::Status status = writer_->AddMarker(marker);
  NoteStatus(status);
  Reply(pending.reply_fd,
        status.ok() && !writer_->failed()
            ? absl::StrCat("OK ", next_seq_, "\n")
            : absl::StrCat("ERR trace not writable: ", status.message(), "\n"));
  pending.reply_fd = -1;
}

void RecordingWriter::TakeMarker(std::string label, int reply_fd) {
  const uint64_t ticket = recorder.tickets.fetch_add(1);
  if (ticket & kStoppedBit) {
    Reply(reply_fd, "ERR recording has stopped\n");
    return;
  }
  auto marker = std::make_unique<PendingMarker>();
  marker->ticket = ticket;
  const uint64_t now = MonotonicNs();
  marker->time_ns = now > recorder.start_ns ? now - recorder.start_ns : 0;
  marker->label = std::move(label);
  const unsigned excluded =
      recorder.private_flags != 0 &&
              recorder.target.mallctl == recorder.real.mallctl
          ? recorder.private_arena
          : kNoExcludedArena;
  // Only the exit marker can find jemalloc's locks held for good.
  if (reply_fd >= 0) {
    marker->stats = ReadJemallocStats(excluded);
  } else {
    std::optional<absl::StatusOr<AllocatorStats>> stats =
        RunWithin<absl::StatusOr<AllocatorStats>>(
            [excluded] {
              tls_state.busy = 1;  // the recorder's own thread: unrecorded.
              return ReadJemallocStats(excluded);
            },
            kExitStatsTimeoutNs);
    marker->stats = stats.has_value()
                        ? *std::move(stats)
                        : absl::DeadlineExceededError(
                              "jemalloc statistics did not answer within 2 s "
                              "(a lock held by the exiting thread?)");
    if (!marker->stats.ok()) {
      WriteError("exit marker written without statistics: ",
                 std::string(marker->stats.status().message()).c_str());
    }
  }
  marker->reply_fd = reply_fd;
  pending_marker_ = std::move(marker);
}

void RecordingWriter::Sleep(uint64_t ns) {
  std::atomic<uint32_t>& word = recorder.wake_word;
  // A ring still crowded after this store wakes the writer again on its
  // next call (NextFree calls WakeWriter for as long as it is crowded).
  word.store(0, std::memory_order_seq_cst);
  if (stop_requested_.load()) return;
  timespec timeout = {static_cast<time_t>(ns / 1000000000),
                      static_cast<long>(ns % 1000000000)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, 0,
          &timeout, nullptr, 0);
  // Each thread reads the clock on its next call (CallClock).
  recorder.writer_epoch.store(
      recorder.writer_epoch.load(std::memory_order_relaxed) + 1,
      std::memory_order_relaxed);
}

void RecordingWriter::ServeControl(int timeout_ms) {
  if (control_fd_ < 0 || pending_marker_ != nullptr) {
    if (timeout_ms > 0) poll(nullptr, 0, timeout_ms);
    return;
  }
  pollfd listening = {control_fd_, POLLIN, 0};
  if (poll(&listening, 1, timeout_ms) <= 0) return;
  const int fd = accept4(control_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  ucred peer;
  socklen_t length = sizeof(peer);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 ||
      (peer.uid != 0 && peer.uid != getuid())) {
    Reply(fd, "ERR permission denied\n");
    return;
  }
  // The application waits on this thread once its rings fill, so a client
  // gets 200 ms in all to send its one line (`slabtrace mark` sends it at
  // once), not a timeout per byte that a silent peer could stretch out.
  constexpr uint64_t kRequestBudgetNs = 200 * 1000 * 1000;
  const uint64_t deadline = MonotonicNs() + kRequestBudgetNs;
  std::string request;
  while (request.find('\n') == std::string::npos && request.size() < 512) {
    const uint64_t now = MonotonicNs();
    if (now >= deadline) break;
    pollfd client = {fd, POLLIN, 0};
    const int left_ms = static_cast<int>((deadline - now) / 1000000) + 1;
    if (poll(&client, 1, left_ms) <= 0) break;
    char buffer[256];
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  absl::StatusOr<std::string> label = ParseMarkRequest(request);
  if (!label.ok()) {
    Reply(fd, absl::StrCat("ERR ", label.status().message(), "\n"));
    return;
  }
  TakeMarker(*std::move(label), fd);
}

void RecordingWriter::Run() {
  tls_state.busy = 1;  // for life: everything this thread does is ours.
  recorder.writer_alive.store(true, std::memory_order_release);
  const uint64_t flush_ns = uint64_t{recorder.options.flush_ms} * 1000000;
  // A first baseline for the TSC before any event is converted.
  const uint64_t since_start = MonotonicNs() - recorder.start_ns;
  if (recorder.use_tsc && since_start < 20000000) {
    poll(nullptr, 0, static_cast<int>((20000000 - since_start) / 1000000) + 1);
  }
  Calibrate();
  uint64_t last_flush = MonotonicNs();
  uint64_t last_progress = last_flush;
  uint64_t last_control = last_flush;
  // Short: under an eighth of a ring (at most 1024 slots).
  const size_t short_drain =
      std::min<size_t>(1024, recorder.options.ring_events / 8);
  // Each wake-up costs tens of microseconds in a VM, which at a few
  // hundred thousand calls per second was most of the writer's time with
  // 2 ms sleeps: sleeps are long (up to max_sleep_ns) unless the program
  // fills its rings faster (WriterSleepNs). A ring three quarters full still
  // wakes the writer early (WakeWriter).
  const uint64_t max_sleep_ns =
      uint64_t{std::clamp<uint32_t>(recorder.options.flush_ms, 1, 20)} *
      1000000;
  uint64_t cycle_start = last_flush;  // the last sleep began here,
  uint64_t cycle_consumed = 0;        // and the drains since took this many.
  constexpr uint64_t kControlPollNs = 1000000;
  const bool debug = getenv("SLABTRACE_DEBUG") != nullptr;
  while (!stop_requested_.load(std::memory_order_acquire)) {
    const size_t consumed = Drain();
    const uint64_t now = MonotonicNs();
    if (consumed > 0) last_progress = now;
    if (debug && now - last_progress > 1000000000 &&
        (recorder.tickets.load() & (kStoppedBit - 1)) > next_ticket_) {
      DumpState();
      last_progress = now;
    }
    if (now - last_flush >= flush_ns) {
      Calibrate();
      AppendBatch();
      NoteStatus(writer_->Flush());
      last_flush = now;
    }
    // A short drain means the writer is ahead of the program: sleep (and
    // listen for `slabtrace mark`), so that each pass takes a long run of
    // slots instead of a few slots and a system call. Under a steady
    // stream, poll the control socket once per millisecond only.
    cycle_consumed += consumed;
    if (consumed < short_drain) {
      Sleep(WriterSleepNs(cycle_consumed, now - cycle_start,
                          recorder.options.ring_events, max_sleep_ns));
      cycle_start = now;
      cycle_consumed = 0;
      ServeControl(0);
      last_control = MonotonicNs();
    } else if (now - last_control >= kControlPollNs) {
      ServeControl(0);
      last_control = now;
    }
  }
  Finish();
  recorder.writer_alive.store(false, std::memory_order_release);
}

// SLABTRACE_DEBUG: what the writer is waiting for, when it waits long.
void RecordingWriter::DumpState() {
  std::string out = absl::StrCat(
      "slabtrace-record: waiting for ticket ", next_ticket_, " of ",
      recorder.tickets.load(), "; staged ", placement_.staged(),
      " unresolved moves ", placement_.unresolved_moves(), ";");
  for (uint32_t i = 0; i < recorder.num_rings.load(); ++i) {
    SlotRing* ring = recorder.rings[i];
    const Slot* front = ring->Front();
    absl::StrAppend(&out, " ring ", i, " state ", ring->state.load(),
                    front != nullptr
                        ? absl::StrCat(" head ticket ", front->ticket, " type ",
                                       static_cast<int>(front->type))
                        : std::string(" empty"),
                    ";");
  }
  WriteError(out.c_str());
}

void RecordingWriter::Finish() {
  Calibrate();
  // A mark still in flight is written first, so that "exit" is never
  // skipped for it (bounded like the final drain below).
  for (uint64_t last = MonotonicNs(); pending_marker_ != nullptr;) {
    if (Drain() > 0) {
      last = MonotonicNs();
    } else if (MonotonicNs() - last > kFinalStallNs) {
      break;
    } else if (pending_marker_ != nullptr) {
      poll(nullptr, 0, 1);
    }
  }
  if (pending_marker_ == nullptr) TakeMarker("exit", -1);
  const uint64_t end =
      recorder.tickets.fetch_or(kStoppedBit) & (kStoppedBit - 1);
  uint64_t last_progress = MonotonicNs();
  while (next_ticket_ < end) {
    if (Drain() > 0) {
      last_progress = MonotonicNs();
    } else if (MonotonicNs() - last_progress > kFinalStallNs) {
      incomplete_reason_ =
          absl::StrCat("recorder: ", end - next_ticket_,
                       " calls in flight at exit were never completed");
      break;
    } else {
      poll(nullptr, 0, 1);
    }
  }
  placement_.Finish();
  if (pending_marker_ != nullptr) {
    Reply(pending_marker_->reply_fd, "ERR recording has stopped\n");
  }
  TraceTrailer trailer;
  auto& calls = *trailer.mutable_calls_by_api();
  for (int api = 0; api < kNumAllocApis; ++api) {
    uint64_t total = 0;
    const std::string name(AllocApiName(static_cast<AllocApi>(api)));
    for (int outcome = 0; outcome < kNumOutcomes; ++outcome) {
      const uint64_t count = calls_[api][outcome];
      total += count;
      if (outcome != 0 && count != 0) {
        calls[absl::StrCat(name, ".", kOutcomeNames[outcome])] = count;
      }
    }
    if (total != 0) calls[name] = total;
  }
  const uint64_t lost = recorder.lost_slots.load();
  if (lost != 0 && incomplete_reason_.empty()) {
    incomplete_reason_ = absl::StrCat(
        "recorder: ", lost, " calls lost while no writer was running");
  }
  const uint64_t dropped = recorder.dropped_full.load();
  if (dropped != 0 && incomplete_reason_.empty()) {
    incomplete_reason_ =
        absl::StrCat("recorder: ", dropped,
                     " calls not recorded because their thread's ring was full "
                     "(--on-full=drop)");
  }
  trailer.set_dropped_events(lost + dropped);
  trailer.set_ring_full_waits(recorder.ring_waits.load());
  trailer.set_ring_full_wait_ns(recorder.ring_wait_ns.load());
  trailer.set_incomplete_reason(incomplete_reason_);
  trailer.set_threads(recorder.threads.load());
  uint64_t buffer_bytes = 0;
  for (uint32_t i = 0; i < recorder.num_rings.load(); ++i) {
    buffer_bytes += recorder.rings[i]->bytes();
  }
  trailer.set_recorder_buffer_bytes(buffer_bytes);
  const uint64_t now = MonotonicNs();
  trailer.set_end_time_ns(now - recorder.start_ns);
  AppendBatch();
  NoteStatus(writer_->Close(std::move(trailer)));
  if (control_fd_ >= 0) close(control_fd_);
  control_fd_ = -1;
}

RecordingWriter* active_writer = nullptr;
pthread_t writer_thread;

void* WriterMain(void* arg) {
  // Named, so that `top -H` and tools/record_overhead.sh can tell it apart.
  pthread_setname_np(pthread_self(), "slabtrace-write");
  static_cast<RecordingWriter*>(arg)->Run();
  return nullptr;
}

}  // namespace

bool StartWriterThread() {
  auto* writer = new RecordingWriter();
  absl::Status status = writer->Open();
  if (!status.ok()) {
    WriteError(std::string(status.message()).c_str(),
               "; recording disabled, the program runs on");
    delete writer;
    recorder.state.store(RecorderState::kDisabled);
    return false;
  }
  // The writer must never run the program's signal handlers.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  // Alive from now on, not from when the new thread first runs: a ring that
  // fills before then must wait for it, not give up (and lose events).
  recorder.writer_alive.store(true, std::memory_order_release);
  const int error = pthread_create(&writer_thread, nullptr, WriterMain, writer);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (error != 0) {
    recorder.writer_alive.store(false, std::memory_order_release);
    WriteError("cannot start the writer thread; recording disabled");
    recorder.state.store(RecorderState::kDisabled);
    return false;
  }
  active_writer = writer;
  return true;
}

void StopWriterThread() {
  RecordingWriter* writer = active_writer;
  if (writer == nullptr) return;
  writer->RequestStop();
  timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  if (pthread_timedjoin_np(writer_thread, nullptr, &deadline) == 0) {
    active_writer = nullptr;
    delete writer;
  }
}

void WriterForgetAfterFork() {
  recorder.wake_word.store(0, std::memory_order_relaxed);
  if (active_writer != nullptr && active_writer->control_fd() >= 0) {
    close(active_writer->control_fd());
  }
  active_writer = nullptr;  // the parent's; never touched here.
}

}  // namespace record_internal
}  // namespace slabtrace
