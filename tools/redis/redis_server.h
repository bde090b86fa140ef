// RedisServer runs one private Debian redis-server for a workload or a test:
// on 127.0.0.1 and a free port, in its own temporary directory, without
// persistence unless asked. It may run under a command prefix and extra
// environment, which is how the recorder gets in, e.g.
//   prefix {"slabtrace", "record", "-o", "r.slabtrace", "--"}.
//
// It promises that the server is answering PING when Start() returns, and
// that it is gone when Stop() returns or the object is destroyed, whatever
// happened in between: SHUTDOWN NOSAVE first (so a recorder sees a clean
// exit and writes its trailer), then SIGTERM, then SIGKILL to the whole
// process group after a timeout. It never talks to a non-loopback address.

#ifndef SLABTRACE_TOOLS_REDIS_REDIS_SERVER_H_
#define SLABTRACE_TOOLS_REDIS_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/redis/resp_client.h"

namespace slabtrace {

struct RedisServerOptions {
  // A name looked up in PATH, or a path.
  std::string binary = "redis-server";
  // Runs `prefix... redis-server args...` instead of redis-server itself.
  std::vector<std::string> command_prefix;
  // Set in the child's environment on top of ours.
  std::vector<std::pair<std::string, std::string>> environment;
  // Appended to redis-server's own arguments, e.g. {"--maxmemory", "1gb"}.
  std::vector<std::string> extra_args;
  // RDB snapshots on (default: `--save '' --appendonly no`).
  bool persistence = false;
  // Where the private directory is created; "" means $TEST_TMPDIR, else
  // $TMPDIR, else /tmp.
  std::string temp_root;
  bool keep_directory = false;  // for debugging: do not delete it on Stop().
  absl::Duration start_timeout = absl::Seconds(20);
  absl::Duration stop_timeout = absl::Seconds(20);
  int port_attempts = 5;  // tries with a new port on "Address already in use"
};

class RedisServer {
 public:
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      const RedisServerOptions& options);

  ~RedisServer();  // Stop(), ignoring its result.
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  // The process we started (the prefix command when there is one).
  pid_t child_pid() const { return child_pid_; }
  // redis-server's own pid, as it reports in INFO server.
  pid_t server_pid() const { return server_pid_; }
  const std::string& directory() const { return directory_; }
  // redis-server's log and the child's stdout+stderr (e.g. the recorder's
  // summary); readable after Stop() too. The destructor removes the
  // directory.
  std::string ReadLog() const;
  std::string ReadConsole() const;

  // A new connection to the server.
  absl::StatusOr<std::unique_ptr<RespClient>> Connect() const;

  // Shuts the server down and waits for the child. Returns its exit status
  // as a shell would (128 + signal when killed); an error only when it
  // could not be stopped at all. Idempotent.
  absl::StatusOr<int> Stop();

 private:
  RedisServer() = default;
  absl::Status StartOnce(const RedisServerOptions& options,
                         const std::string& binary, int port);
  absl::Status WaitUntilReady(absl::Duration timeout);
  // Waits up to `timeout` for the child; true once it has been reaped.
  bool WaitForExit(absl::Duration timeout);
  void KillGroup(int signal);
  void RemoveDirectory();

  int port_ = 0;
  pid_t child_pid_ = -1;
  pid_t server_pid_ = -1;
  bool reaped_ = false;
  int exit_status_ = 0;
  bool keep_directory_ = false;
  absl::Duration stop_timeout_;
  std::string directory_;
};

// The path of `binary` (a PATH lookup when it has no '/'), or NotFound
// with the hint "redis-server not found: apt-get install redis-server".
absl::StatusOr<std::string> FindRedisServer(const std::string& binary);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
absl::StatusOr<int> PickFreeLoopbackPort();

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REDIS_REDIS_SERVER_H_
