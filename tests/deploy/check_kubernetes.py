#!/usr/bin/env python3
"""Checks the manifests in deploy/kubernetes/ against the real daemon:

- every file is valid YAML (PyYAML, Debian python3-yaml) and every document
  has apiVersion, kind and metadata.name;
- each exporter container (image llm_log_exporter) uses only flags that
  `llm_log_exporter --help` lists, exposes the port it listens on (the
  default port of options.h unless --web.listen-address says otherwise),
  probes /-/healthy (liveness) and /-/ready (readiness) on it, has resource
  requests and limits, runs as the Dockerfile's non-root user, and is named
  by the pod's prometheus.io/* annotations, a Service and a ServiceMonitor;
- a followed file (--input.file) is on a volume the server container writes
  it to, a token file and a Redis password file on a mounted Secret; every
  $(VAR) of the args is an env entry, and replicas sharing a Redis stream
  (replicas > 1) take their consumer name from the pod's name (downward API);
- a vLLM server container whose output the exporter follows loads the
  request-line middleware: `--middleware module.Class` names a class of
  contrib/module.py (imported here), and module.py is an item of a mounted
  ConfigMap whose mount path is on the container's PYTHONPATH;
- a Deployment whose pod takes a GPU (nvidia.com/gpu) has strategy Recreate;
- the Fluent Bit ConfigMap's `http` output names that Service, port, ingest
  path and token header, in a format the exporter takes, and its tail input
  matches the server's container log files;
- then the daemon runs with each container's own args (paths moved into a
  temporary directory): the probes answer 200, a line appended to the
  followed file is counted, and a body posted the way the Fluent Bit output
  is configured is accepted (204) and counted, and refused (401) without
  the token.

    check_kubernetes.py --repo DIR --binary PATH
"""

import argparse
import fnmatch
import glob
import gzip
import http.client
import importlib
import inspect
import json
import os
import re
import sys

import yaml

from deploy_support import (check_flags_exist, default_port, fail, flag_value, help_flags,
                            main, start_daemon, wait_for_sample, wait_for_status)

REQUEST = {"timestamp": "2025-04-05T10:23:45Z", "request_id": "req_k8s", "method": "POST",
           "path": "/v1/chat/completions", "input_tokens": 1240, "output_tokens": 320,
           "total_time_ms": 1876, "queue_time_ms": 120, "inference_time_ms": 1756,
           "gpu_memory_mb": 18432, "status": "success"}
CONTENT_TYPES = {"json_lines": "application/x-ndjson", "json": "application/json",
                 "json_stream": "application/json"}


def load(repo):
    files = sorted(glob.glob(os.path.join(repo, "deploy", "kubernetes", "*.yaml")))
    if not files:
        fail("no deploy/kubernetes/*.yaml")
    docs = {}
    for path in files:
        try:
            with open(path) as f:
                items = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            fail("%s: invalid YAML: %s" % (path, e))
        for i, d in enumerate(items):
            if not isinstance(d, dict) or not all(k in d for k in ("apiVersion", "kind")) or \
                    not d.get("metadata", {}).get("name"):
                fail("%s: document %d lacks apiVersion, kind or metadata.name" % (path, i + 1))
        docs[path] = items
        print("  ok  %s: %d documents (%s)" % (os.path.basename(path), len(items),
                                                ", ".join(d["kind"] for d in items)))
    return docs


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def dockerfile_uid(repo):
    with open(os.path.join(repo, "deploy", "Dockerfile")) as f:
        users = re.findall(r"(?m)^USER\s+(\d+)", f.read())
    if not users:
        fail("deploy/Dockerfile has no numeric USER")
    return int(users[-1])


def covering_mount(container, path):
    for m in container.get("volumeMounts", []):
        if path.startswith(m["mountPath"].rstrip("/") + "/"):
            return m
    return None


