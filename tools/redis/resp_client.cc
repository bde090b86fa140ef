#include "tools/redis/resp_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace slabtrace {
namespace {

RespReply Convert(const redisReply& reply) {
  RespReply out;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      out.type = RespReply::Type::kString;
      out.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RespReply::Type::kStatus;
      out.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RespReply::Type::kError;
      out.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RespReply::Type::kInteger;
      out.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RespReply::Type::kArray;
      out.elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) {
        out.elements.push_back(Convert(*reply.element[i]));
      }
      break;
    default:
      out.type = RespReply::Type::kNil;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RespClient>> RespClient::Connect(
    const std::string& host, int port, absl::Duration timeout) {
  const std::string address = absl::StrCat(host, ":", port);
  redisContext* context =
      redisConnectWithTimeout(host.c_str(), port, absl::ToTimeval(timeout));
  if (context == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("redis ", address, ": cannot allocate a connection"));
  }
  if (context->err != 0) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("redis ", address, ": connect: ", context->errstr));
    redisFree(context);
    return status;
  }
  if (redisSetTimeout(context, absl::ToTimeval(timeout)) != REDIS_OK) {
    redisFree(context);
    return absl::InternalError(
        absl::StrCat("redis ", address, ": cannot set the socket timeout"));
  }
  return std::unique_ptr<RespClient>(new RespClient(context, address));
}

RespClient::RespClient(redisContext* context, std::string address)
    : context_(context), address_(std::move(address)) {}

RespClient::~RespClient() { redisFree(context_); }

void RespClient::Append(absl::Span<const absl::string_view> argv) {
  // hiredis wants parallel arrays; commands have a handful of arguments.
  const char* args[16];
  size_t lengths[16];
  std::vector<const char*> big_args;
  std::vector<size_t> big_lengths;
  const char** arg_ptr = args;
  size_t* len_ptr = lengths;
  if (argv.size() > 16) {
    big_args.resize(argv.size());
    big_lengths.resize(argv.size());
    arg_ptr = big_args.data();
    len_ptr = big_lengths.data();
  }
  for (size_t i = 0; i < argv.size(); ++i) {
    arg_ptr[i] = argv[i].data();
    len_ptr[i] = argv[i].size();
  }
  // Appending only fails when out of memory; the context then carries the
  // error and the next read reports it.
  redisAppendCommandArgv(context_, static_cast<int>(argv.size()), arg_ptr,
                         len_ptr);
  ++pending_;
  pending_names_.emplace_back(argv.empty() ? "" : argv[0]);
}

absl::Status RespClient::TransportError() const {
  return absl::UnavailableError(absl::StrCat(
      "redis ", address_, ": ",
      context_->err != 0 ? context_->errstr : "connection failed"));
}

absl::StatusOr<RespReply> RespClient::ReadOne() {
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
    if (raw != nullptr) freeReplyObject(raw);
    return TransportError();
  }
  RespReply reply = Convert(*static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

absl::StatusOr<std::vector<RespReply>> RespClient::ReadReplies() {
  std::vector<RespReply> replies;
  replies.reserve(pending_);
  while (pending_ > 0) {
    absl::StatusOr<RespReply> reply = ReadOne();
    if (!reply.ok()) return reply.status();
    replies.push_back(*std::move(reply));
    --pending_;
  }
  pending_names_.clear();
  return replies;
}

absl::Status RespClient::ReadAndCheckReplies() {
  absl::Status first_error;
  for (size_t i = 0; pending_ > 0; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      if (raw != nullptr) freeReplyObject(raw);
      return TransportError();
    }
    --pending_;
    const redisReply* reply = static_cast<redisReply*>(raw);
    // Keep reading after an error so that the replies stay in step.
    if (reply->type == REDIS_REPLY_ERROR && first_error.ok()) {
      first_error = absl::FailedPreconditionError(
          absl::StrCat("redis ", address_, ": ", pending_names_[i], ": ",
                       absl::string_view(reply->str, reply->len)));
    }
    freeReplyObject(raw);
  }
  pending_names_.clear();
  return first_error;
}

absl::StatusOr<RespReply> RespClient::Call(
    absl::Span<const absl::string_view> argv) {
  if (absl::Status s = ReadAndCheckReplies(); !s.ok()) return s;
  Append(argv);
  absl::StatusOr<RespReply> reply = ReadOne();
  pending_ = 0;
  pending_names_.clear();
  if (!reply.ok()) return reply.status();
  if (reply->type == RespReply::Type::kError) {
    return absl::FailedPreconditionError(
        absl::StrCat("redis ", address_, ": ", argv.empty() ? "" : argv[0],
                     ": ", reply->str));
  }
  return reply;
}

absl::StatusOr<int64_t> RespClient::CallInteger(
    std::initializer_list<absl::string_view> argv) {
  absl::StatusOr<RespReply> reply = Call(argv);
  if (!reply.ok()) return reply.status();
  if (reply->type != RespReply::Type::kInteger) {
    return absl::FailedPreconditionError(
        absl::StrCat("redis ", address_, ": ", *argv.begin(),
                     ": expected an integer reply"));
  }
  return reply->integer;
}

std::vector<std::pair<std::string, std::string>> ParseInfo(
    absl::string_view info) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (absl::string_view line : absl::StrSplit(info, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    fields.emplace_back(std::string(line.substr(0, colon)),
                        std::string(line.substr(colon + 1)));
  }
  return fields;
}

}  // namespace slabtrace
