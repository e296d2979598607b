"""Chaos test of `baton run` (issue 13): a command runs only while its lock
is valid, under every fault.

Three nodes run `baton run` in a loop on one mutex resource (lease 3 s),
each through a loopback TCP proxy of its own (tcpproxy.py) to one private
mosquitto; the coordinator connects directly. Their commands (witness.py)
write heartbeats with timestamps to one witness file; the third node's are
stubborn (they ignore SIGTERM and fork grandchildren, one of which leaves
the process group). Faults are injected in a seeded random order, several
times each, always on the node holding the lock at that moment:
  kill      SIGKILL of its `baton` (the command must die with it)
  stop      SIGSTOP of its `baton` past the lease, then SIGCONT
  part      both directions of its proxy black-holed past the lease
  part_up   node -> broker black-holed past the lease
  part_down broker -> node black-holed past the lease
  broker    SIGKILL of the broker, restarted on the same port
  stubborn  the stubborn node's proxy black-holed: a lease lost with a
            command that ignores SIGTERM and has grandchildren
The checker takes each holding (one token) as the interval from its first
to its last heartbeat, by any of its processes, and proves that no two
intervals overlap; it prints the smallest gap between consecutive holders.
A heartbeat every 50 ms means an overlap shorter than that could go unseen.

Bounded: 15 faults, each with deadlines; about 2-3 minutes. Loopback only.
BATON_CHAOS_SEED=N replays an order; the seed is printed first.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from faultkit import baton_bin  # noqa: E402
from harness import Broker, Coordinator, unique_prefix, wait_until  # noqa: E402
from tcpproxy import TcpProxy  # noqa: E402

PY = sys.executable
WITNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "witness.py")
LEASE_S = 3
RESOURCE = "chaos/r1"
FAULTS = (["kill"] * 3 + ["stop"] * 2 + ["part"] * 2 + ["part_up"] * 2 + ["part_down"] * 2 + ["broker"] * 2 +
          ["stubborn"] * 2)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_witness(path):
    """{token: {"node", "start", "end", "pids"}} from the witness file."""
    hold = {}
    if not os.path.exists(path):
        return hold
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 6 or parts[0] != "hb":
                continue
            node, token, pid, t = parts[1], int(parts[2]), int(parts[3]), float(parts[5])
            h = hold.setdefault(token, {"node": node, "start": t, "end": t, "pids": set()})
            h["start"], h["end"] = min(h["start"], t), max(h["end"], t)
            h["pids"].add(pid)
    return hold


def check_no_overlap(hold):
    """Raises on two holdings whose heartbeat intervals overlap; returns the
    smallest gap (s) between the end of one and the start of the next."""
    hs = sorted(hold.items(), key=lambda kv: kv[1]["start"])
    smallest, last_tok, last_end = None, None, None
    for tok, h in hs:
        if last_end is not None:
            gap = h["start"] - last_end
            if gap <= 0:
                prev = hold[last_tok]
                raise AssertionError("holdings overlap by %.3f s: token %d (%s) beat until %.3f, token %d (%s) "
                                     "from %.3f" % (-gap, last_tok, prev["node"], last_end, tok, h["node"], h["start"]))
            smallest = gap if smallest is None else min(smallest, gap)
        if last_end is None or h["end"] > last_end:
            last_tok, last_end = tok, h["end"]
    return smallest


class NodeLoop(threading.Thread):
    """Runs `baton run` through its proxy again and again until stopped; a
    new node id per run, so a killed run's Will never meets its successor."""

    def __init__(self, name, proxy, prefix, witness, rng, stubborn=False):
        super().__init__(daemon=True)
        self.name_, self.proxy, self.prefix, self.witness = name, proxy, prefix, witness
        self.rng, self.stubborn = rng, stubborn
        self.current = None  # (node id, Popen)
        self.runs = []  # (node id, exit code, stderr tail)
        self.stopping = threading.Event()
        self.mu = threading.Lock()

    def run(self):
        k = 0
        while not self.stopping.is_set():
            k += 1
            node = "%s-%d" % (self.name_, k)
            hold = self.rng.randint(800, 2500)
            cmd = [baton_bin(), "run", "--broker", self.proxy.uri, "--prefix", self.prefix, "--node", node,
                   "--resource", RESOURCE, "--mode", "mutex", "--lease", "%ds" % LEASE_S, "--wait", "60s",
                   "--", PY, WITNESS, self.witness, str(hold)] + (["stubborn"] if self.stubborn else [])
            errf = tempfile.TemporaryFile()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, start_new_session=True)
            with self.mu:
                self.current = (node, p)
            try:
                rc = p.wait(180)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            with self.mu:
                self.current = None
            errf.seek(0)
            self.runs.append((node, rc, errf.read().decode("utf-8", "replace")[-300:]))
            errf.close()
            time.sleep(self.rng.randint(0, 200) / 1000.0)

    def baton_of(self, node):
        with self.mu:
            cur = self.current
        return cur[1] if cur is not None and cur[0] == node else None


