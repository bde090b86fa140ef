"""slabtrace_test: gate CI on a recorded allocation trace.

Load it from another repository as

    load("@slabtrace//tools:defs.bzl", "slabtrace_test")

    slabtrace_test(
        name = "scatter_delete_dsr",
        trace = "traces/scatter-delete.slabtrace",
        expect = [
            "dsr@deleted>=0.4",
            "peak_footprint<=64MiB",
        ],
    )

The test replays the trace with `slabtrace check` and fails with one
readable line per expectation that does not hold. The expectation grammar is
in tools/check_command.h and `slabtrace check --help`.
"""

def _shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"

def _slabtrace_test_impl(ctx):
    tool = ctx.executable._slabtrace
    args = ["check", ctx.file.trace.short_path]
    if ctx.attr.policies:
        args.append("--policies=" + ",".join(ctx.attr.policies))
    for expectation in ctx.attr.expect:
        args.append("--expect=" + expectation)

    # short_path is relative to the test's runfiles directory, also for a
    # tool that lives in another repository ("../slabtrace/tools/...").
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(
        output = script,
        content = "#!/bin/sh\nexec {} {} \"$@\"\n".format(
            _shell_quote(tool.short_path),
            " ".join([_shell_quote(a) for a in args]),
        ),
        is_executable = True,
    )
    runfiles = ctx.runfiles(files = [ctx.file.trace, tool])
    runfiles = runfiles.merge(ctx.attr._slabtrace[DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

_slabtrace_test = rule(
    implementation = _slabtrace_test_impl,
    test = True,
    attrs = {
        "trace": attr.label(allow_single_file = True, mandatory = True),
        "policies": attr.string_list(),
        "expect": attr.string_list(allow_empty = False, mandatory = True),
        "_slabtrace": attr.label(
            # Label() resolves against this file's repository, so the rule
            # finds the tool when loaded as @slabtrace//tools:defs.bzl.
            default = Label("//tools:slabtrace"),
            executable = True,
            cfg = "target",
        ),
    },
)

def slabtrace_test(name, trace, expect, policies = [], **kwargs):
    """A test that replays `trace` and checks each expectation.

    Args:
      name: the test's name.
      trace: a .slabtrace file (a label).
      expect: expectations, as a list of strings ("dsr@deleted>=0.4") or a
        dict from subject to condition ({"dsr@deleted": ">=0.4"}).
      policies: placement policies to compare besides those the
        expectations name (see `slabtrace compare`).
      **kwargs: common test attributes (size, tags, timeout, ...).
    """
    if type(expect) == "dict":
        expect = [subject + condition for subject, condition in expect.items()]
    _slabtrace_test(
        name = name,
        trace = trace,
        expect = expect,
        policies = policies,
        **kwargs
    )
