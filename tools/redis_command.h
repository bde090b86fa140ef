#ifndef SLABTRACE_TOOLS_REDIS_COMMAND_H_
#define SLABTRACE_TOOLS_REDIS_COMMAND_H_

#include <string>
#include <vector>

namespace slabtrace {

// `slabtrace redis SCENARIO [options] [-o FILE]`: starts Debian's
// redis-server under `slabtrace record`, drives SCENARIO (tools/redis/
// scenarios.h) with a marker at every phase boundary, shuts Redis down so
// the trace gets its trailer, then prints the replay summary.
int RunRedis(const std::vector<std::string>& args);

// `slabtrace demo`: scatter-delete at the published scale (100,000 keys,
// 1 KiB values, odd keys deleted); accepts the same options to shrink it.
int RunDemo(const std::vector<std::string>& args);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REDIS_COMMAND_H_
