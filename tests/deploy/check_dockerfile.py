#!/usr/bin/env python3
"""Checks deploy/Dockerfile against the build it packages (no container
engine needed):

1. The build stage installs the Debian package behind every find_package() /
   pkg_check_modules() of the top-level CMakeLists.txt, as this build's
   CMakeCache.txt found them (dpkg-query -S), and every package of .ci/run's
   build_packages; README.md's two set-up commands install exactly .ci/run's
   build_packages and test_packages.
2. Every package either stage names exists in the Debian archive (apt-cache).
3. The final stage installs the package of every shared library that the
   files `cmake --install` puts in the image load (ldd on each ELF file: the
   binary and the TLS shims), except those apt depends on (in every Debian
   image).
4. Final stage: debian:bookworm-slim, non-root USER, EXPOSE of the default
   port, ENTRYPOINT the daemon, and a HEALTHCHECK whose command, run here for
   real, passes against the daemon (plain, and with TLS, basic auth or both
   from --web.config.file) and fails against a closed port and a server
   answering 503.

    check_dockerfile.py --repo DIR --build-dir DIR --binary PATH --cmake PATH
"""

import argparse
import http.server
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading

from deploy_support import (apt_known_packages, cmake_install, default_port, fail, files_under,
                            main, owning_packages, require_tool, start_daemon, wait_for_status)

# find_package() names that need no package of their own.
NO_PACKAGE = {"Threads", "PkgConfig"}
# Sanitizer runtimes appear in ldd only for an -DLLE_SANITIZE=ON build.
SANITIZER_LIBS = re.compile(r"^lib(asan|ubsan|lsan|tsan)\.so")


def parse_dockerfile(path):
    """[(stage base image, [(INSTRUCTION, text)])] with continuations joined,
    comments dropped and ARG defaults given before the first FROM applied."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", re.sub(r"(?m)^\s*#.*\n", "", text))
    args, stages = {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and not stages:
            name, _, value = rest.strip().partition("=")
            args[name] = value
        elif word == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)),
                           rest.split()[0])
            stages.append((image, []))
        elif stages:
            stages[-1][1].append((word, rest.strip()))
    if len(stages) < 2:
        fail("%s: expected a build stage and a final stage, found %d FROM" % (path, len(stages)))
    return stages


def apt_installs(instructions):
    """Package names of every `apt-get install` in RUN instructions."""
    out = []
    for word, text in instructions:
        if word != "RUN":
            continue
        for command in re.split(r"&&|;", text):
            tokens = shlex.split(command)
            if "apt-get" in tokens and "install" in tokens:
                after = tokens[tokens.index("install") + 1:]
                out += [t for t in after if not t.startswith("-")]
    return out


def ci_packages(repo, name):
    """The packages of the bash array `name` in .ci/run."""
    path = os.path.join(repo, ".ci", "run")
    with open(path) as f:
        m = re.search(r"(?ms)^%s=\((.*?)\)" % re.escape(name), f.read())
    if not m:
        fail("%s: no %s=(...) list" % (path, name))
    return shlex.split(m.group(1), comments=True)


def readme_installs(repo):
    """The package lists of README.md's `apt-get install` commands, in order."""
    with open(os.path.join(repo, "README.md")) as f:
        text = f.read()
    out = []
    for m in re.finditer(r"apt-get install ([^&\n]*)", text):
        out.append([w for w in shlex.split(m.group(1)) if not w.startswith("-")])
    return out


def cmake_cache(build_dir):
    path = os.path.join(build_dir, "CMakeCache.txt")
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"([^#/][^:]*):(\w+)=(.*)$", line.rstrip("\n"))
            if m:
                out[m.group(1)] = (m.group(2), m.group(3))
    return out


def build_dependencies(repo, build_dir):
    """{what CMake looked for: Debian package that provided it}."""
    with open(os.path.join(repo, "CMakeLists.txt")) as f:
        lists = re.sub(r"#.*", "", f.read())
    names = re.findall(r"find_package\(\s*([A-Za-z0-9_.+-]+)", lists)
    modules = re.findall(r"pkg_check_modules\(\s*([A-Za-z0-9_]+)", lists)
    cache = cmake_cache(build_dir)
    found = {}
    for name in names:
        if name in NO_PACKAGE:
            continue
        config_dir = cache.get(name + "_DIR", ("", ""))[1]
        files = []
        if config_dir and not config_dir.endswith("NOTFOUND") and os.path.isdir(config_dir):
            files = [os.path.join(config_dir, f) for f in sorted(os.listdir(config_dir))
                     if re.search(r"(Config|-config)\.cmake$", f)]
        else:  # module mode (FindZLIB): the library or header files it set
            for key, (kind, value) in sorted(cache.items()):
                if (key.startswith(name + "_") or key.startswith(name.upper() + "_")) and \
                        kind == "FILEPATH" and os.path.isfile(value):
                    files.append(value)
        if not files:
            fail("CMakeCache.txt does not tell where find_package(%s) found it" % name)
        found["find_package(%s)" % name] = files[0]
    for prefix in modules:
        libs = [v for k, (kind, v) in cache.items()
                if k.startswith("pkgcfg_lib_%s_" % prefix) and os.path.isfile(v)]
        if not libs:
            fail("CMakeCache.txt has no pkgcfg_lib_%s_* library for pkg_check_modules(%s)"
                 % (prefix, prefix))
        found["pkg_check_modules(%s)" % prefix] = libs[0]
    owners = owning_packages(found.values())
    return {what: owners[path] for what, path in found.items()}