def check_middleware(repo, exp):
    """The server containers that write the exporter's followed file load the
    middleware from contrib/ (docs/vllm-middleware.md)."""
    followed = flag_value(exp.args, "--input.file")
    if not followed:
        return
    pod = exp.pod["spec"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod["containers"]:
        if c is exp.container or "vllm" not in c.get("image", ""):
            continue
        words = " ".join(c.get("command", []) + c.get("args", [])).split()
        if followed not in " ".join(words):
            continue
        where = "%s: container %s" % (os.path.basename(exp.path), c["name"])
        names = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--middleware"]
        names += [w.split("=", 1)[1] for w in words if w.startswith("--middleware=")]
        if not names:
            fail("%s writes %s but passes no --middleware: stock vLLM prints no request "
                 "lines (docs/vllm-middleware.md)" % (where, followed))
        module, _, cls = names[0].rpartition(".")
        source = os.path.join(repo, "contrib", module + ".py")
        if not module or not os.path.isfile(source):
            fail("%s: --middleware %s: no contrib/%s.py" % (where, names[0], module))
        sys.path.insert(0, os.path.join(repo, "contrib"))
        sys.dont_write_bytecode = True  # no __pycache__ in the source tree
        try:
            imported = getattr(importlib.import_module(module), cls, None)
        finally:
            sys.path.pop(0)
        if not inspect.isclass(imported):
            fail("%s: --middleware %s: contrib/%s.py has no class %s"
                 % (where, names[0], module, cls))
        env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
        path_dirs = [d.rstrip("/") for d in env.get("PYTHONPATH", "").split(":") if d]
        mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"].rstrip("/") in path_dirs
                  and "configMap" in volumes.get(m["name"], {})]
        items = [i["path"] for m in mounts for i in
                 volumes[m["name"]]["configMap"].get("items", [{"path": module + ".py"}])]
        if module + ".py" not in items:
            fail("%s: %s.py is in no ConfigMap mounted on PYTHONPATH %s (mounts %s)"
                 % (where, module, env.get("PYTHONPATH"), c.get("volumeMounts", [])))
        print("  ok  %s: --middleware %s, %s.py from ConfigMap %s on PYTHONPATH"
              % (where, names[0], module, volumes[mounts[0]["name"]]["configMap"]["name"]))


