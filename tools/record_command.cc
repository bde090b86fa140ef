#include "tools/record_command.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/event.h"
#include "proto/trace_reader.h"
#include "tools/internal/command.h"
#include "tools/internal/command_line.h"

namespace slabtrace {
namespace {

constexpr char kRecorderLibrary[] = "record/libslabtrace_record.so";
constexpr int kForwardedSignals[] = {SIGINT,  SIGTERM, SIGHUP,
                                     SIGQUIT, SIGUSR1, SIGUSR2};

volatile sig_atomic_t child_pid = 0;

// A signal the kernel sent to the whole foreground process group (Ctrl-C
// at the terminal) has reached the child already: forwarding it again would
// deliver it twice, and Redis takes a second SIGINT as "exit now" instead of
// its clean shutdown. Signals sent to this process alone are passed on.
void Forward(int signal, siginfo_t* info, void*) {
  if (info != nullptr && info->si_code == SI_KERNEL) return;
  if (child_pid > 0) kill(child_pid, signal);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "slabtrace record: %s\n", message.c_str());
  return kExitBadInput;
}

bool IsFile(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// $SLABTRACE_RECORDER_LIB, else the recorder next to this binary: in its
// runfiles (bazel run, tests) or in the bazel-bin tree.
absl::StatusOr<std::string> FindRecorderLibrary() {
  if (const char* path = getenv("SLABTRACE_RECORDER_LIB")) {
    if (IsFile(path)) return std::string(path);
    return absl::NotFoundError(
        absl::StrCat("SLABTRACE_RECORDER_LIB=", path, ": no such file"));
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return absl::InternalError("cannot read /proc/self/exe");
  const std::string exe(self, static_cast<size_t>(n));
  std::vector<std::string> candidates = {
      absl::StrCat(exe, ".runfiles/slabtrace/", kRecorderLibrary),
      absl::StrCat(Dirname(Dirname(exe)), "/", kRecorderLibrary),
  };
  for (const char* variable : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* root = getenv(variable)) {
      candidates.push_back(absl::StrCat(root, "/slabtrace/", kRecorderLibrary));
    }
  }
  for (const std::string& candidate : candidates) {
    if (IsFile(candidate)) return candidate;
  }
  return absl::NotFoundError(
      absl::StrCat("cannot find ", kRecorderLibrary, " next to ", exe,
                   " (build //record:libslabtrace_record.so or set "
                   "SLABTRACE_RECORDER_LIB)"));
}

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

struct Summary {
  uint64_t events_by_kind[kNumEventKinds] = {};
  uint64_t markers = 0;
  uint64_t last_time_ns = 0;
};

void PrintSummary(const std::string& path, double wall_seconds) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "slabtrace record: no readable trace: %s\n",
                 std::string(reader.status().message()).c_str());
    return;
  }
  Summary summary;
  TraceRecord record;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok()) {
      std::fprintf(stderr, "slabtrace record: %s\n",
                   std::string(more.status().message()).c_str());
      break;
    }
    if (!*more) break;
    if (record.type == TraceRecord::Type::kMarker) {
      ++summary.markers;
      continue;
    }
    for (const Event& event : record.events) {
      ++summary.events_by_kind[static_cast<int>(event.kind)];
      summary.last_time_ns = event.time_ns;
    }
  }
  const uint64_t events = (*reader)->events_read();
  const std::optional<TraceTrailer>& trailer = (*reader)->trailer();
  std::string out = absl::StrFormat("slabtrace record: %s\n", path);
  absl::StrAppendFormat(&out,
                        "  events      %d (alloc %d, free %d, resize %d)\n",
                        events, summary.events_by_kind[0],
                        summary.events_by_kind[1], summary.events_by_kind[2]);
  absl::StrAppendFormat(&out, "  markers     %d\n", summary.markers);
  absl::StrAppendFormat(
      &out, "  bytes       %d (%.2f bytes/event)\n", (*reader)->file_size(),
      events == 0 ? 0.0
                  : static_cast<double>((*reader)->file_size()) /
                        static_cast<double>(events));
  if (trailer.has_value()) {
    absl::StrAppendFormat(&out, "  threads     %d\n", trailer->threads());
    absl::StrAppendFormat(&out, "  dropped     %d events\n",
                          trailer->dropped_events());
    absl::StrAppendFormat(
        &out,
        "  waits       %d calls waited for a full ring to drain, %.1f ms in "
        "all\n",
        trailer->ring_full_waits(), trailer->ring_full_wait_ns() / 1e6);
    absl::StrAppendFormat(&out, "  buffers     %.1f MiB recorder ring memory\n",
                          trailer->recorder_buffer_bytes() / 1048576.0);
    absl::StrAppendFormat(&out, "  duration    %.3f s traced, %.3f s wall\n",
                          trailer->end_time_ns() / 1e9, wall_seconds);
    absl::StrAppendFormat(
        &out, "  status      %s\n",
        trailer->complete()
            ? "complete"
            : absl::StrCat("INCOMPLETE: ", trailer->incomplete_reason()));
  } else {
    absl::StrAppendFormat(&out, "  duration    %.3f s traced, %.3f s wall\n",
                          summary.last_time_ns / 1e9, wall_seconds);
    absl::StrAppend(&out,
                    "  status      no trailer (the program ended "
                    "without exit handlers); read up to the last whole "
                    "chunk\n");
  }
  for (const std::string& warning : (*reader)->warnings()) {
    absl::StrAppend(&out, "  warning     ", warning, "\n");
  }
  std::fputs(out.c_str(), stderr);
}

