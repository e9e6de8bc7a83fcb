#!/usr/bin/env python3
"""Checks the `cmake --install` layout, for a prefix and for DESTDIR staging:

    bin/llm_log_exporter                       the binary (runs --version)
    lib/systemd/system/llm_log_exporter.service   ExecStart= and Documentation=
                                               rewritten to this prefix
    share/doc/llm_log_exporter/README.md, LICENSE
    share/doc/llm_log_exporter/llm_log_exporter-help.txt   = `--help` output
    share/doc/llm_log_exporter/docs/...        every page of docs/
    share/doc/llm_log_exporter/deploy/...      every file of deploy/, unchanged
    share/doc/llm_log_exporter/config/...      every file of config/ (example
                                               configs), unchanged

    check_install.py --repo DIR --build-dir DIR --binary PATH --cmake PATH
"""

import argparse
import os
import subprocess
import sys

from deploy_support import cmake_install, fail, files_under, main

DOC = "share/doc/llm_log_exporter"


def expected_layout(repo, binary, prefix):
    """{relative path: expected bytes, or None for 'same as the binary'}."""
    def read(path):
        with open(path, "rb") as f:
            return f.read()
    help_text = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, timeout=30).stdout
    unit = read(os.path.join(repo, "deploy", "systemd", "llm_log_exporter.service")).decode()
    unit = unit.replace("/usr/local/bin/llm_log_exporter", prefix + "/bin/llm_log_exporter")
    unit = unit.replace("/usr/local/share/doc/llm_log_exporter", prefix + "/" + DOC)
    out = {
        "bin/llm_log_exporter": None,
        "lib/systemd/system/llm_log_exporter.service": unit.encode(),
        DOC + "/README.md": read(os.path.join(repo, "README.md")),
        DOC + "/LICENSE": read(os.path.join(repo, "LICENSE")),
        DOC + "/llm_log_exporter-help.txt": help_text,
    }
    for sub, dest in (("docs", DOC + "/docs"), ("deploy", DOC + "/deploy"),
                      ("config", DOC + "/config")):
        root = os.path.join(repo, sub)
        if os.path.isdir(root):
            for rel in files_under(root):
                out[dest + "/" + rel] = read(os.path.join(root, rel))
    return out


def check_tree(root, prefix, expected, binary):
    """root is where prefix's files landed (prefix itself, or DESTDIR+prefix)."""
    have = set(files_under(root))
    missing = sorted(set(expected) - have)
    if missing:
        fail("install into %s lacks %s" % (root, ", ".join(missing)))
    for rel, want in sorted(expected.items()):
        path = os.path.join(root, rel)
        if want is None:
            if not os.access(path, os.X_OK):
                fail("%s is not executable" % path)
            continue
        with open(path, "rb") as f:
            got = f.read()
        if got != want:
            fail("%s differs from what it should be (%d bytes, expected %d)"
                 % (path, len(got), len(want)))
    installed = os.path.join(root, "bin", "llm_log_exporter")
    out = subprocess.run([installed, "--version"], stdout=subprocess.PIPE, timeout=30)
    if out.returncode != 0 or not out.stdout.startswith(b"llm_log_exporter, version "):
        fail("%s --version: exit %d, %r" % (installed, out.returncode, out.stdout))
    unit = expected["lib/systemd/system/llm_log_exporter.service"].decode()
    if "ExecStart=%s/bin/llm_log_exporter $LLE_ARGS" % prefix not in unit:
        fail("installed unit's ExecStart= does not name %s/bin/llm_log_exporter" % prefix)
    extra = sorted(have - set(expected))
    print("  ok  %d files for prefix %s in %s%s" % (len(expected), prefix, root,
          "; also installed: " + ", ".join(extra) if extra else ""))
    for rel in sorted(have):
        if "/deploy/" not in rel and "/config/" not in rel:
            print("        %s" % rel)
    for sub in ("deploy", "config"):
        print("        %s/%s/... (%d files)" % (DOC, sub, sum("/%s/" % sub in r for r in have)))


def run(args, tmp, children):
    prefix = os.path.join(tmp, "prefix")
    cmake_install(args.cmake, args.build_dir, prefix)
    check_tree(prefix, prefix, expected_layout(args.repo, args.binary, prefix), args.binary)

    # Staged for a package: paths inside the files name the final prefix.
    destdir = os.path.join(tmp, "destdir")
    cmake_install(args.cmake, args.build_dir, "/usr", destdir)
    if sorted(os.listdir(destdir)) != ["usr"]:
        fail("DESTDIR install wrote outside DESTDIR/usr: %s" % os.listdir(destdir))
    check_tree(os.path.join(destdir, "usr"), "/usr", expected_layout(args.repo, args.binary,
                                                                     "/usr"), args.binary)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--repo", "--build-dir", "--binary", "--cmake"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    sys.exit(main(lambda tmp, children: run(args, tmp, children)))