def installed_elf_files(cmake, build_dir, prefix):
    """Every ELF file `cmake --install` puts under prefix: what the image gets."""
    cmake_install(cmake, build_dir, prefix)
    out = []
    for rel in files_under(prefix):
        path = os.path.join(prefix, rel)
        with open(path, "rb") as f:
            if f.read(4) == b"\x7fELF":
                out.append(path)
    if not any(p.endswith("/bin/llm_log_exporter") for p in out):
        fail("cmake --install put no bin/llm_log_exporter under %s" % prefix)
    return out


def shared_library_packages(files, prefix):
    """{soname: package} of every library ldd resolves for files, except
    those installed under prefix themselves."""
    libs = {}
    for elf in files:
        out = subprocess.run([require_tool("ldd"), elf], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=60)
        if out.returncode != 0:
            fail("ldd %s: %s" % (elf, out.stderr.decode().strip()))
        for line in out.stdout.decode().splitlines():
            m = re.match(r"\s*(\S+) => (\S+) \(", line)
            if m and m.group(2) == "not":
                fail("ldd %s: %s is not found" % (elf, m.group(1)))
            if m and not SANITIZER_LIBS.match(m.group(1)) and \
                    not m.group(2).startswith(prefix + "/"):
                libs[m.group(1)] = m.group(2)
    if not libs:
        fail("ldd resolved no library for %s" % files)
    owners = owning_packages(libs.values())
    return {so: owners[path] for so, path in libs.items()}