// FILE.<pid> traces that forked children wrote.
void PrintChildTraces(const std::string& path) {
  const std::string directory = Dirname(path);
  const std::string prefix = path.substr(directory.size() + 1) + ".";
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (absl::StartsWith(name, prefix) &&
        name.find_first_not_of("0123456789", prefix.size()) ==
            std::string::npos &&
        name.size() > prefix.size()) {
      names.push_back(name);
    }
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::fprintf(stderr, "  child trace %s/%s\n", directory.c_str(),
                 name.c_str());
  }
}

}  // namespace

int RunRecord(const std::vector<std::string>& args) {
  CommandLine command_line(
      "slabtrace record [-o FILE] [options] -- COMMAND [ARGS...]",
      "Runs COMMAND with the recorder preloaded: every malloc-family call\n"
      "of every thread, with its jemalloc slab, goes into FILE. Signals are\n"
      "forwarded to COMMAND; the exit status is COMMAND's. A summary of the\n"
      "trace goes to stderr. Environment variables it sets (to record a\n"
      "service started by something else, set them yourself): see\n"
      "record/README.md.");
  command_line.AddOption("output", "record.slabtrace", "trace file to write",
                         "o");
  command_line.AddOption("on-fork", "record",
                         "forked children: 'record' into FILE.<pid>, or "
                         "'stop' recording");
  command_line.AddOption("way-in", "auto",
                         "how calls are seen: 'interpose' (symbol "
                         "interposition), 'hooks' (jemalloc's hooks), or "
                         "'auto': hooks only for a program with its own "
                         "jemalloc (record/README.md)");
  command_line.AddOption("on-full", "wait",
                         "a thread whose buffer is full: 'wait' for the "
                         "writer (lossless), or 'drop' the call from the "
                         "trace (never blocks; counted, trace incomplete)");
  command_line.AddOption("ring-events", "32768",
                         "per-thread buffer, in events (64 bytes each)");
  command_line.AddOption("flush-ms", "100",
                         "write the open chunk at least this often");
  command_line.AddOption("chunk-events", "65536", "events per chunk");
  command_line.AddFlag("quiet", "no summary at the end", "q");
  if (std::optional<int> exit_code = command_line.ParseOrExit(args)) {
    return *exit_code;
  }
  if (command_line.positional().empty()) {
    return Fail(
        "no COMMAND to record (usage: slabtrace record -o FILE -- "
        "COMMAND ARGS...)");
  }
  const std::string on_fork = command_line.Get("on-fork");
  if (on_fork != "record" && on_fork != "stop") {
    return Fail("--on-fork wants 'record' or 'stop', got '" + on_fork + "'");
  }
  const std::string way_in = command_line.Get("way-in");
  if (way_in != "auto" && way_in != "interpose" && way_in != "hooks") {
    return Fail("--way-in wants 'auto', 'interpose' or 'hooks', got '" +
                way_in + "'");
  }
  const std::string on_full = command_line.Get("on-full");
  if (on_full != "wait" && on_full != "drop") {
    return Fail("--on-full wants 'wait' or 'drop', got '" + on_full + "'");
  }
  for (const char* name : {"ring-events", "flush-ms", "chunk-events"}) {
    absl::StatusOr<int64_t> value = command_line.GetInt(name);
    if (!value.ok()) return Fail(std::string(value.status().message()));
    if (*value <= 0 || *value > (1 << 30)) {
      return Fail(absl::StrCat("--", name, " must be in 1..", 1 << 30));
    }
  }
  const std::string output = Absolute(command_line.Get("output"));
  // Caught here, before the program starts, rather than inside it.
  const int fd =
      open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Fail(absl::StrCat("cannot write ", output, ": ", strerror(errno)));
  }
  close(fd);
  absl::StatusOr<std::string> library = FindRecorderLibrary();
  if (!library.ok()) return Fail(std::string(library.status().message()));

  std::string preload = *library;
  if (const char* existing = getenv("LD_PRELOAD")) {
    if (*existing != 0) absl::StrAppend(&preload, " ", existing);
  }
  const std::vector<std::string>& command = command_line.positional();
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);

  // Signals that arrive before the child exists are held, then forwarded.
  sigset_t forwarded, previous;
  sigemptyset(&forwarded);
  for (int signal : kForwardedSignals) sigaddset(&forwarded, signal);
  sigprocmask(SIG_BLOCK, &forwarded, &previous);
  const pid_t pid = fork();
  if (pid < 0) {
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    return Fail(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    setenv("LD_PRELOAD", preload.c_str(), 1);
    setenv("SLABTRACE_OUTPUT", output.c_str(), 1);
    setenv("SLABTRACE_ON_FORK", on_fork.c_str(), 1);
    setenv("SLABTRACE_ON_FULL", on_full.c_str(), 1);
    setenv("SLABTRACE_WAY_IN", way_in.c_str(), 1);
    setenv("SLABTRACE_RING_EVENTS", command_line.Get("ring-events").c_str(), 1);
    setenv("SLABTRACE_FLUSH_MS", command_line.Get("flush-ms").c_str(), 1);
    setenv("SLABTRACE_CHUNK_EVENTS", command_line.Get("chunk-events").c_str(),
           1);
    setenv("SLABTRACE_ROOT_PID", std::to_string(getpid()).c_str(), 1);
    std::vector<char*> argv;
    for (const std::string& arg : command) {
      argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "slabtrace record: cannot run %s: %s\n", argv[0],
                 strerror(errno));
    _exit(127);
  }
  child_pid = pid;
  struct sigaction action = {};
  action.sa_sigaction = Forward;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  for (int signal : kForwardedSignals) sigaction(signal, &action, nullptr);
  sigprocmask(SIG_SETMASK, &previous, nullptr);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  child_pid = 0;
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  const double wall =
      (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
  const int exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                        : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                              : 1;
  if (!command_line.GetFlag("quiet")) {
    if (WIFSIGNALED(status)) {
      std::fprintf(stderr, "slabtrace record: %s killed by signal %d\n",
                   command[0].c_str(), WTERMSIG(status));
    }
    PrintSummary(output, wall);
    PrintChildTraces(output);
  }
  return exit_code;
}

}  // namespace slabtrace
