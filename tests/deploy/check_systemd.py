#!/usr/bin/env python3
"""Checks deploy/systemd/: the unit as `cmake --install` writes it passes
`systemd-analyze verify` with no warning at all and `systemd-analyze
security --offline` at an exposure of at most 2.0 ("OK"), sets the hardening
the README promises, and the daemon behaves as the unit expects when started
with its ExecStart= and the shipped EnvironmentFile (llm_log_exporter.default):
ready and counting the followed file, alive after SIGHUP (ExecReload=), exit 0
on SIGTERM within TimeoutStopSec=, exit 2 on a bad flag
(RestartPreventExitStatus=).

The drop-in ingest-token.conf passes verify too, and the EnvironmentFile's
ingest line, with its token where that drop-in's LoadCredential= puts it,
gets 401 without the token and 204 with it.

Both systemd-analyze commands work without systemd running as PID 1 (in a
container): they only read unit files.

    check_systemd.py --repo DIR --build-dir DIR --cmake PATH --systemd-analyze PATH
"""

import argparse
import http.client
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

from deploy_support import (Deadline, check_flags_exist, cmake_install, fail, help_flags, main,
                            start_daemon, wait_for, wait_for_sample, wait_for_status)

REQUIRED = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "ExecReload": "/bin/kill -HUP $MAINPID", "Restart": "on-failure", "DynamicUser": "yes",
    "CapabilityBoundingSet": "", "EnvironmentFile": "-/etc/default/llm_log_exporter",
    "RestartPreventExitStatus": "2",
}
MAX_EXPOSURE = 20  # systemd-analyze's 0-100 scale: 2.0 and below reads "OK"
REQUEST = ('{"input_tokens":1240,"output_tokens":320,"total_time_ms":1876,'
           '"gpu_memory_mb":18432,"status":"success"}\n')


