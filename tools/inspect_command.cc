#include "tools/inspect_command.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "proto/event.h"
#include "proto/trace_reader.h"
#include "record/call_accounting.h"
#include "tools/internal/command.h"
#include "tools/internal/command_line.h"

namespace slabtrace {
namespace {

// What one pass over the stream counts.
struct StreamCounts {
  std::array<uint64_t, kNumEventKinds> events_by_kind{};
  EventCounts events_by_api{};  // [api][kind]
  absl::flat_hash_set<uint32_t> threads;
  std::vector<Marker> markers;
  uint64_t events = 0;
  // Allocs - frees so far and its maximum, beside the trailer's
  // max_live_objects (signed: a trace may start with older blocks' frees).
  int64_t live = 0;
  int64_t max_live = 0;
};

void Count(const Event& e, StreamCounts* counts) {
  ++counts->events;
  ++counts->events_by_kind[static_cast<int>(e.kind)];
  ++counts->events_by_api[static_cast<int>(e.api)][static_cast<int>(e.kind)];
  counts->threads.insert(e.thread);
  counts->live += int64_t{e.kind == EventKind::kAlloc} -
                  int64_t{e.kind == EventKind::kFree};
  counts->max_live = std::max(counts->max_live, counts->live);
}

std::string FormatTime(int64_t unix_ns) {
  if (unix_ns == 0) return "unknown";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixNanos(unix_ns),
                          absl::UTCTimeZone());
}

std::string FormatDuration(uint64_t ns) {
  return absl::StrFormat("%.6f s", static_cast<double>(ns) / 1e9);
}

void PrintHeader(const TraceReader& reader) {
  const TraceHeader& h = reader.header();
  std::printf("file:        %s\n", reader.name().c_str());
  std::printf(
      "format:      slabtrace v%u, recorder %s\n", h.format_version(),
      h.recorder_version().empty() ? "unknown" : h.recorder_version().c_str());
  std::printf("pid:         %lld\n", static_cast<long long>(h.pid()));
  std::printf("command:     %s\n",
              absl::StrJoin(h.command_line(), " ").c_str());
  std::printf("host:        %s\n", h.host().c_str());
  std::printf("started:     %s\n", FormatTime(h.start_time_unix_ns()).c_str());
  std::printf("clock:       %s, stored at %llu ns resolution\n",
              h.clock().c_str(),
              static_cast<unsigned long long>(h.time_resolution_ns()));
  std::printf("page size:   %llu\n",
              static_cast<unsigned long long>(h.page_size()));
  if (h.large_extent_pad() != 0) {
    std::printf(
        "large pad:   %llu bytes per large extent "
        "(jemalloc opt.cache_oblivious)\n",
        static_cast<unsigned long long>(h.large_extent_pad()));
  }
  std::printf("allocator:   %s %s (%u small classes of %d, %u arenas)\n",
              h.allocator().c_str(), h.allocator_version().c_str(), h.nbins(),
              h.size_classes_size(), h.narenas());
  // Protobuf map order is unspecified: sort for stable output.
  const std::map<std::string, std::string> metadata(h.metadata().begin(),
                                                    h.metadata().end());
  for (const auto& [key, value] : metadata) {
    std::printf("metadata:    %s = %s\n", key.c_str(), value.c_str());
  }
}

void PrintSizeClasses(const TraceHeader& h) {
  std::printf("\nsize classes:\n  %5s %12s %10s %6s %11s\n", "index", "size",
              "slab_size", "nregs", "ncached_max");
  for (int i = 0; i < h.size_classes_size(); ++i) {
    const SizeClass& c = h.size_classes(i);
    const std::string ncached = i < h.tcache_ncached_max_size()
                                    ? absl::StrCat(h.tcache_ncached_max(i))
                                    : "-";
    if (c.nregs() == 0) {
      std::printf("  %5u %12llu %10s %6s %11s\n", c.index(),
                  static_cast<unsigned long long>(c.size()), "large", "-",
                  ncached.c_str());
    } else {
      std::printf("  %5u %12llu %10llu %6u %11s\n", c.index(),
                  static_cast<unsigned long long>(c.size()),
                  static_cast<unsigned long long>(c.slab_size()), c.nregs(),
                  ncached.c_str());
    }
  }
}

void PrintMarkers(const std::vector<Marker>& markers) {
  std::printf("\nmarkers: %zu\n", markers.size());
  if (markers.empty()) return;
  std::printf("  %12s %14s  %-5s  %s\n", "seq", "time", "stats", "label");
  for (const Marker& m : markers) {
    std::printf("  %12llu %14s  %-5s  %s\n",
                static_cast<unsigned long long>(m.seq()),
                FormatDuration(m.time_ns()).c_str(),
                m.has_stats() ? "yes" : "no", m.label().c_str());
  }
}

// One row of a read-vs-trailer table.
void PrintCountRow(const std::string& name, uint64_t read,
                   const std::optional<uint64_t>& in_trailer) {
  const std::string trailer_text =
      in_trailer ? absl::StrCat(*in_trailer) : std::string("-");
  const char* verdict =
      !in_trailer ? "" : (*in_trailer == read ? "agree" : "DISAGREE");
  std::printf("  %-22s %14llu %14s  %s\n", name.c_str(),
              static_cast<unsigned long long>(read), trailer_text.c_str(),
              verdict);
}

std::optional<uint64_t> FromMap(
    const std::optional<TraceTrailer>& trailer,
    const google::protobuf::Map<std::string, uint64_t>& (TraceTrailer::*field)()
        const,
    const std::string& key) {
  if (!trailer) return std::nullopt;
  const auto& map = ((*trailer).*field)();
  const auto it = map.find(key);
  return it == map.end() ? 0 : it->second;
}

// Symmetric accounting: per API, the events the recorder's call counts
// imply (record/call_accounting.h knows the outcome keys such as
// "free.null" and "realloc.moved") beside the events read.
void PrintCallAccounting(const std::optional<TraceTrailer>& trailer,
                         const StreamCounts& counts) {
  if (!trailer || trailer->calls_by_api().empty()) {
    std::printf("\ncalls by api: not in this trace (no recorder trailer)\n");
    return;
  }
  const EventCounts expected = ExpectedEvents(*trailer);
  std::printf("\ncalls by api, and events (alloc/free/resize) they imply:\n");
  std::printf("  %-22s %12s %24s %24s\n", "", "calls", "implied", "read");
  for (int a = 0; a < kNumAllocApis; ++a) {
    const std::string name(AllocApiName(static_cast<AllocApi>(a)));
    const auto it = trailer->calls_by_api().find(name);
    const uint64_t calls = it == trailer->calls_by_api().end() ? 0 : it->second;
    const auto& want = expected[a];
    const auto& got = counts.events_by_api[a];
    if (calls == 0 && got == decltype(got){}) continue;
    const auto triple = [](const std::array<uint64_t, kNumEventKinds>& n) {
      return absl::StrCat(n[0], "/", n[1], "/", n[2]);
    };
    std::printf("  %-22s %12llu %24s %24s  %s\n", name.c_str(),
                static_cast<unsigned long long>(calls), triple(want).c_str(),
                triple(got).c_str(), want == got ? "agree" : "DISAGREE");
  }
  const absl::Status symmetric =
      CheckSymmetricAccounting(*trailer, counts.events_by_api);
  std::printf("symmetric accounting: %s\n",
              symmetric.ok() ? "exact (every call accounted for)"
                             : std::string(symmetric.message()).c_str());
}

void PrintCounts(const TraceReader& reader, const StreamCounts& counts) {
  const std::optional<TraceTrailer>& trailer = reader.trailer();
  std::printf("\nevents by kind:\n  %-22s %14s %14s\n", "", "read", "trailer");
  for (int k = 0; k < kNumEventKinds; ++k) {
    const std::string name(EventKindName(static_cast<EventKind>(k)));
    PrintCountRow(name, counts.events_by_kind[k],
                  FromMap(trailer, &TraceTrailer::events_by_kind, name));
  }
  PrintCountRow(
      "total", counts.events,
      trailer ? std::optional<uint64_t>(trailer->event_count()) : std::nullopt);

  PrintCallAccounting(trailer, counts);

  std::printf("\n");
  const uint64_t threads = counts.threads.size();
  std::printf("threads:     %llu", static_cast<unsigned long long>(threads));
  if (trailer && trailer->threads() != 0) {
    std::printf(" (trailer: %u)", trailer->threads());
  }
  // The trailer's hint for sizing a replay's tables; traces written before
  // the field have none.
  std::printf("\npeak live:   %lld objects",
              static_cast<long long>(counts.max_live));
  if (trailer && trailer->max_live_objects() != 0) {
    std::printf(" (trailer: %llu)",
                static_cast<unsigned long long>(trailer->max_live_objects()));
  }
  std::printf("\nchunks:      %llu",
              static_cast<unsigned long long>(reader.chunks_read()));
  if (trailer) {
    std::printf(" (trailer: %llu)",
                static_cast<unsigned long long>(trailer->chunk_count()));
  }
  std::printf("\nfile bytes:  %llu\n",
              static_cast<unsigned long long>(reader.file_size()));
  std::printf(
      "bytes/event: %s\n",
      counts.events == 0
          ? "n/a"
          : absl::StrFormat(
                "%.3f", static_cast<double>(reader.file_size()) / counts.events)
                .c_str());
  if (trailer) {
    std::printf("duration:    %s\n",
                FormatDuration(trailer->end_time_ns()).c_str());
    std::printf("dropped:     %llu events\n",
                static_cast<unsigned long long>(trailer->dropped_events()));
    std::printf(
        "ring waits:  %llu calls waited for a full ring to drain, %.1f ms in "
        "all\n",
        static_cast<unsigned long long>(trailer->ring_full_waits()),
        trailer->ring_full_wait_ns() / 1e6);
  }
}

// "complete", "incomplete: ..." or "truncated: ...", and whether the trace
// reads as a whole.
bool PrintIntegrity(const TraceReader& reader) {
  const std::optional<TraceTrailer>& trailer = reader.trailer();
  bool whole = true;
  std::string status;
  if (!trailer) {
    status = "truncated (no trailer): reads up to its last whole record";
    whole = false;
  } else if (!trailer->complete()) {
    status = absl::StrCat("incomplete: ", trailer->incomplete_reason());
  } else if (!reader.warnings().empty()) {
    status = "complete, with warnings";
  } else {
    status = "complete";
  }
  std::printf("integrity:   %s\n", status.c_str());
  for (const std::string& warning : reader.warnings()) {
    std::printf("warning:     %s\n", warning.c_str());
  }
  return whole;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "slabtrace inspect: %s\n",
               std::string(status.message()).c_str());
  return kExitBadInput;
}

}  // namespace