def fluent_bit_sections(text):
    """[(SECTION, {key lower: value})] of a classic-format Fluent Bit config."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"\[(\w+)\]$", line)
        if m:
            out.append((m.group(1).upper(), {}))
        elif out:
            key, _, value = line.partition(" ")
            out[-1][1][key.lower()] = value.strip()
        else:
            fail("Fluent Bit config: %r outside a section" % line)
    return out


class Exporter:
    """One exporter container with the objects around it in its file."""

    def __init__(self, path, docs, deployment, container):
        self.path, self.deployment, self.container = path, deployment, container
        self.where = "%s: %s/%s" % (os.path.basename(path), deployment["metadata"]["name"],
                                    container["name"])
        self.pod = deployment["spec"]["template"]
        self.args = list(container.get("command", [])[1:]) + list(container.get("args", []))
        self.services = [d for d in docs if d["kind"] == "Service" and
                         selects(d["spec"].get("selector"), self.pod["metadata"]["labels"])]
        self.monitors = [d for d in docs if d["kind"] == "ServiceMonitor" and any(
            selects(d["spec"]["selector"].get("matchLabels"), s["metadata"].get("labels", {}))
            for s in self.services)]


def check_static(exp, known_flags, port_default, uid):
    c, where = exp.container, exp.where
    check_flags_exist(where, exp.args, known_flags)
    listen = flag_value(exp.args, "--web.listen-address", ":%d" % port_default)
    port = int(listen.rsplit(":", 1)[1])
    telemetry = flag_value(exp.args, "--web.telemetry-path", "/metrics")
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    if port not in ports.values():
        fail("%s: listens on %d but declares ports %s" % (where, port, ports))
    names = {n for n, p in ports.items() if p == port and n} | {port}
    for probe, want in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != want or get.get("port") not in names:
            fail("%s: %s is %s, expected httpGet %s on port %s" % (where, probe, get, want, port))
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        if not all(k in res.get(kind, {}) for k in ("cpu", "memory")):
            fail("%s: resources.%s lacks cpu or memory: %s" % (where, kind, res))
    sc = c.get("securityContext", {})
    if sc.get("runAsNonRoot") is not True or sc.get("runAsUser") != uid:
        fail("%s: securityContext %s, expected runAsNonRoot and runAsUser %d (the Dockerfile's "
             "USER)" % (where, sc, uid))
    spec = exp.deployment["spec"]
    if not selects(spec["selector"]["matchLabels"], exp.pod["metadata"]["labels"]):
        fail("%s: the Deployment's selector does not select its own pods" % where)
    ann = exp.pod["metadata"].get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != str(port) \
            or ann.get("prometheus.io/path", "/metrics") != telemetry:
        fail("%s: pod annotations %s, expected prometheus.io/scrape \"true\", port \"%d\", "
             "path %s" % (where, ann, port, telemetry))
    service_ports = []
    for s in exp.services:
        service_ports += [p for p in s["spec"]["ports"] if p.get("targetPort") in names]
    if not service_ports:
        fail("%s: no Service selects the pod with a port targeting %s" % (where, port))
    if not exp.monitors:
        fail("%s: no ServiceMonitor selects its Service" % where)
    for sm in exp.monitors:
        for ep in sm["spec"]["endpoints"]:
            if ep.get("port") not in {p.get("name") for p in service_ports} or \
                    ep.get("path", "/metrics") != telemetry:
                fail("%s: ServiceMonitor %s endpoint %s, expected port %s path %s"
                     % (where, sm["metadata"]["name"], ep, [p.get("name") for p in service_ports],
                        telemetry))
    print("  ok  %s: flags, port %d, probes, resources, user %d, annotations, Service, "
          "ServiceMonitor" % (where, port, uid))
    return service_ports


def check_gpu_strategy(all_docs):
    """A Deployment whose pod takes a GPU must be replaced with Recreate: a
    rolling update starts the new pod beside the old, wanting another GPU."""
    for d in all_docs:
        if d["kind"] != "Deployment":
            continue
        gpus = [c["name"] for c in d["spec"]["template"]["spec"]["containers"]
                if any(k.endswith("/gpu") for kind in ("requests", "limits")
                       for k in c.get("resources", {}).get(kind, {}))]
        if not gpus:
            continue
        strategy = d["spec"].get("strategy", {}).get("type", "RollingUpdate")
        if strategy != "Recreate":
            fail("Deployment %s: container %s takes a GPU but the strategy is %s, expected "
                 "Recreate" % (d["metadata"]["name"], ", ".join(gpus), strategy))
        print("  ok  Deployment %s (GPU in %s): strategy Recreate"
              % (d["metadata"]["name"], ", ".join(gpus)))


def check_volumes(exp):
    pod = exp.pod["spec"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for flag in ("--input.file",):
        for i, a in enumerate(exp.args):
            if a == flag:
                file = exp.args[i + 1]
            elif a.startswith(flag + "="):
                file = a.split("=", 1)[1]
            else:
                continue
            mount = covering_mount(exp.container, file)
            if not mount:
                fail("%s: %s %s is on no mounted volume" % (exp.where, flag, file))
            writers = [c for c in pod["containers"] if c is not exp.container and
                       (covering_mount(c, file) or {}).get("name") == mount["name"] and
                       file in " ".join(c.get("command", []) + c.get("args", []))]
            if not writers:
                fail("%s: no other container mounts volume %s and writes %s"
                     % (exp.where, mount["name"], file))
            if "emptyDir" not in volumes.get(mount["name"], {}):
                fail("%s: volume %s is not an emptyDir" % (exp.where, mount["name"]))
            print("  ok  %s: follows %s, written by container %s on emptyDir %s"
                  % (exp.where, file, writers[0]["name"], mount["name"]))
    for flag in ("--ingest.bearer-token-file", "--input.redis.password-file"):
        check_secret_file(exp, volumes, flag)
    check_env_references(exp)


def check_env_references(exp):
    """Every $(VAR) in the args is an env entry of the container (Kubernetes
    leaves an unknown one as is); a replica's consumer name from the downward API."""
    env = {e["name"]: e for e in exp.container.get("env", [])}
    for a in exp.args:
        for var in re.findall(r"\$\((\w+)\)", a):
            if var not in env:
                fail("%s: %s refers to $(%s), which is no env entry" % (exp.where, a, var))
    consumer = flag_value(exp.args, "--input.redis.consumer")
    replicas = exp.deployment["spec"].get("replicas", 1)
    if flag_value(exp.args, "--input.redis.stream") and replicas > 1:
        m = re.fullmatch(r"\$\((\w+)\)", consumer or "")
        ref = env.get(m.group(1), {}).get("valueFrom", {}).get("fieldRef", {}) if m else {}
        if ref.get("fieldPath") != "metadata.name":
            fail("%s: %d replicas share a consumer group, but --input.redis.consumer is %r, "
                 "not the pod's name from the downward API" % (exp.where, replicas, consumer))
        print("  ok  %s: %d replicas in group %s, consumer $(%s) = metadata.name"
              % (exp.where, replicas, flag_value(exp.args, "--input.redis.group"), m.group(1)))


