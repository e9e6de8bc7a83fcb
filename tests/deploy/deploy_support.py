"""Helpers shared by the tests of deploy/: the real daemon as a child process,
its --help flags and default port, Debian package look-ups, and a main()
wrapper that always cleans up. Process and HTTP helpers come from the
Prometheus end-to-end test (tests/e2e/prometheus_e2e.py)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from prometheus_e2e import (Child, Deadline, NotYet, TestFailure, fail, http_get,  # noqa: E402,F401
                            wait_for)


def require_tool(name):
    """Absolute path of a program, or a failure saying which package has it."""
    path = shutil.which(name)
    if not path:
        packages = {"apt-cache": "apt", "dpkg": "dpkg", "dpkg-query": "dpkg", "ldd": "libc-bin",
                    "systemd-analyze": "systemd"}
        fail("%s not found: install the Debian package `%s`" % (name, packages.get(name, name)))
    return path


def default_port(repo):
    """kDefaultPort from include/llm_log_exporter/app/options.h."""
    path = os.path.join(repo, "include", "llm_log_exporter", "app", "options.h")
    with open(path) as f:
        m = re.search(r"kDefaultPort\s*=\s*(\d+)\s*;", f.read())
    if not m:
        fail("%s: no `kDefaultPort = N;`" % path)
    return int(m.group(1))


def help_flags(binary):
    """Every long flag that `llm_log_exporter --help` lists."""
    out = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=30)
    if out.returncode != 0:
        fail("%s --help exited %d: %s" % (binary, out.returncode, out.stderr.decode()[:300]))
    flags = set(re.findall(r"(?:^|[\s,])(--[a-z][a-z0-9.-]*)", out.stdout.decode()))
    if "--web.listen-address" not in flags:
        fail("%s --help lists no --web.listen-address: cannot read its flags" % binary)
    return flags


def flag_names(args):
    """The --flag names in an argument list (`--a=b` and `--a b` forms)."""
    return [a.split("=", 1)[0] for a in args if a.startswith("--")]


def check_flags_exist(where, args, known):
    unknown = [f for f in flag_names(args) if f not in known]
    if unknown:
        fail("%s uses %s, which `llm_log_exporter --help` does not list"
             % (where, ", ".join(unknown)))


def flag_value(args, flag, default=None):
    """Value of the last `--flag=V` or `--flag V` in args."""
    value = default
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(flag + "="):
            value = a.split("=", 1)[1]
    return value


def replace_flag(args, flag, value):
    """args without any `--flag[=V]` / `--flag V`, then `--flag=value`."""
    out, skip = [], False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a == flag:
            skip = True
            continue
        if a.startswith(flag + "="):
            continue
        out.append(a)
    return out + ["%s=%s" % (flag, value)]


def start_daemon(binary, args, children, name="llm_log_exporter"):
    """Starts the daemon with args on 127.0.0.1:0; returns (child, port)."""
    argv = [binary] + replace_flag(args, "--web.listen-address", "127.0.0.1:0")
    child = Child(name, argv, stdin=subprocess.DEVNULL)
    children.append(child)
    m = wait_for(Deadline(20), "`listening on` from " + " ".join(argv),
                 lambda: child.find(r"listening on \S*:(\d+) "), [child])
    return child, int(m.group(1))


def wait_for_status(url, want, children, seconds=20):
    def probe():
        status, _ = http_get(url)
        if status != want:
            raise NotYet("HTTP %d" % status)
        return True
    wait_for(Deadline(seconds), "GET %s to answer %d" % (url, want), probe, children)


def sample_value(exposition, name, labels):
    """Value of one sample in Prometheus text format, or None."""
    for line in exposition.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def wait_for_sample(port, name, labels, want, children, seconds=20):
    url = "http://127.0.0.1:%d/metrics" % port

    def probe():
        status, body = http_get(url)
        got = sample_value(body.decode(), name, labels) if status == 200 else None
        if got != want:
            raise NotYet("HTTP %d, value %s" % (status, got))
        return True
    wait_for(Deadline(seconds), "%s%s = %s on :%d" % (name, labels, want, port), probe, children)


def apt_known_packages(names):
    """The real packages among names that the local Debian package lists have
    (one apt-cache call: each takes seconds)."""
    out = subprocess.run([require_tool("apt-cache"), "show", "--no-all-versions"] + sorted(names),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return set(re.findall(r"(?m)^Package: (\S+)$", out.stdout.decode())) & set(names)


def owning_packages(paths):
    """{path: Debian package that installed it} for files, in one dpkg-query
    call (each scans the whole database); /lib and /usr/lib are the same
    directory on a merged-/usr system, so both spellings are asked."""
    candidates = {}
    for path in paths:
        spellings = [path, os.path.realpath(path)]
        for p in list(spellings):
            spellings.append(p[len("/usr"):] if p.startswith("/usr/") else "/usr" + p)
        candidates[path] = spellings
    asked = sorted({p for spellings in candidates.values() for p in spellings})
    out = subprocess.run([require_tool("dpkg-query"), "-S"] + asked, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=120)
    owner = {}
    for line in out.stdout.decode().splitlines():
        # "pkg:arch: /path" or "pkg1, pkg2: /path"
        owners, _, owned = line.rpartition(": ")
        owner[owned] = sorted(o.strip().split(":")[0] for o in owners.split(","))[0]
    found = {}
    for path, spellings in candidates.items():
        hits = [owner[p] for p in spellings if p in owner]
        if not hits:
            fail("no Debian package owns %s (dpkg-query -S)" % path)
        found[path] = hits[0]
    return found


def main(run):
    """Runs run(tmpdir, children); stops every child and removes tmpdir on any
    exit path; prints PASS or FAIL and returns the exit code."""
    ok = False
    tmp = tempfile.mkdtemp(prefix="lle-deploy-")
    children = []

    def on_signal(signum, frame):
        raise TestFailure("killed by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        run(tmp, children)
        ok = True
    except TestFailure as e:
        print("\nFAIL: %s" % e, flush=True)
    except Exception as e:  # a bug here must still clean up and say what happened
        traceback.print_exc()
        print("\nFAIL: unexpected %s: %s" % (type(e).__name__, e), flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children):
            try:
                child.stop()
            except Exception as e:  # keep cleaning up
                print("stopping %s: %s" % (child.name, e))
            if not ok:
                print("--- last stderr lines of %s:" % " ".join(child.argv))
                for line in child.tail():
                    print("    " + line)
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS" if ok else "FAILED", flush=True)
    return 0 if ok else 1


def cmake_install(cmake, build_dir, prefix, destdir=None):
    """`cmake --install build_dir --prefix prefix` (with DESTDIR when given)."""
    env = dict(os.environ)
    env.pop("DESTDIR", None)
    if destdir:
        env["DESTDIR"] = destdir
    out = subprocess.run([cmake, "--install", build_dir, "--prefix", prefix], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if out.returncode != 0:
        fail("cmake --install %s --prefix %s%s exited %d:\n%s"
             % (build_dir, prefix, " (DESTDIR=%s)" % destdir if destdir else "",
                out.returncode, out.stdout.decode()[-2000:]))


def files_under(root):
    """Sorted paths of every file under root, relative to it."""
    out = []
    for dirpath, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    return sorted(out)