def apt_direct_depends():
    """Packages apt depends on: present in every Debian image, slim ones too."""
    out = subprocess.run([require_tool("apt-cache"), "depends", "apt"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    deps = set(re.findall(r"(?m)^\s+\|?Depends: (\S+)$", out.stdout.decode()))
    if "libc6" not in deps:
        fail("apt-cache depends apt lists no libc6: run apt-get update first")
    return deps


class _Unhealthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def check_healthcheck(final, binary, tmp, children, port_default):
    lines = [t for w, t in final if w == "HEALTHCHECK"]
    if len(lines) != 1:
        fail("final stage: expected one HEALTHCHECK, found %d" % len(lines))
    m = re.search(r"\bCMD\s+(\[.*\])\s*$", lines[0])
    if not m:
        fail("HEALTHCHECK is not in exec form CMD [...]: %s" % lines[0])
    try:  # Docker silently runs invalid JSON as a shell command: be strict here
        argv = json.loads(m.group(1))
    except ValueError as e:
        fail("HEALTHCHECK CMD is not a JSON array (%s): %s" % (e, m.group(1)))
    if "/-/healthy" not in " ".join(argv) or str(port_default) not in " ".join(argv):
        fail("HEALTHCHECK does not ask /-/healthy on port %d: %s" % (port_default, argv))
    timeout = re.search(r"--timeout=(\d+)s", lines[0])
    limit = int(timeout.group(1)) if timeout else 30

    def run(port):
        env = dict(os.environ, LLE_HEALTH_PORT=str(port))
        try:
            return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=limit).returncode
        except subprocess.TimeoutExpired:
            return "timed out after %d s (HEALTHCHECK --timeout)" % limit

    _, port = start_daemon(binary, [], children)
    wait_for_status("http://127.0.0.1:%d/-/healthy" % port, 200, children)
    code = run(port)
    if code != 0:
        fail("HEALTHCHECK command against the running daemon: %s, expected 0" % code)
    print("  ok  HEALTHCHECK passes against the daemon on :%d" % port)

    # The same command, with no password or certificate of its own, against
    # the daemon behind --web.config.file: TLS, basic auth, and both. The
    # `listening on` line start_daemon waits for comes once the port listens.
    openssl = require_tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", os.path.join(tmp, "server.key"),
                    "-out", os.path.join(tmp, "server.crt")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    bcrypt = subprocess.run([require_tool("htpasswd"), "-nbBC", "4", "alice", "secret"],
                            check=True, stdout=subprocess.PIPE, timeout=60).stdout.decode()
    tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
    auth = "basic_auth_users:\n  alice: '%s'\n" % bcrypt.strip().split(":", 1)[1]
    for name, config in (("TLS", tls), ("basic auth", auth), ("TLS and basic auth", tls + auth)):
        path = os.path.join(tmp, "web-%d.yml" % len(config))
        with open(path, "w") as f:
            f.write(config)
        _, secured = start_daemon(binary, ["--web.config.file=" + path], children)
        code = run(secured)
        if code != 0:
            fail("HEALTHCHECK command against the daemon with %s: %s, expected 0" % (name, code))
        print("  ok  HEALTHCHECK passes against the daemon with %s on :%d" % (name, secured))

    # A port nobody listens on: bound but not listening, so connections are
    # refused and no other test can take it meanwhile.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
        code = run(closed)
    if code == 0:
        fail("HEALTHCHECK command passed against a closed port %d" % closed)
    print("  ok  HEALTHCHECK fails against a closed port (%s)" % code)

    server = http.server.HTTPServer(("127.0.0.1", 0), _Unhealthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = run(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
    if code == 0:
        fail("HEALTHCHECK command passed against a server answering 503")
    print("  ok  HEALTHCHECK fails against a server answering 503 (%s)" % code)


def run(args, tmp, children):
    path = os.path.join(args.repo, "deploy", "Dockerfile")
    stages = parse_dockerfile(path)
    (_, build), (final_image, final) = stages[0], stages[-1]
    build_packages = set(apt_installs(build))
    runtime_packages = set(apt_installs(final))
    port = default_port(args.repo)

    # 1. The build stage has what the build needs.
    needed = build_dependencies(args.repo, args.build_dir)
    missing = {what: pkg for what, pkg in needed.items() if pkg not in build_packages}
    if missing:
        fail("the build stage of %s does not install %s" % (path, ", ".join(
            "%s (for %s)" % (pkg, what) for what, pkg in sorted(missing.items()))))
    for what, pkg in sorted(needed.items()):
        print("  ok  build stage installs %s for %s" % (pkg, what))
    ci = ci_packages(args.repo, "build_packages")
    missing = [p for p in ci if p not in build_packages]
    if missing:
        fail("the build stage of %s does not install %s of .ci/run's build_packages"
             % (path, ", ".join(missing)))
    print("  ok  build stage installs .ci/run's build_packages: %s" % " ".join(ci))
    readme = readme_installs(args.repo)
    ci_test = ci_packages(args.repo, "test_packages")
    if len(readme) != 2 or sorted(readme[0]) != sorted(ci) or sorted(readme[1]) != sorted(ci_test):
        fail("README.md's set-up commands install %s; .ci/run's build_packages and "
             "test_packages are %s and %s" % (readme, ci, ci_test))
    print("  ok  README.md's two set-up commands install .ci/run's build_packages, then "
          "its test_packages")
    run_lines = " ".join(t for w, t in build if w == "RUN")
    for flag in ("-DLLE_BUILD_TESTS=OFF", "-DLLE_BUILD_BENCH=OFF", "cmake --install"):
        if flag not in run_lines:
            fail("the build stage does not run %s" % flag)

    # 2. Every named package exists.
    named = build_packages | runtime_packages
    unknown = sorted(named - apt_known_packages(named))
    if unknown:
        fail("%s names %s, which the Debian archive this machine's apt knows does not have "
             "(apt-cache show; run apt-get update if the lists are empty)"
             % (path, ", ".join(unknown)))
    print("  ok  apt-cache knows all %d packages" % len(build_packages | runtime_packages))

    # 3. The final stage has every shared library the binary loads.
    base = apt_direct_depends()
    prefix = os.path.join(tmp, "prefix")
    elves = installed_elf_files(args.cmake, args.build_dir, prefix)
    libs = shared_library_packages(elves, prefix)
    missing = {so: pkg for so, pkg in libs.items()
               if pkg not in runtime_packages and pkg not in base}
    if missing:
        fail("the final stage of %s does not install %s" % (path, ", ".join(
            "%s (for %s)" % (pkg, so) for so, pkg in sorted(missing.items()))))
    print("  ok  installed ELF files: %s" % ", ".join(os.path.relpath(e, prefix) for e in elves))
    for so, pkg in sorted(libs.items()):
        print("  ok  %s from %s%s" % (so, pkg, " (in every image: apt depends on it)"
                                      if pkg not in runtime_packages else ""))
    dev_in_final = [p for p in runtime_packages if p.endswith("-dev")]
    if dev_in_final:
        fail("the final stage installs -dev packages: %s" % ", ".join(dev_in_final))

    # 4. The final stage itself.
    if final_image != "debian:bookworm-slim":
        fail("final stage is FROM %s, expected debian:bookworm-slim" % final_image)
    users = [t for w, t in final if w == "USER"]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        fail("final stage runs as root (USER %s)" % (users[-1] if users else "unset"))
    exposed = [t for w, t in final if w == "EXPOSE"]
    if exposed != [str(port)]:
        fail("final stage EXPOSE %s, expected the default port %d" % (exposed, port))
    entry = [t for w, t in final if w == "ENTRYPOINT"]
    if not entry or os.path.basename(json.loads(entry[-1])[0]) != "llm_log_exporter":
        fail("final stage ENTRYPOINT %s, expected [\"llm_log_exporter\"]" % entry)
    print("  ok  final stage: %s, USER %s, EXPOSE %d, ENTRYPOINT %s"
          % (final_image, users[-1], port, entry[-1]))
    check_healthcheck(final, args.binary, tmp, children, port)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--cmake", required=True)
    args = parser.parse_args()
    sys.exit(main(lambda tmp, children: run(args, tmp, children)))