int RunInspect(const std::vector<std::string>& args) {
  CommandLine command_line(
      "slabtrace inspect FILE",
      "Prints a trace's header, size-class table, markers, event counts by "
      "kind and calls by API (as read, and as the trailer states them), "
      "threads, chunks, bytes per event and integrity. Exit code 0 for a "
      "whole trace, 2 for a corrupt one or one that ends without its "
      "trailer (the report up to the cut is still printed).");
  if (std::optional<int> exit_code = command_line.ParseOrExit(args)) {
    return *exit_code;
  }
  if (command_line.positional().size() != 1) {
    std::fprintf(stderr,
                 "slabtrace inspect: expected one trace FILE (see --help)\n");
    return kExitBadInput;
  }
  absl::StatusOr<std::unique_ptr<TraceReader>> reader =
      TraceReader::Open(command_line.positional()[0]);
  if (!reader.ok()) return Fail(reader.status());

  StreamCounts counts;
  TraceRecord record;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok()) return Fail(more.status());
    if (!*more) break;
    if (record.type == TraceRecord::Type::kMarker) {
      counts.markers.push_back(*record.marker);
      continue;
    }
    for (const Event& e : record.events) Count(e, &counts);
  }
  PrintHeader(**reader);
  PrintSizeClasses((*reader)->header());
  PrintMarkers(counts.markers);
  PrintCounts(**reader, counts);
  const bool whole = PrintIntegrity(**reader);
  std::fflush(stdout);
  if (!whole) {
    std::fprintf(stderr, "slabtrace inspect: %s\n",
                 (*reader)->warnings().empty()
                     ? "trace ends without a trailer"
                     : (*reader)->warnings().front().c_str());
    return kExitBadInput;
  }
  return kExitOk;
}

}  // namespace slabtrace
