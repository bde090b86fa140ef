// RespClient is a pipelined Redis client over hiredis, built for driving
// workloads fast: Append() queues commands without waiting, and one
// Read*() call sends them all and collects every reply, so a batch of N
// commands costs one round trip instead of N.
//
// It promises that no reply is ever lost or mismatched: after Append() x N,
// the next Read*() returns or checks exactly N replies, in order. A broken
// connection or a Redis error reply becomes an absl::Status naming the
// server address and the command that failed. Not thread-safe.

#ifndef SLABTRACE_TOOLS_REDIS_RESP_CLIENT_H_
#define SLABTRACE_TOOLS_REDIS_RESP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

struct redisContext;

namespace slabtrace {

// A decoded RESP reply.
struct RespReply {
  enum class Type { kString, kStatus, kInteger, kNil, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RespReply> elements;  // kArray
};

class RespClient {
 public:
  // Connects to host:port (a loopback address in slabtrace's own use);
  // `timeout` bounds the connect and every later read or write.
  static absl::StatusOr<std::unique_ptr<RespClient>> Connect(
      const std::string& host, int port,
      absl::Duration timeout = absl::Seconds(30));

  ~RespClient();
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;

  // Queues one command. Nothing is sent until the next Read*() call.
  void Append(absl::Span<const absl::string_view> argv);
  void Append(std::initializer_list<absl::string_view> argv) {
    Append(absl::Span<const absl::string_view>(argv.begin(), argv.size()));
  }
  // Commands queued and not yet answered.
  int64_t pending() const { return pending_; }

  // Sends the queued commands and returns all their replies in order
  // (error replies included, as Type::kError).
  absl::StatusOr<std::vector<RespReply>> ReadReplies();
  // Sends the queued commands and reads their replies without keeping
  // them; the first error reply becomes an error naming its command.
  absl::Status ReadAndCheckReplies();

  // Runs one command and returns its reply; an error reply is an error.
  // Anything queued before it is answered first and checked.
  absl::StatusOr<RespReply> Call(absl::Span<const absl::string_view> argv);
  absl::StatusOr<RespReply> Call(
      std::initializer_list<absl::string_view> argv) {
    return Call(absl::Span<const absl::string_view>(argv.begin(), argv.size()));
  }
  // Call() for commands whose reply is an integer (DBSIZE, DEL, ...).
  absl::StatusOr<int64_t> CallInteger(
      std::initializer_list<absl::string_view> argv);

  const std::string& address() const { return address_; }

 private:
  RespClient(redisContext* context, std::string address);
  // Reads one reply; a transport failure is an error, an error reply is not.
  absl::StatusOr<RespReply> ReadOne();
  absl::Status TransportError() const;

  redisContext* context_;
  std::string address_;
  int64_t pending_ = 0;
  // First word of each pending command, to name the one that failed.
  std::vector<std::string> pending_names_;
};

// Parses the text of an INFO reply ("# Memory\r\nused_memory:123\r\n...")
// into its key/value pairs, in the order Redis listed them.
std::vector<std::pair<std::string, std::string>> ParseInfo(
    absl::string_view info);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REDIS_RESP_CLIENT_H_
