"""Chaos test of `baton run` (issue 13): a command runs only while its lock
is valid, under every fault.

Three nodes run `baton run` in a loop on one mutex resource, each through a
loopback TCP proxy of its own (tcpproxy.py) to one private mosquitto; the
coordinator connects directly. Their commands (witness.py) write heartbeats
with timestamps to one witness file. n1 and n3 take 3 s leases, and n3's
commands are stubborn (they ignore SIGTERM and fork grandchildren, one of
which leaves the process group); n2 takes 20 s leases, longer than the
15-20 s after which mosquitto fires the Will of a silent node (1.5
keepalives of 10 s, checked every 5 s), so that the Will, not the lease,
hands its lock on. Faults are injected in a seeded random order, several
times each, on the node holding the lock at that moment (n1 or n3 unless
named), each lasting the holder's lease and 2 s more:
  kill      SIGKILL of its `baton` (the command must die with it)
  stop      SIGSTOP of its `baton` past the lease, then SIGCONT
  part      both directions of its proxy black-holed past the lease
  part_up   node -> broker black-holed past the lease
  part_down broker -> node black-holed past the lease
  broker    SIGKILL of the broker, restarted on the same port
  stubborn  n3's proxy black-holed: a lease lost with a command that
            ignores SIGTERM and has grandchildren
  will      n2's proxy black-holed: the Will fires before its lease ends
  will_stop SIGSTOP of n2's `baton` past its Will
The checker takes each holding (one token) as the interval from its first
to its last heartbeat, by any of its processes, and proves that no two
intervals overlap; it prints the smallest gap between consecutive holders.
A heartbeat every 50 ms means an overlap shorter than that could go unseen.

Bounded: 18 faults, each with deadlines; about 3 minutes. Loopback only.
BATON_CHAOS_SEED=N replays an order; the seed is printed first.
BATON_CHAOS_FAULTS=kill,part (say) injects only those kinds (the third
node's commands are stubborn only when "stubborn" is among them), to show
which fault breaks an older build.
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
from faultkit import baton_bin, pid_alive  # noqa: E402
from harness import Broker, Coordinator, unique_prefix, wait_until  # noqa: E402
from tcpproxy import TcpProxy  # noqa: E402

PY = sys.executable
WITNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "witness.py")
LEASES = (3, 20, 3)  # n1, n2 (the Will node), n3 (stubborn)
RESOURCE = "chaos/r1"
FAULTS = (["kill"] * 3 + ["stop"] * 2 + ["part"] * 2 + ["part_up"] * 2 + ["part_down"] * 2 + ["broker"] * 2 +
          ["stubborn"] * 2 + ["will"] * 2 + ["will_stop"])


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

    def __init__(self, name, proxy, prefix, witness, rng, lease, stubborn=False):
        super().__init__(daemon=True)
        self.name_, self.proxy, self.prefix, self.witness = name, proxy, prefix, witness
        self.rng, self.lease, self.stubborn = rng, lease, stubborn
        self.current = None  # (node id, Popen)
        self.long_next = False  # the next run's command holds 40 s (the Will faults)
        self.long_node = None
        self.runs = []  # (node id, exit code, stderr tail)
        self.stopping = threading.Event()
        self.mu = threading.Lock()

    def run(self):
        k = 0
        while not self.stopping.is_set():
            k += 1
            node = "%s-%d" % (self.name_, k)
            hold = self.rng.randint(800, 2500)
            if self.long_next:
                hold, self.long_node, self.long_next = 40000, node, False
            cmd = [baton_bin(), "run", "--broker", self.proxy.uri, "--prefix", self.prefix, "--node", node,
                   "--resource", RESOURCE, "--mode", "mutex", "--lease", "%ds" % self.lease, "--wait", "60s",
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
        only = os.environ.get("BATON_CHAOS_FAULTS")
        self.faults = [f for f in FAULTS if only is None or f in only.split(",")]
        self.loops = [NodeLoop("n%d" % (i + 1), self.proxies[i], self.prefix, self.witness,
                               random.Random(self.seed * 10 + i), LEASES[i],
                               stubborn=(i == 2 and "stubborn" in self.faults))
                      for i in range(3)]
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
        for min_held s; want: only those loops'."""
        def find():
            now = time.monotonic()
            for tok, h in read_witness(self.witness).items():
                if now - h["end"] < 0.2 and h["end"] - h["start"] >= min_held:
                    for lp in self.loops:
                        if (want is None or lp in want) and lp.baton_of(h["node"]) is not None:
                            return lp, h["node"], tok
            return None
        return wait_until(find, timeout=timeout, what="a holder")

    def next_holder(self, old_token, timeout=60):
        wait_until(lambda: any(t > old_token and h["end"] - h["start"] > 0.2
                               for t, h in read_witness(self.witness).items()),
                   timeout=timeout, what="a holder after token %d" % old_token)

    def inject(self, kind):
        if kind in ("will", "will_stop"):
            # a command that outlives the Will, so that only the agent stops it
            n2 = self.loops[1]
            n2.long_next = True
            wait_until(lambda: n2.long_node is not None, timeout=60, what="n2's long run")
            lp, node, tok = wait_until(lambda: (lambda h: h if h[1] == n2.long_node else None)(
                self.holder(want=[n2], timeout=90)), timeout=120, what="n2's long run holding")
            n2.long_node = None
        else:
            want = [self.loops[2]] if kind == "stubborn" else [self.loops[0], self.loops[2]]
            lp, node, tok = self.holder(want=want, timeout=90)
        p = lp.baton_of(node)
        t0 = time.monotonic()
        length = lp.lease + 2  # the fault's length, not an assertion
        if kind == "kill":
            p.send_signal(signal.SIGKILL)
        elif kind in ("stop", "will_stop"):
            p.send_signal(signal.SIGSTOP)
            time.sleep(length)
            p.send_signal(signal.SIGCONT)
        elif kind in ("part", "part_up", "part_down", "stubborn", "will"):
            direction = {"part_up": "up", "part_down": "down"}.get(kind, "both")
            lp.proxy.pause(direction)
            time.sleep(length)
            lp.proxy.resume()
        elif kind == "broker":
            self.broker.restart(signal.SIGKILL)
        self.next_holder(tok, timeout=90)
        print("  %-9s on %-6s token %-4d: next holder after %.1f s" % (kind, node, tok, time.monotonic() - t0),
              flush=True)

    # ---- the test ------------------------------------------------------------

    def test_no_two_commands_run_at_once_under_faults(self):
        order = list(self.faults)
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
        self.assertGreaterEqual(len(hold), len(order))
        # every process of every command is gone once its agent ended
        pids = set().union(*(h["pids"] for h in hold.values()))
        try:
            wait_until(lambda: not [p for p in pids if pid_alive(p)], timeout=10, what="every command process gone")
        except AssertionError:
            self.fail("processes outlived their agents: %s" % sorted(p for p in pids if pid_alive(p)))

if __name__ == "__main__":
    unittest.main(verbosity=2)