class ChaosRun(unittest.TestCase):
    def setUp(self):
        self.seed = int(os.environ.get("BATON_CHAOS_SEED", str(time.time_ns() % 1000000)))
        print("\nchaos seed: %d (BATON_CHAOS_SEED=%d replays it)" % (self.seed, self.seed), flush=True)
        self.rng = random.Random(self.seed)
        self.dir = tempfile.mkdtemp(prefix="baton-chaos-")
        self.witness = os.path.join(self.dir, "witness.log")
        self.broker = Broker().__enter__()
        self.prefix = unique_prefix("chaos")
        self.coord = Coordinator(self.broker, self.prefix, state=os.path.join(self.dir, "state.db")).start()
        self.proxies = [TcpProxy(self.broker.port) for _ in range(3)]
        self.loops = [NodeLoop("n%d" % (i + 1), self.proxies[i], self.prefix, self.witness,
                               random.Random(self.seed * 10 + i), stubborn=(i == 2)) for i in range(3)]
        for lp in self.loops:
            lp.start()

    def tearDown(self):
        for lp in self.loops:
            lp.stopping.set()
        for px in self.proxies:
            px.resume()
        for lp in self.loops:
            lp.join(90)
        # whatever outlived its agent (never, when the test passes)
        for h in read_witness(self.witness).values():
            for pid in h["pids"]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for px in self.proxies:
            px.stop()
        if self.coord.proc is not None:
            self.coord.stop()
        self.broker.__exit__(None, None, None)

    # ---- helpers -------------------------------------------------------------

    def holder(self, min_held=0.3, want=None, timeout=60):
        """(loop, node, token) of a holding that is beating now and has held
        for min_held s; want: only that loop's."""
        def find():
            now = time.monotonic()
            for tok, h in read_witness(self.witness).items():
                if now - h["end"] < 0.2 and h["end"] - h["start"] >= min_held:
                    for lp in self.loops:
                        if (want is None or lp is want) and lp.baton_of(h["node"]) is not None:
                            return lp, h["node"], tok
            return None
        return wait_until(find, timeout=timeout, what="a holder")

    def next_holder(self, old_token, timeout=60):
        wait_until(lambda: any(t > old_token and h["end"] - h["start"] > 0.2
                               for t, h in read_witness(self.witness).items()),
                   timeout=timeout, what="a holder after token %d" % old_token)

    def inject(self, kind):
        lp, node, tok = self.holder(want=self.loops[2] if kind == "stubborn" else None,
                                    timeout=90 if kind == "stubborn" else 60)
        p = lp.baton_of(node)
        t0 = time.monotonic()
        if kind == "kill":
            p.send_signal(signal.SIGKILL)
        elif kind == "stop":
            p.send_signal(signal.SIGSTOP)
            time.sleep(LEASE_S + 1.5)  # the fault's length, not an assertion
            p.send_signal(signal.SIGCONT)
        elif kind in ("part", "part_up", "part_down", "stubborn"):
            direction = {"part_up": "up", "part_down": "down"}.get(kind, "both")
            lp.proxy.pause(direction)
            time.sleep(LEASE_S + 2)
            lp.proxy.resume()
        elif kind == "broker":
            self.broker.restart(signal.SIGKILL)
        self.next_holder(tok, timeout=90)
        print("  %-9s on %-6s token %-4d: next holder after %.1f s" % (kind, node, tok, time.monotonic() - t0),
              flush=True)

    # ---- the test ------------------------------------------------------------

    def test_no_two_commands_run_at_once_under_faults(self):
        order = list(FAULTS)
        self.rng.shuffle(order)
        print("faults: %s" % " ".join(order), flush=True)
        t_start = time.monotonic()
        self.holder(timeout=60)
        for kind in order:
            self.inject(kind)
        for lp in self.loops:
            lp.stopping.set()
        for lp in self.loops:
            lp.join(120)
            self.assertFalse(lp.is_alive(), "node loop %s did not finish" % lp.name_)
        hold = read_witness(self.witness)
        gap = check_no_overlap(hold)
        codes = {}
        for lp in self.loops:
            for _, rc, _ in lp.runs:
                codes[rc] = codes.get(rc, 0) + 1
        print("%d holdings in %.0f s; exit codes %s; smallest gap between consecutive holders %.0f ms"
              % (len(hold), time.monotonic() - t_start, dict(sorted(codes.items())), gap * 1000), flush=True)
        for lp in self.loops:
            for node, rc, err in lp.runs:
                if rc not in (0, 76, -9):  # 76: lost; -9: the kill fault
                    print("  run %s exited %d: %s" % (node, rc, err.strip().splitlines()[-1:]), flush=True)
        self.assertGreaterEqual(len(hold), len(FAULTS))
        # every process of every command is gone once its agent ended
        pids = set().union(*(h["pids"] for h in hold.values()))
        try:
            wait_until(lambda: not [p for p in pids if alive(p)], timeout=10, what="every command process gone")
        except AssertionError:
            self.fail("processes outlived their agents: %s" % sorted(p for p in pids if alive(p)))

if __name__ == "__main__":
    unittest.main(verbosity=2)
