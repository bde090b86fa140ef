// A trace header describing jemalloc 5.3's default x86-64 geometry with
// 4 KiB pages, for unit tests that need a realistic size-class table without
// a recorder: 36 small classes (8 ... 14336) with slab_size = lcm(4096,
// size), then the large classes from 16 KiB to 4 GiB. SlabGeometry::Create
// accepts it.

#ifndef SLABTRACE_PROTO_TESTING_TEST_HEADER_H_
#define SLABTRACE_PROTO_TESTING_TEST_HEADER_H_

#include "proto/trace.pb.h"

namespace slabtrace {

TraceHeader JemallocTestHeader();

}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_TESTING_TEST_HEADER_H_
