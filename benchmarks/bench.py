"""tapeflow against TensorFlow/Keras and PyTorch on the workloads W1-W6 of ``shared/ANCHORS.md``.

Every (framework, workload) pair runs in its own fresh process (``_workloads_<framework>.py``),
frameworks alternating inside each round, and the script prints medians over all timed epochs and
the speed ratios tapeflow / peer (above 1 means tapeflow is faster; for W4, whose unit is us per
step, the ratio is peer time / tapeflow time). It also measures ``import tapeflow`` (whole
process), the installed size with dependencies, and the peak RSS of the W1 fit.

Usage::

    python benchmarks/bench.py                 # 3 rounds, 3 timed epochs each (7 for W4/W5)
    python benchmarks/bench.py --quick         # 3 rounds, 1 timed epoch each (3 for W4/W5)
    python benchmarks/bench.py --workloads W1 W4 --peers none
    python benchmarks/bench.py --profile W2    # cProfile of tapeflow's W2 fit, in this process
    python benchmarks/bench.py --markdown out.md   # also write the Markdown table

The peers come from ``--peers PYTHON`` (default ``/tmp/peers/bin/python`` when it exists), an
interpreter that can import ``tensorflow`` + ``keras`` and/or ``torch``; they are never a
dependency of tapeflow.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _workloads_common import HIGHER_IS_BETTER, WORKLOADS, installed_size  # noqa: E402

DEFAULT_PEERS = "/tmp/peers/bin/python"
SCRIPTS = {"tapeflow": "_workloads_tapeflow.py", "keras": "_workloads_keras.py",
           "torch": "_workloads_torch.py"}
PEER_IMPORT = {"keras": "import tensorflow, keras", "torch": "import torch"}
PEER_DIST = {"keras": "tensorflow-cpu", "torch": "torch"}
# Targets of issue 7: minimum speed ratio against the faster peer.
TARGETS = {"W1": 1.5, "W2": 1.5, "W3": 1.0, "W4": 1.5, "W5": 1.5, "W6": 1.0}
IMPORT_TARGET_S = 0.3
SIZE_TARGET_MIB = 150


def _env(extra=None):
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.update(extra or {})
    return env


def peer_frameworks(python):
    """The peers ``python`` can import, as a list of framework names."""
    if not python or python == "none" or not os.path.exists(python):
        return []
    found = []
    for fw, stmt in PEER_IMPORT.items():
        r = subprocess.run([python, "-c", stmt], capture_output=True, env=_env(), timeout=300)
        if r.returncode == 0:
            found.append(fw)
    return found


def run_workload(python, fw, wid, epochs, env=None, timeout=900):
    """Runs one workload in a fresh process and returns its JSON record (or an error record)."""
    cmd = [python, os.path.join(HERE, SCRIPTS[fw]), wid, "--epochs", str(epochs)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=_env(env), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in r.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit status {r.returncode}"}


def import_time(python, stmt, repeats):
    """Median wall time of a whole ``python -c stmt`` process."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([python, "-c", stmt], capture_output=True, env=_env(), check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def speed_ratio(unit, ours, theirs):
    if ours is None or theirs is None:
        return None
    return ours / theirs if HIGHER_IS_BETTER[unit] else theirs / ours


def profile(wid, epochs, top):
    """Runs tapeflow's workload ``wid`` under cProfile in this process and prints the top."""
    import cProfile
    import pstats

    import _workloads_tapeflow as w

    w.run_one(wid, 0, 0)  # warm-up: build, compile, one epoch
    prof = cProfile.Profile()
    prof.enable()
    secs, _ = w.run_one(wid, epochs, 0)
    prof.disable()
    print(f"{wid}: timed epochs {[round(s, 3) for s in secs]} s (under the profiler)")
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def _fmt(v, unit):
    if v is None:
        return "-"
    return f"{v:,.0f}" if unit == "samples/s" else f"{v:,.1f}"