def parse_unit(path):
    """{section: {key: [values]}}."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = out.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            section.setdefault(key, []).append(value)
    return out


def env_file_args(path):
    """(LLE_ARGS of the active line, [LLE_ARGS of every line, commented too])."""
    active, every = None, []
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*(#?)\s*LLE_ARGS=(.*)$", line)
            if m:
                value = shlex.split(m.group(2))[0] if m.group(2).strip() else ""
                every.append(value)
                if not m.group(1):
                    active = value
    if active is None:
        fail("%s sets no LLE_ARGS" % path)
    return active, every


def analyze(tool, *argv):
    out = subprocess.run([tool] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=120)
    return out.returncode, out.stdout.decode()


def run(args, tmp, children):
    prefix = os.path.join(tmp, "prefix")
    cmake_install(args.cmake, args.build_dir, prefix)
    unit_path = os.path.join(prefix, "lib", "systemd", "system", "llm_log_exporter.service")

    code, text = analyze(args.systemd_analyze, "verify", unit_path)
    if code != 0 or text.strip():
        fail("systemd-analyze verify %s: exit %d, output:\n%s" % (unit_path, code, text))
    print("  ok  systemd-analyze verify: no warning")

    # With the ingest-token drop-in: a unit directory of its own, named on
    # SYSTEMD_UNIT_PATH (the trailing ':' keeps the system directories).
    units = os.path.join(tmp, "units")
    dropins = os.path.join(units, "llm_log_exporter.service.d")
    os.makedirs(dropins)
    shutil.copy(unit_path, units)
    shutil.copy(os.path.join(args.repo, "deploy", "systemd", "ingest-token.conf"), dropins)
    with open(os.path.join(dropins, "ingest-token.conf")) as f:
        credential = re.search(r"(?m)^LoadCredential=([\w.-]+):", f.read())
    if not credential:
        fail("ingest-token.conf has no LoadCredential=NAME:PATH")
    env = dict(os.environ, SYSTEMD_UNIT_PATH=units + ":")
    out = subprocess.run([args.systemd_analyze, "verify", "llm_log_exporter.service"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if out.returncode != 0 or out.stdout.strip():
        fail("systemd-analyze verify with the drop-in ingest-token.conf: exit %d, output:\n%s"
             % (out.returncode, out.stdout.decode()))
    print("  ok  systemd-analyze verify with the drop-in ingest-token.conf: no warning")
    code, text = analyze(args.systemd_analyze, "security", "--offline=yes",
                         "--threshold=%d" % MAX_EXPOSURE, unit_path)
    overall = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", text)
    if code != 0 or not overall:
        fail("systemd-analyze security --offline=yes --threshold=%d: exit %d:\n%s"
             % (MAX_EXPOSURE, code, text[-3000:]))
    print("  ok  systemd-analyze security: exposure %s %s (at most %.1f)"
          % (overall.group(1), overall.group(2), MAX_EXPOSURE / 10))

    unit = parse_unit(unit_path)
    service = unit.get("Service", {})
    for key, want in REQUIRED.items():
        if want not in service.get(key, []):
            fail("%s: [Service] %s=%s is missing (has %s)" % (unit_path, key, want,
                                                              service.get(key)))
    if "multi-user.target" not in unit.get("Install", {}).get("WantedBy", []):
        fail("%s: no WantedBy=multi-user.target" % unit_path)
    exec_start = shlex.split(service["ExecStart"][0])
    binary = os.path.join(prefix, "bin", "llm_log_exporter")
    if exec_start != [binary, "$LLE_ARGS"]:
        fail("%s: ExecStart=%s, expected %s $LLE_ARGS" % (unit_path, service["ExecStart"], binary))
    print("  ok  [Service] has %s" % ", ".join("%s=%s" % kv for kv in REQUIRED.items()))

    # The flags of the unit's default and of every line of the shipped file.
    known = help_flags(binary)
    defaults = [v for v in service.get("Environment", []) if "LLE_ARGS=" in v]
    if len(defaults) != 1:
        fail("%s: expected one Environment=\"LLE_ARGS=...\", found %s" % (unit_path, defaults))
    default_args = shlex.split(defaults[0])[0].split("=", 1)[1].split()
    check_flags_exist("the unit's default LLE_ARGS", default_args, known)
    env_file = os.path.join(args.repo, "deploy", "systemd", "llm_log_exporter.default")
    active, every = env_file_args(env_file)
    for value in every:
        check_flags_exist(env_file + ": LLE_ARGS=" + value, value.split(), known)
    print("  ok  flags of the default and of all %d LLE_ARGS lines exist" % len(every))

    # Run it as systemd would with the shipped EnvironmentFile: $LLE_ARGS split
    # on whitespace, stdin /dev/null, the log file moved here.
    log = os.path.join(tmp, "server.log")
    argv = [a.replace("/var/log/llm/server.log", log) for a in active.split()]
    if log not in " ".join(argv):
        fail("%s: LLE_ARGS does not follow /var/log/llm/server.log" % env_file)
    child, port = start_daemon(binary, argv, children)
    wait_for_status("http://127.0.0.1:%d/-/ready" % port, 200, [child])
    with open(log, "a") as f:
        f.write(REQUEST)
    wait_for_sample(port, "qwen_requests_total", {"status": "success"}, 1.0, [child])
    print("  ok  started with the EnvironmentFile's LLE_ARGS: ready, counts %s" % log)

    child.proc.send_signal(signal.SIGHUP)  # what ExecReload= does
    wait_for(Deadline(10), "the daemon to log `SIGHUP: reloaded`",
             lambda: child.find("SIGHUP: reloaded"), [child])
    wait_for_status("http://127.0.0.1:%d/-/healthy" % port, 200, [child])
    wait_for_sample(port, "qwen_requests_total", {"status": "success"}, 1.0, [child])
    print("  ok  SIGHUP (ExecReload=): config reloaded, still serving, counters kept")

    stop = int(re.match(r"(\d+)s$", service["TimeoutStopSec"][0]).group(1))
    child.proc.send_signal(signal.SIGTERM)
    try:
        code = child.proc.wait(stop)
    except subprocess.TimeoutExpired:
        fail("still running %d s (TimeoutStopSec=) after SIGTERM" % stop)
    if code != 0:
        fail("exit %d after SIGTERM, expected 0 (Restart=on-failure would restart it)" % code)
    print("  ok  SIGTERM: exit 0 within TimeoutStopSec=%ds" % stop)

    # The ingest line of the EnvironmentFile with the drop-in's credential.
    ingest = [v for v in every if "--ingest.bearer-token-file" in v]
    if len(ingest) != 1:
        fail("%s: expected one LLE_ARGS line with --ingest.bearer-token-file" % env_file)
    token_path = "/run/credentials/llm_log_exporter.service/" + credential.group(1)
    if "--ingest.bearer-token-file=" + token_path not in ingest[0].split():
        fail("%s: the ingest line does not read the drop-in's credential %s"
             % (env_file, token_path))
    token = os.path.join(tmp, "credential")
    with open(token, "w") as f:
        f.write("systemd-example-token\n")
    argv = [a.replace("/var/log/llm/server.log", log).replace(token_path, token)
            for a in ingest[0].split()]
    child, port = start_daemon(binary, argv, children)
    wait_for_status("http://127.0.0.1:%d/-/ready" % port, 200, [child])
    path = [a.split("=", 1)[1] for a in argv if a.startswith("--ingest.path=")][0]
    for header, want in (({}, 401), ({"Authorization": "Bearer systemd-example-token"}, 204)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", path, body=REQUEST.encode(),
                     headers=dict(header, **{"Content-Type": "text/plain"}))
        status = conn.getresponse().status
        conn.close()
        if status != want:
            fail("ingest line: POST %s %s answered %d, expected %d"
                 % (path, "with the token" if header else "without a token", status, want))
    wait_for_sample(port, "llm_log_exporter_lines_total", {"source": "http", "result": "request"},
                    1.0, [child])
    child.stop()
    print("  ok  the EnvironmentFile's ingest line with the credential: 401 without the token, "
          "204 and counted with it")

    out = subprocess.run([binary, "--no-such-flag"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=30)
    if out.returncode != int(service["RestartPreventExitStatus"][0]):
        fail("a bad flag exits %d, but RestartPreventExitStatus=%s"
             % (out.returncode, service["RestartPreventExitStatus"][0]))
    print("  ok  a bad flag exits 2: RestartPreventExitStatus=2 stops the restart loop")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--repo", "--build-dir", "--cmake", "--systemd-analyze"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    sys.exit(main(lambda tmp, children: run(args, tmp, children)))
