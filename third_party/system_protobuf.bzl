"""A repository over the system's protoc and libprotobuf (Debian's 3.21).

Bazel's native proto_library and cc_proto_library look for
@com_google_protobuf//:protoc, :protobuf and :cc_toolchain. This rule
provides them from what `apt-get install protobuf-compiler libprotobuf-dev`
installed, so nothing is built from source or downloaded.
"""

_BUILD = """
package(default_visibility = ["//visibility:public"])

sh_binary(
    name = "protoc",
    srcs = ["protoc.sh"],
)

cc_library(
    name = "protobuf",
    linkopts = ["-lprotobuf"],
)

cc_library(
    name = "protobuf_lite",
    linkopts = ["-lprotobuf-lite"],
)

proto_lang_toolchain(
    name = "cc_toolchain",
    command_line = "--cpp_out=$(OUT)",
    runtime = ":protobuf",
)
"""

def _system_protobuf_impl(ctx):
    protoc = ctx.which("protoc")
    if protoc == None:
        fail("protoc not found: install Debian's protobuf-compiler " +
             "(scripts/install_deps.sh does)")
    ctx.file("protoc.sh", "#!/bin/sh\nexec '%s' \"$@\"\n" % protoc, executable = True)
    ctx.file("BUILD", _BUILD)
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)

system_protobuf = repository_rule(
    implementation = _system_protobuf_impl,
    local = True,
)