def _fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per round (W1-W3, W6)")
    p.add_argument("--epochs-small", type=int, default=7, help="timed epochs per round (W4, W5)")
    p.add_argument("--quick", action="store_true",
                   help="3 rounds of 1 timed epoch (3 for W4/W5), after the usual warm-up")
    p.add_argument("--peers", default=DEFAULT_PEERS,
                   help="interpreter with tensorflow+keras and/or torch ('none' to skip)")
    p.add_argument("--tapeflow-env", action="append", default=[], metavar="K=V",
                   help="environment variable for the tapeflow processes (repeatable)")
    p.add_argument("--markdown", help="write the Markdown results table to this file")
    p.add_argument("--json", help="write every raw record to this file")
    p.add_argument("--profile", metavar="WID", help="cProfile tapeflow's workload WID and exit")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="start no new round after this many seconds (keeps a run bounded)")
    p.add_argument("--timeout", type=float, default=600, metavar="SECONDS",
                   help="limit for one (framework, workload) process")
    args = p.parse_args(argv)
    if args.profile:
        profile(args.profile, args.epochs, args.top)
        return 0
    if args.quick:
        args.epochs, args.epochs_small = 1, 3
    for wid in args.workloads:
        if wid not in WORKLOADS:
            p.error(f"unknown workload {wid!r}; expected some of {sorted(WORKLOADS)}")
    tf_env = dict(kv.split("=", 1) for kv in args.tapeflow_env)
    peers = peer_frameworks(args.peers)
    frameworks = ["tapeflow"] + peers
    python = {"tapeflow": sys.executable, **{fw: args.peers for fw in peers}}
    print(f"frameworks: {frameworks}; rounds: {args.rounds}; timed epochs per round: "
          f"{args.epochs} ({args.epochs_small} for W4/W5)", flush=True)
    t_start = time.time()
    args.load_start = os.getloadavg()[0]
    records = []
    values = {(fw, wid): [] for fw in frameworks for wid in args.workloads}
    extras = {}
    rounds_done = 0
    for rnd in range(args.rounds):
        if args.budget is not None and rnd and time.time() - t_start > args.budget:
            print(f"  budget of {args.budget:.0f} s used: stopping after {rnd} rounds", flush=True)
            break
        rounds_done = rnd + 1
        order = frameworks[rnd % len(frameworks):] + frameworks[:rnd % len(frameworks)]
        for wid in args.workloads:
            epochs = args.epochs_small if wid in ("W4", "W5") else args.epochs
            for fw in order:
                rec = run_workload(python[fw], fw, wid, epochs,
                                   env=tf_env if fw == "tapeflow" else None,
                                   timeout=args.timeout)
                rec.update(round=rnd, framework=fw, workload=wid)
                records.append(rec)
                if "error" in rec:
                    print(f"  round {rnd} {wid} {fw}: ERROR {rec['error']}", flush=True)
                    continue
                values[(fw, wid)] += rec["values"]
                extras.setdefault((fw, wid), []).append(rec)
                med = statistics.median(rec["values"])
                print(f"  round {rnd} {wid} {fw:8s} {_fmt(med, rec['unit']):>10s} {rec['unit']}"
                      f"  (peak RSS {rec['peak_rss_mib']:.0f} MiB)", flush=True)

    # start-up and footprint
    imp = {"tapeflow": import_time(sys.executable, "import tapeflow", 5),
           "numpy": import_time(sys.executable, "import numpy", 5)}
    for fw in peers:
        imp[fw] = import_time(args.peers, PEER_IMPORT[fw], 2)
    seen = set()
    size = {"tapeflow": installed_size("tapeflow", seen)}
    # the optional ``jit`` extra (Numba, llvmlite), counted beyond what tapeflow already brings
    jit_size = installed_size("numba", seen)[0]
    for fw in peers:
        code = ("import sys; sys.path.insert(0, %r); from _workloads_common import "
                "installed_size as s; b, n = s(%r); print(b)" % (HERE, PEER_DIST[fw]))
        r = subprocess.run([args.peers, "-c", code], capture_output=True, text=True)
        size[fw] = (int(r.stdout.strip() or 0), [PEER_DIST[fw]])
    elapsed = time.time() - t_start

    args.rounds = rounds_done
    lines = _table(args, frameworks, peers, values, extras, imp, size, elapsed, jit_size)
    text = "\n".join(lines)
    print()
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    return 0