def check_secret_file(exp, volumes, flag):
    token = flag_value(exp.args, flag)
    if token:
        mount = covering_mount(exp.container, token)
        secret = volumes.get((mount or {}).get("name"), {}).get("secret")
        rel = token[len(mount["mountPath"].rstrip("/")) + 1:] if mount else None
        if not secret or rel not in [i["path"] for i in secret.get("items", [])]:
            fail("%s: %s %s is not a mounted Secret item" % (exp.where, flag, token))
        print("  ok  %s: %s %s from Secret %s" % (exp.where, flag, token, secret["secretName"]))


def check_fluent_bit(docs, exporters):
    """[(exporter, output section)] for each `http` output of a ConfigMap."""
    pairs = []
    for d in docs:
        if d["kind"] != "ConfigMap" or "fluent-bit.conf" not in d.get("data", {}):
            continue
        sections = fluent_bit_sections(d["data"]["fluent-bit.conf"])
        inputs = [s for k, s in sections if k == "INPUT"]
        for kind, out in sections:
            if kind != "OUTPUT" or out.get("name") != "http":
                continue
            where = "ConfigMap %s, http output" % d["metadata"]["name"]
            host = out.get("host", "")
            target = None
            for exp in exporters:
                for svc in exp.services:
                    if host.split(".")[0] == svc["metadata"]["name"]:
                        target = (exp, svc)
            if not target:
                fail("%s: Host %s is no Service of an exporter" % (where, host))
            exp, svc = target
            if "--ingest.enable" not in exp.args:
                fail("%s: %s runs without --ingest.enable" % (where, exp.where))
            ports = [p for p in svc["spec"]["ports"] if str(p["port"]) == out.get("port")]
            if not ports:
                fail("%s: Port %s is not a port of Service %s" % (where, out.get("port"),
                                                                  svc["metadata"]["name"]))
            ingest = flag_value(exp.args, "--ingest.path", "/api/v1/logs")
            if out.get("uri") != ingest:
                fail("%s: URI %s, but %s serves ingest at %s" % (where, out.get("uri"),
                                                                 exp.where, ingest))
            # The exporter reads every Format (docs/inputs.md); the shipped
            # manifest names one this check builds bodies for, since unset
            # means json or msgpack depending on the Fluent Bit version.
            if out.get("format") not in CONTENT_TYPES:
                fail("%s: Format %s; name one of %s" % (where, out.get("format", "unset"),
                                                        ", ".join(CONTENT_TYPES)))
            token = flag_value(exp.args, "--ingest.bearer-token-file")
            if token and not re.match(r"Authorization Bearer \S+$", out.get("header", "")):
                fail("%s: the exporter wants a token but the output sends no "
                     "`Header Authorization Bearer ...`" % where)
            # The tail input feeding this output must read the server's logs.
            namespace = host.split(".")[1] if host.count(".") >= 1 else "default"
            feeding = [i for i in inputs if fnmatch.fnmatchcase(
                i.get("tag", "").replace("*", "x"), out.get("match", "*"))]
            if not feeding:
                fail("%s: no input's Tag matches Match %s" % (where, out.get("match")))
            print("  ok  %s: Host %s, Port %s, URI %s, Format %s, token header %s"
                  % (where, host, out.get("port"), out.get("uri"), out.get("format"),
                     "yes" if token else "no"))
            pairs.append((exp, out, feeding, namespace))
    return pairs


def check_tail_paths(pairs, all_docs):
    """The tail Path glob matches the log file of a server container."""
    servers = [(d["metadata"]["name"], c["name"]) for d in all_docs if d["kind"] == "Deployment"
               for c in d["spec"]["template"]["spec"]["containers"]
               if "llm_log_exporter" not in c["image"]]
    for _, _, inputs, namespace in pairs:
        for i in inputs:
            path = i.get("path", "")
            hits = [(dep, c) for dep, c in servers if fnmatch.fnmatchcase(
                "/var/log/containers/%s-5d9c7b8f6-x2k4q_%s_%s-%s.log"
                % (dep, namespace, c, "0" * 64), path)]
            if not hits:
                fail("tail input Path %s matches no server container's log file in namespace %s "
                     "(servers: %s)" % (path, namespace, servers))
            print("  ok  tail Path %s reads the logs of %s/%s" % (path, hits[0][0], hits[0][1]))


# Flags whose value is a file of the pod; the test puts them in its directory.
FILE_FLAGS = ("--input.file", "--ingest.bearer-token-file", "--web.config.file", "--config.file",
              "--input.redis.password-file")


