#include "tools/redis/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace slabtrace {
namespace {

constexpr char kLoopback[] = "127.0.0.1";
constexpr char kNotFoundHint[] =
    "redis-server not found: apt-get install redis-server";

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The last few lines of a log, for error messages.
std::string Tail(const std::string& text, int lines) {
  size_t pos = text.size();
  while (lines-- > 0 && pos > 0) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

std::string TempRoot(const std::string& configured) {
  if (!configured.empty()) return configured;
  for (const char* name : {"TEST_TMPDIR", "TMPDIR"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return "/tmp";
}

// argv and envp as the NUL-terminated arrays execve wants; built before
// fork because the child of a threaded program must not allocate.
struct ExecArgs {
  std::vector<std::string> strings;
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;

  void Finish() {
    for (std::string& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

ExecArgs BuildExecArgs(const RedisServerOptions& options,
                       const std::string& binary, int port,
                       const std::string& directory) {
  ExecArgs exec;
  exec.strings = options.command_prefix;
  for (std::string arg :
       {binary, std::string("--port"), absl::StrCat(port),
        std::string("--bind"), std::string(kLoopback), std::string("--dir"),
        directory, std::string("--logfile"), directory + "/redis.log",
        std::string("--daemonize"), std::string("no"),
        // DEBUG SET-ACTIVE-EXPIRE makes the expire scenario deterministic.
        std::string("--enable-debug-command"), std::string("local")}) {
    exec.strings.push_back(std::move(arg));
  }
  if (!options.persistence) {
    for (const char* arg : {"--save", "", "--appendonly", "no"}) {
      exec.strings.emplace_back(arg);
    }
  }
  exec.strings.insert(exec.strings.end(), options.extra_args.begin(),
                      options.extra_args.end());

  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view entry(*e);
    const bool overridden =
        std::any_of(options.environment.begin(), options.environment.end(),
                    [&](const auto& kv) {
                      return absl::StartsWith(entry, kv.first + "=");
                    });
    if (!overridden) exec.env_strings.emplace_back(entry);
  }
  for (const auto& [name, value] : options.environment) {
    exec.env_strings.push_back(absl::StrCat(name, "=", value));
  }
  exec.Finish();
  return exec;
}

int ShellStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

}  // namespace

absl::StatusOr<std::string> FindRedisServer(const std::string& binary) {
  if (binary.find('/') != std::string::npos) {
    if (access(binary.c_str(), X_OK) == 0) return binary;
    return absl::NotFoundError(absl::StrCat(binary, ": ", kNotFoundHint));
  }
  const char* path = std::getenv("PATH");
  std::string search = (path != nullptr && *path != '\0')
                           ? path
                           : "/usr/local/bin:/usr/bin:/bin";
  // Debian installs it in /usr/bin; sandboxes sometimes strip PATH.
  absl::StrAppend(&search, ":/usr/bin:/usr/sbin");
  for (absl::string_view dir : absl::StrSplit(search, ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/", binary);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(kNotFoundHint);
}

absl::StatusOr<int> PickFreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot pick a free loopback port: ", strerror(error)));
  }
  close(fd);
  return ntohs(address.sin_port);
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    const RedisServerOptions& options) {
  absl::StatusOr<std::string> binary = FindRedisServer(options.binary);
  if (!binary.ok()) return binary.status();

  std::unique_ptr<RedisServer> server(new RedisServer());
  server->keep_directory_ = options.keep_directory;
  server->stop_timeout_ = options.stop_timeout;
  std::string pattern = TempRoot(options.temp_root) + "/slabtrace-redis-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        pattern, ": cannot create a temporary directory: ", strerror(errno)));
  }
  server->directory_ = pattern;

  absl::Status last = absl::UnavailableError("no attempt made");
  for (int attempt = 0; attempt < std::max(1, options.port_attempts);
       ++attempt) {
    absl::StatusOr<int> port = PickFreeLoopbackPort();
    if (!port.ok()) return port.status();
    last = server->StartOnce(options, *binary, *port);
    if (last.ok()) return server;
    // Another process took the port between our probe and redis's bind.
    const bool port_taken =
        absl::StrContains(server->ReadLog(), "Address already in use");
    server->Stop().IgnoreError();
    if (!port_taken) break;
    std::filesystem::remove(server->directory_ + "/redis.log");
  }
  return last;
}

absl::Status RedisServer::StartOnce(const RedisServerOptions& options,
                                    const std::string& binary, int port) {
  port_ = port;
  reaped_ = false;
  server_pid_ = -1;
  ExecArgs exec = BuildExecArgs(options, binary, port, directory_);
  const std::string console = directory_ + "/console.log";
  const int out_fd =
      open(console.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) {
    return absl::UnavailableError(absl::StrCat(console, ": ", strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(out_fd);
    return absl::ResourceExhaustedError(
        absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // Own process group, so that a last-resort SIGKILL reaches a server
    // running under a prefix command; SIGTERM if we die without stopping it.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    if (chdir(directory_.c_str()) != 0) _exit(127);
    execvpe(exec.argv[0], exec.argv.data(), exec.envp.data());
    const char message[] = "redis_server: exec failed\n";
    (void)!write(STDERR_FILENO, message, sizeof(message) - 1);
    _exit(127);
  }
  close(out_fd);
  setpgid(pid, pid);  // also here, so the group exists before we signal it
  child_pid_ = pid;
  return WaitUntilReady(options.start_timeout);
}

absl::Status RedisServer::WaitUntilReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (WaitForExit(absl::ZeroDuration())) {
      return absl::UnavailableError(absl::StrCat(
          "redis-server on port ", port_, " exited with status ", exit_status_,
          " before answering: ", Tail(ReadLog() + ReadConsole(), 3)));
    }
    absl::StatusOr<std::unique_ptr<RespClient>> client =
        RespClient::Connect(kLoopback, port_, absl::Milliseconds(500));
    if (client.ok()) {
      // Another server may hold the port; ours is the one in our directory.
      absl::StatusOr<RespReply> dir = (*client)->Call({"CONFIG", "GET", "dir"});
      if (dir.ok() && dir->elements.size() == 2 &&
          dir->elements[1].str == directory_) {
        absl::StatusOr<RespReply> info = (*client)->Call({"INFO", "server"});
        if (info.ok()) {
          for (const auto& [key, value] : ParseInfo(info->str)) {
            int pid = 0;
            if (key == "process_id" && absl::SimpleAtoi(value, &pid)) {
              server_pid_ = pid;
            }
          }
        }
        return absl::OkStatus();
      }
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("redis-server on port ", port_, " did not answer within ",
                   absl::FormatDuration(timeout), ": ", Tail(ReadLog(), 3)));
}

bool RedisServer::WaitForExit(absl::Duration timeout) {
  if (reaped_ || child_pid_ < 0) return true;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(child_pid_, &status, WNOHANG);
    if (r == child_pid_ || (r < 0 && errno == ECHILD)) {
      reaped_ = true;
      exit_status_ = r == child_pid_ ? ShellStatus(status) : 255;
      return true;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void RedisServer::KillGroup(int signal) {
  // Only while the child is unreaped: its pid, and so our group id, cannot
  // have been reused by anyone else.
  if (child_pid_ > 0 && !reaped_) kill(-child_pid_, signal);
}

absl::StatusOr<int> RedisServer::Stop() {
  if (child_pid_ < 0) return exit_status_;
  if (!reaped_) {
    absl::StatusOr<std::unique_ptr<RespClient>> client =
        RespClient::Connect(kLoopback, port_, absl::Seconds(2));
    if (client.ok()) {
      // Redis closes the connection instead of replying; that is success.
      (*client)->Call({"SHUTDOWN", "NOSAVE"}).IgnoreError();
    }
    if (!WaitForExit(stop_timeout_)) {
      KillGroup(SIGTERM);
      if (!WaitForExit(stop_timeout_)) {
        KillGroup(SIGKILL);
        WaitForExit(absl::Seconds(10));
      }
    }
  }
  if (!reaped_) {
    return absl::InternalError(absl::StrCat("redis-server (pid ", child_pid_,
                                            ") could not be stopped"));
  }
  child_pid_ = -1;
  return exit_status_;
}

void RedisServer::RemoveDirectory() {
  if (keep_directory_ || directory_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
  directory_.clear();
}

RedisServer::~RedisServer() {
  Stop().IgnoreError();
  RemoveDirectory();
}

std::string RedisServer::ReadLog() const {
  return ReadFileOrEmpty(directory_ + "/redis.log");
}

std::string RedisServer::ReadConsole() const {
  return ReadFileOrEmpty(directory_ + "/console.log");
}

absl::StatusOr<std::unique_ptr<RespClient>> RedisServer::Connect() const {
  return RespClient::Connect(kLoopback, port_);
}

}  // namespace slabtrace