def _jit_state(args):
    """Whether tapeflow's processes ran its compiled kernels (the ``jit`` extra)."""
    env = dict(kv.split("=", 1) for kv in (args.tapeflow_env or []) if "=" in kv)
    try:
        import numba
    except ImportError:
        return "off (numba not installed: NumPy kernels)"
    if env.get("TAPEFLOW_JIT", os.environ.get("TAPEFLOW_JIT", "1")) == "0":
        return f"off (TAPEFLOW_JIT=0; numba {numba.__version__} installed)"
    return f"on (numba {numba.__version__}, the `jit` extra)"



def _table(args, frameworks, peers, values, extras, imp, size, elapsed, jit_size=0):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python benchmarks/bench.py " + " ".join(sys.argv[1:])
    import numpy

    lines = [f"Command: `{cmd.strip()}`  ",
             f"Date: {now}; wall time of the run {elapsed:.0f} s; load average (1 min) "
             f"{args.load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs "
             f"({_cpu_name()}); Python {platform.python_version()}, NumPy {numpy.__version__}; "
             f"tapeflow's compiled kernels: {_jit_state(args)}  ",
             f"Rounds: {args.rounds}, each (framework, workload) in a fresh process, frameworks "
             f"alternating; one warm-up epoch then {args.epochs} timed epochs per round "
             f"({args.epochs_small} passes/epochs for W4/W5). Figures are medians over all "
             f"timed epochs. Ratio = tapeflow speed / peer speed (>1: tapeflow faster)."
             + (f" tapeflow environment: {' '.join(args.tapeflow_env)}." if args.tapeflow_env
                else ""), ""]
    head = "| workload | unit | " + " | ".join(frameworks)
    for fw in peers:
        head += f" | ratio vs {fw}"
    if peers:
        head += " | ratio vs faster peer | target | met"
    lines += [head + " |", "|" + "---|" * (head.count("|"))]
    for wid in args.workloads:
        unit = WORKLOADS[wid][3]
        med = {fw: statistics.median(values[(fw, wid)]) if values[(fw, wid)] else None
               for fw in frameworks}
        row = f"| {wid} {WORKLOADS[wid][0].split(' ')[0]} | {unit} | "
        row += " | ".join(_fmt(med[fw], unit) for fw in frameworks)
        ratios = [speed_ratio(unit, med["tapeflow"], med[fw]) for fw in peers]
        for r in ratios:
            row += f" | {_fmt_ratio(r)}"
        if peers:
            known = [r for r in ratios if r is not None]
            worst = min(known) if known else None
            met = "-" if worst is None else ("yes" if worst >= TARGETS[wid] else "NO")
            row += f" | {_fmt_ratio(worst)} | {TARGETS[wid]:.1f}x | {met}"
        lines.append(row + " |")
    lines += ["", "| start-up and footprint | " + " | ".join(["tapeflow"] + peers) + " | target |",
              "|---|" + "---|" * (len(peers) + 2)]
    lines.append(f"| import time, whole process (s; `python -c 'import numpy'`: "
                 f"{imp['numpy']:.2f} s) | " + " | ".join(f"{imp[fw]:.2f}" for fw in
                                                         ["tapeflow"] + peers)
                 + f" | < {IMPORT_TARGET_S} |")
    lines.append("| installed size with dependencies (MiB) | "
                 + " | ".join(f"{size[fw][0] / 2**20:.0f}" for fw in ["tapeflow"] + peers)
                 + f" | < {SIZE_TARGET_MIB} |")
    if jit_size:
        lines.append(f"| ... with the optional `jit` extra (Numba) (MiB) | "
                     f"{(size['tapeflow'][0] + jit_size) / 2**20:.0f} | "
                     + " | ".join("-" for _ in peers) + " | - |")
    w1 = extras.get(("tapeflow", "W1"))
    if w1:
        data_mib = (784 + 1) * 4 * WORKLOADS["W1"][2] / 2**20
        rss = max(r["peak_rss_mib"] for r in w1)
        target = 2 * data_mib + 300
        lines.append(f"| W1 fit peak RSS (MiB; data {data_mib:.0f} MiB) | {rss:.0f} | "
                     + " | ".join(f"{max(r['peak_rss_mib'] for r in extras[(fw, 'W1')]):.0f}"
                                  if extras.get((fw, "W1")) else "-" for fw in peers)
                     + f" | < {target:.0f} |")
    return lines


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
