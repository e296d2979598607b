#!/usr/bin/python3
"""bench_run_will.py - the Will handoff as a `baton run` user sees it (issue 13).

    bench_run_will.py --broker URI --prefix P --reps N BATON [OLD_BATON]

A holder `baton run` holds a mutex (its command sleeps); a waiter `baton
run` is queued behind it; the holder's `baton` is SIGKILLed. Measured: from
the kill to the waiter's command starting (its first instruction writes the
time). That is the broker's Will, the coordinator's revoke and grant, and,
on the agent side, whatever the waiter does before it starts its command (a
grant after a wait is used only once a renewal is answered) and the keeper's
fork. Also measured: an uncontended `baton run` from its start to its
command's. With OLD_BATON (say, a build of main) both run side by side,
alternating, against the same broker and coordinator; the output is a
markdown table of medians (min-max) and their ratio.

Every process it starts is stopped by its PID. The holder's command of an
old build survives the kill of its `baton` (that is what issue 13 fixed):
the bench kills it by the PID it wrote.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def wait_file(path, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path) as f:
                s = f.read().strip()
            if s:
                return s
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError("timed out waiting for %s" % path)


def run(baton, a, node, res, cmd):
    return subprocess.Popen([baton, "run", "--broker", a.broker, "--prefix", a.prefix, "--node", node,
                             "--resource", res, "--mode", "mutex", "--wait", "60s", "--", "sh", "-c", cmd],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait(30)


def will_once(baton, a, d, k):
    """One Will handoff sample in ms."""
    res = "runwill/r%d" % k
    hmark, hpid, wmark = (os.path.join(d, "%s.%d" % (x, k)) for x in ("hstart", "hpid", "wstart"))
    holder = run(baton, a, "bh-%d" % k, res, "echo $$ > %s; date +%%s%%N > %s; exec sleep 60" % (hpid, hmark))
    waiter = None
    try:
        wait_file(hmark)
        waiter = run(baton, a, "bw-%d" % k, res, "date +%%s%%N > %s" % wmark)
        time.sleep(0.5)  # let the waiter be queued (a bench, not a test: no assertion rests on it)
        t_kill = time.time_ns()
        holder.send_signal(signal.SIGKILL)
        t_start = int(wait_file(wmark))
        waiter.wait(60)
        return (t_start - t_kill) / 1e6
    finally:
        stop(holder)
        try:
            os.kill(int(wait_file(hpid, 1)), signal.SIGKILL)  # an old build's orphan
        except (ProcessLookupError, RuntimeError, ValueError):
            pass
        if waiter is not None:
            stop(waiter)


def start_once(baton, a, d, k):
    """An uncontended `baton run`: its start to its command's, ms."""
    mark = os.path.join(d, "sstart.%d" % k)
    t0 = time.time_ns()
    p = run(baton, a, "bs-%d" % k, "runwill/s%d" % k, "date +%%s%%N > %s" % mark)
    p.wait(60)
    return (int(wait_file(mark)) - t0) / 1e6


def fmt(v):
    return "%.1f (%.1f-%.1f)" % (statistics.median(v), min(v), max(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("baton")
    ap.add_argument("old", nargs="?")
    a = ap.parse_args()
    bins = [("this build", a.baton)] + ([("old build", a.old)] if a.old else [])
    will = {n: [] for n, _ in bins}
    start = {n: [] for n, _ in bins}
    d = tempfile.mkdtemp(prefix="baton-runwill-")
    k = 0
    for _ in range(a.reps):
        for name, b in bins:  # alternate, so both see the same machine
            k += 1
            will[name].append(will_once(b, a, d, k))
            start[name].append(start_once(b, a, d, k))
    head = "| `baton run`, ms | " + " | ".join(n for n, _ in bins) + (" | ratio |" if a.old else "")
    print(head)
    print("|---" * (len(bins) + 1 + (1 if a.old else 0)) + "|")
    for label, vals in (("Will handoff: SIGKILL of the holder's `baton` to the waiter's command start", will),
                        ("uncontended: `baton run` start to its command's start", start)):
        row = "| %s (%d reps) | " % (label, a.reps) + " | ".join(fmt(vals[n]) for n, _ in bins)
        if a.old:
            row += " | %.2f" % (statistics.median(vals["this build"]) / statistics.median(vals["old build"]))
        print(row + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
