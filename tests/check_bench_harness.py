#!/usr/bin/env python3
"""check_bench_harness - actorcore-bench keeps working (issue 10): a tiny service run writes
a complete result file, --compare / compare flag a regression and only a regression, a
cluster that answers wrong fails the run, bad flags are exit 2. Nothing here checks speed.

usage: check_bench_harness.py BENCH BROKER WORKER CLI SOURCE_DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BENCH, BROKER, WORKER, CLI, SOURCE = sys.argv[1:6]
TINY = ["--duration", "0.3", "--warmup", "0.1", "--runs", "3", "--no-progress"]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(args, timeout=120):
    return subprocess.run([BENCH] + args, capture_output=True, text=True, timeout=timeout)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


tmp = tempfile.mkdtemp(prefix="ac_check_bench_")
procs = []
try:
    # 1. A tiny service run (a broker and one worker started by the harness).
    a = os.path.join(tmp, "a.json")
    r = run(["service", "--workers", "1", "--connections", "2", "--depth", "4", "--out", a] + TINY)
    check(r.returncode == 0, "a tiny service run exits 0 (stderr: %s)" % r.stderr.strip()[-300:])
    check("\r" not in r.stderr, "no progress line when stderr is not a terminal")
    res = json.load(open(a)) if os.path.exists(a) else {}
    figs = {f["name"]: f for f in res.get("figures", [])}
    prefix = "service/w2/tcp/c2x4/b1/cache-off/k1/closed/"
    for what in ["rate", "p50", "p90", "p99", "p99.9", "max", "cpu/client", "cpu/broker",
                 "cpu/worker0", "cpu/client-share"]:
        f = figs.get(prefix + what)
        check(f is not None and len(f["runs"]) == 3 and f["min"] <= f["median"] <= f["max"]
              and f["median"] > 0, "the result file has %s over 3 runs" % what)
    check(figs.get(prefix + "p50", {}).get("median", 0) <= figs.get(prefix + "p99", {}).get("median", -1),
          "p50 <= p99")
    check(res.get("settings", {}).get("workers") == 1 and res.get("settings", {}).get("depth") == 4,
          "the settings are recorded")
    check(len(res.get("git", {}).get("commit", "")) == 40, "the git commit is recorded")
    check(res.get("machine", {}).get("cpus", 0) >= 1 and "libzmq" in res.get("versions", {}),
          "the machine and the versions are recorded")
    check(prefix + "rate" in r.stdout, "the human table names the figures")

    # 2. compare: a file with itself has no regression; halve a rate and it is flagged.
    if figs:
        r = run(["compare", a, a])
        check(r.returncode == 0 and "0 regressions" in r.stdout, "a result compared with itself: no regression")
        # Synthetic files without spread (every run at the median), so that the verdicts do
        # not depend on how noisy the tiny run was.
        flat = json.load(open(a))
        for f in flat["figures"]:
            f["runs"] = [f["median"]] * 3
            f["min"] = f["max"] = f["median"]
        a = os.path.join(tmp, "flat.json")
        json.dump(flat, open(a, "w"))
        worse = json.load(open(a))
        for f in worse["figures"]:
            if f["name"] in (prefix + "rate", prefix + "p99"):
                f["runs"] = [v / 2 for v in f["runs"]]
                f["median"] /= 2
                f["min"] /= 2
                f["max"] /= 2
        b = os.path.join(tmp, "b.json")
        json.dump(worse, open(b, "w"))
        r = run(["compare", a, b])
        lines = [l for l in r.stdout.splitlines() if "REGRESSION" in l]
        check(r.returncode == 3 and len(lines) == 1 and (prefix + "rate") in lines[0],
              "half the rate is the one regression flagged (exit 3)")
        check(any((prefix + "p99 ") in l and "better" in l for l in r.stdout.splitlines()),
              "half the p99 is reported better")
        r = run(["compare", b, a])
        lines = [l for l in r.stdout.splitlines() if "REGRESSION" in l]
        check(r.returncode == 3 and len(lines) == 1 and (prefix + "p99 ") in lines[0],
              "the other way round the doubled p99 is the one regression")

        # --compare after a run: the same build against itself flags nothing beyond the
        # spread of a synthetic old file that covers every value (speed is not judged).
        wide = json.load(open(a))
        for f in wide["figures"]:
            f["min"], f["max"] = 0.0, f["median"] * 1000
        w = os.path.join(tmp, "wide.json")
        json.dump(wide, open(w, "w"))
        r = run(["service", "--workers", "1", "--connections", "2", "--depth", "4", "--out",
                 os.path.join(tmp, "c.json"), "--compare", w] + TINY)
        check(r.returncode == 0 and "figures compared" in r.stdout,
              "--compare after a run compares and exits 0 without a regression")

    # 3. A cluster whose answers are wrong fails the run (exit 1, 'wrong answer').
    cfg = os.path.join(tmp, "config")
    shutil.copytree(os.path.join(SOURCE, "config"), cfg)
    races = os.path.join(cfg, "subsystems", "race.yaml")
    if not os.path.exists(races):
        races = sorted(os.path.join(cfg, "subsystems", f) for f in os.listdir(os.path.join(cfg, "subsystems")))[0]
    text = open(races).read()
    import re
    changed = re.sub(r"value: (\d+)", lambda m: "value: %d" % (int(m.group(1)) + 7), text, count=0)
    open(races, "w").write(changed)
    fe, be, ei, eo = free_ports(4)
    procs.append(subprocess.Popen([BROKER, "--frontend", "tcp://127.0.0.1:%d" % fe, "--backend",
                                   "tcp://127.0.0.1:%d" % be, "--events-in", "tcp://127.0.0.1:%d" % ei,
                                   "--events-out", "tcp://127.0.0.1:%d" % eo],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.2)
    procs.append(subprocess.Popen([WORKER, "--broker", "tcp://127.0.0.1:%d" % be, "--events", "",
                                   "--combiner", os.path.join(cfg, "combiner.yaml"), "--layers",
                                   os.path.join(cfg, "cap_layers.yaml"), "--subsystems",
                                   os.path.join(cfg, "subsystems"), "--store", "none"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.5)
    r = run(["service", "--broker", "tcp://127.0.0.1:%d" % fe, "--connections", "1", "--depth", "2",
             "--out", os.path.join(tmp, "wrong.json")] + TINY)
    check(r.returncode == 1 and "wrong answer" in r.stderr,
          "a cluster with other subsystem values fails the run: %s" % r.stderr.strip()[-200:])
    # The same cluster, checked against its own config, is right (the --broker path works);
    # with --pids its processes' CPU is measured, and they are left running.
    right = os.path.join(tmp, "right.json")
    r = run(["service", "--broker", "tcp://127.0.0.1:%d" % fe, "--config-dir", cfg, "--connections",
             "1", "--depth", "2", "--pids", "%d,%d" % (procs[0].pid, procs[1].pid), "--out", right] + TINY)
    check(r.returncode == 0, "the same cluster against its own --config-dir passes: %s" % r.stderr.strip()[-200:])
    names = [f["name"] for f in json.load(open(right))["figures"]] if os.path.exists(right) else []
    check(any(n.endswith("/cpu/broker") for n in names) and any(n.endswith("/cpu/worker0") for n in names),
          "--pids measures the running cluster's CPU")
    check(procs[0].poll() is None and procs[1].poll() is None, "a running cluster is left running")

    # 4. A cluster running CURVE: measured with the harness's keys; without them the run
    #    fails at once with a hint instead of waiting for replies that cannot come.
    keys = os.path.join(tmp, "keys")
    os.makedirs(os.path.join(keys, "clients"))
    os.makedirs(os.path.join(keys, "workers"))
    for name in ("broker", "worker", "loadgen"):
        subprocess.run([CLI, "keygen", os.path.join(keys, name)], check=True, capture_output=True)
    shutil.copy(os.path.join(keys, "worker"), os.path.join(keys, "workers"))
    shutil.copy(os.path.join(keys, "loadgen"), os.path.join(keys, "clients"))
    fe, be, ei, eo = free_ports(4)
    procs.append(subprocess.Popen([BROKER, "--frontend", "tcp://127.0.0.1:%d" % fe, "--backend",
                                   "tcp://127.0.0.1:%d" % be, "--events-in", "tcp://127.0.0.1:%d" % ei,
                                   "--events-out", "tcp://127.0.0.1:%d" % eo, "--security", "curve",
                                   "--curve-cert", os.path.join(keys, "broker"), "--curve-clients",
                                   os.path.join(keys, "clients"), "--curve-workers",
                                   os.path.join(keys, "workers")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.2)
    procs.append(subprocess.Popen([WORKER, "--broker", "tcp://127.0.0.1:%d" % be, "--events", "",
                                   "--combiner", os.path.join(SOURCE, "config", "combiner.yaml"),
                                   "--layers", os.path.join(SOURCE, "config", "cap_layers.yaml"),
                                   "--subsystems", os.path.join(SOURCE, "config", "subsystems"),
                                   "--store", "none", "--security", "curve", "--curve-cert",
                                   os.path.join(keys, "worker"), "--curve-server",
                                   os.path.join(keys, "broker")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.5)
    curve = ["service", "--broker", "tcp://127.0.0.1:%d" % fe, "--connections", "1", "--depth", "2"]
    r = run(curve + ["--curve-cert", os.path.join(keys, "loadgen"), "--curve-server",
                     os.path.join(keys, "broker"), "--out", os.path.join(tmp, "curve.json")] + TINY)
    check(r.returncode == 0, "a CURVE cluster measured with the harness's keys: %s" % r.stderr.strip()[-200:])
    r = run(curve + ["--out", os.path.join(tmp, "nokeys.json")] + TINY)
    check(r.returncode == 1 and "CURVE" in r.stderr, "without keys the run fails with a hint")

    # 5. Bad flags are exit 2, --help exit 0.
    check(run(["service", "--depth", "0"]).returncode == 2, "--depth 0 is exit 2")
    check(run(["nosuchmode"]).returncode == 2, "an unknown mode is exit 2")
    check(run(["service", "--pids", "1"]).returncode == 2, "--pids without --broker is exit 2")
    check(run(["--help"]).returncode == 0, "--help is exit 0")
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
