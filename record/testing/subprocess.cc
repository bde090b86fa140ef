#include "record/testing/subprocess.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace slabtrace {

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

std::string RunfilePath(const std::string& path) {
  const char* root = getenv("TEST_SRCDIR");
  return absl::StrCat(root != nullptr ? root : ".", "/slabtrace/", path);
}

std::string TestDirectory(const std::string& name) {
  const char* root = getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(root != nullptr ? root : "/tmp", "/", name);
  mkdir(path.c_str(), 0755);
  return path;
}

absl::StatusOr<pid_t> StartProcess(const std::vector<std::string>& argv,
                                   const ProcessOptions& options) {
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    const std::string out =
        options.output_path.empty() ? "/dev/null" : options.output_path;
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    const std::string in =
        options.input_path.empty() ? "/dev/null" : options.input_path;
    const int input = open(in.c_str(), O_RDONLY);
    if (input >= 0) dup2(input, 0);
    if (options.in_child) options.in_child();
    std::vector<char*> args;
    for (const std::string& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

absl::StatusOr<int> WaitProcess(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return absl::InternalError(strerror(errno));
    if (absl::Now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid, " still running after ",
                       absl::FormatDuration(timeout), "; killed"));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

absl::StatusOr<int> RunProcess(const std::vector<std::string>& argv,
                               absl::Duration timeout,
                               const ProcessOptions& options) {
  absl::StatusOr<pid_t> pid = StartProcess(argv, options);
  if (!pid.ok()) return pid.status();
  return WaitProcess(*pid, timeout);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace slabtrace