def remap_args(args, tmp):
    """(args with every file flag's value moved into tmp, {original: local})."""
    out, files, next_is_file = [], {}, False
    for a in args:
        flag, eq, value = a.partition("=")
        if next_is_file or (eq and flag in FILE_FLAGS):
            original = a if next_is_file else value
            files[original] = os.path.join(tmp, original.strip("/").replace("/", "_"))
            out.append(files[original] if next_is_file else flag + "=" + files[original])
            next_is_file = False
        else:
            out.append(a)
            next_is_file = a in FILE_FLAGS
    return out, files


def post(port, path, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def run_exporter(exp, outputs, binary, tmp, children):
    args, files = remap_args(exp.args, tmp)
    followed = [files[f] for f in files if f == flag_value(exp.args, "--input.file")]
    for original, local in files.items():
        if original == flag_value(exp.args, "--ingest.bearer-token-file"):
            with open(local, "w") as f:
                f.write("k8s-example-token\n")
        if original == flag_value(exp.args, "--input.redis.password-file"):
            with open(local, "w") as f:
                f.write("k8s-example-password\n")
    line = (json.dumps(REQUEST) + "\n").encode()
    for f in followed:  # already there at start: counted only --input.file.from-beginning
        with open(f, "wb") as out:
            out.write(line)
    child, port = start_daemon(binary, args, children, exp.container["name"])
    base = "http://127.0.0.1:%d" % port
    wait_for_status(base + "/-/healthy", 200, [child])
    wait_for_status(base + "/-/ready", 200, [child])
    print("  ok  %s: the daemon with its args answers /-/healthy and /-/ready" % exp.where)
    for f in followed:
        with open(f, "ab") as out:
            out.write(line)
        want = 2.0 if "--input.file.from-beginning" in args else 1.0
        wait_for_sample(port, "llm_log_exporter_lines_total", {"source": f, "result": "request"},
                        want, [child])
        print("  ok  %s: counts the lines of the followed file (%d)" % (exp.where, want))
    for out in outputs:
        fmt = out.get("format")
        record = {"date": 1743848625.0, "time": "2025-04-05T10:23:45.000000000Z",
                  "stream": "stdout", "_p": "F", "log": json.dumps(REQUEST)}
        body = (json.dumps([record]) if fmt == "json" else json.dumps(record) + "\n").encode()
        headers = {"Content-Type": CONTENT_TYPES[fmt]}
        if out.get("compress") == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        status = post(port, out["uri"], body, headers)
        if flag_value(exp.args, "--ingest.bearer-token-file"):
            if status != 401:
                fail("%s: a Fluent Bit body without the token got %d, expected 401"
                     % (exp.where, status))
            headers["Authorization"] = "Bearer k8s-example-token"
            status = post(port, out["uri"], body, headers)
        if status != 204:
            fail("%s: a body as the Fluent Bit output sends it got %d, expected 204"
                 % (exp.where, status))
        wait_for_sample(port, "llm_log_exporter_lines_total",
                        {"source": "http", "result": "request"}, 1.0, [child])
        print("  ok  %s: a %s%s Fluent Bit body is counted" % (
            exp.where, fmt, "+gzip" if out.get("compress") == "gzip" else ""))


def run(args, tmp, children):
    docs = load(args.repo)
    known = help_flags(args.binary)
    port_default = default_port(args.repo)
    uid = dockerfile_uid(args.repo)
    exporters = []
    for path, items in docs.items():
        for d in items:
            if d["kind"] != "Deployment":
                continue
            for c in d["spec"]["template"]["spec"]["containers"]:
                if "llm_log_exporter" in c.get("image", ""):
                    exporters.append(Exporter(path, items, d, c))
    if not exporters:
        fail("no container with an llm_log_exporter image in deploy/kubernetes/")
    for exp in exporters:
        check_static(exp, known, port_default, uid)
        check_volumes(exp)
        check_middleware(args.repo, exp)
    all_docs = [d for items in docs.values() for d in items]
    check_gpu_strategy(all_docs)
    pairs = check_fluent_bit(all_docs, exporters)
    if not pairs:
        fail("no Fluent Bit ConfigMap with an `http` output in deploy/kubernetes/")
    check_tail_paths(pairs, all_docs)
    for exp in exporters:
        run_exporter(exp, [out for e, out, _, _ in pairs if e is exp], args.binary, tmp,
                     children)
        for child in list(children):
            child.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    sys.exit(main(lambda tmp, children: run(args, tmp, children)))
