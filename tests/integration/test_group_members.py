"""Membership changes of the replicated group (issue 15): grow, shrink,
remove a dead member for good, remove the leader.

3 members bootstrap a group; a 4th and a 5th start empty with --join and
are added with `baton-coordinator member add` (asking twice is answered
"nothing to change"); then two of the original three are SIGKILLed,
the leader among them, and the group of 5 serves on with 3; the two dead
members are removed for good, after which one more loss is survived (a
quorum of the 3 that are left); finally the serving leader is removed: it
hands leadership over first, the new leader removes it and answers, and the
removed member says it was removed. Every member's retained
health on P/coordinator/<member> lists the configuration it knows. A bad
request is refused in words. Bounded deadlines, no sleeps.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Broker, Client, Node, free_port, unique_prefix, wait_until  # noqa: E402
from test_group import ELECTION_MS, Group  # noqa: E402


class Members(Group):
    """Members 1..3 bootstrap; 4 and 5 join later. Each binds its own port."""

    def __init__(self, broker, prefix, tmp):  # pylint: disable=super-init-not-called
        self.broker, self.prefix, self.dir = broker, prefix, tmp
        self.client_id = "grp-" + prefix.split("/")[1]
        self.port, self.proxy, self.procs = {}, {}, {}
        for i in range(1, 6):
            port = free_port()
            while port in self.port.values():
                port = free_port()
            self.port[i] = port
        self.peers = ",".join(self.peer(i) for i in (1, 2, 3))
        self.health = Client(broker)
        self.health.subscribe(prefix + "/coordinator/+")

    def peer(self, i):
        return "%d=127.0.0.1:%d" % (i, self.port[i])

    def start(self, i, join=False):
        cmd = [self.binary(), "--broker", self.broker.uri, "--prefix", self.prefix, "--client-id", self.client_id,
               "--state", self.state_path(i), "--member", str(i),
               "--peers", self.peer(i) if join else self.peers,
               "--election-timeout", "%dms" % ELECTION_MS, "--heartbeat", "50ms", "--log-level", "info",
               "--log-file", self.log_path(i)] + (["--join"] if join else [])
        with open(self.err_path(i), "ab") as err:
            self.procs[i] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)

    def admin(self, *args):
        """Runs `baton-coordinator member ARGS...`; returns (status, stdout)."""
        cmd = [self.binary(), "member"] + [str(a) for a in args] + [
            "--broker", self.broker.uri, "--prefix", self.prefix, "--wait", "60s"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        print("  $ baton-coordinator member %s -> %d\n%s%s" % (" ".join(map(str, args)), p.returncode,
                                                                 p.stdout, p.stderr), end="")
        return p.returncode, p.stdout

    def log(self, i):
        with open(self.log_path(i), errors="replace") as f:
            return f.read()

    def voters(self, i):
        """The voters member i's latest health lists."""
        ms = self.healths().get(i, {}).get("members", [])
        return sorted(m["id"] for m in ms if m["role"] == "voter")

    def wait_voters(self, members, want):
        for i in members:
            wait_until(lambda i=i: self.voters(i) == want, timeout=60,
                       what="member %d's health listing voters %s (has %s)" % (i, want, self.voters(i)))


class GroupMembersTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-members-")
        self.broker = Broker()
        self.broker.__enter__()
        self.prefix = unique_prefix("gm")
        self.g = Members(self.broker, self.prefix, self.dir)
        for i in (1, 2, 3):
            self.g.start(i)
        self.g.leader()
        self.probe = Node(self.broker, self.prefix, "probe")

    def tearDown(self):
        self.probe.close()
        self.g.close()
        reports = self.g.sanitizer_reports()
        if os.environ.get("BATON_GROUP_VERBOSE"):
            for i in range(1, 6):
                if os.path.exists(self.g.log_path(i)):
                    with open(self.g.log_path(i), errors="replace") as f:
                        print("---- member %d ----\n%s" % (i, f.read()[-5000:]))
        self.broker.__exit__(None, None, None)
        self.assertEqual(reports, [])

    def cycle(self, what):
        """One acquire/release of g/probe, re-sent (same id) until answered."""
        def ask(op, **fields):
            rid = self.probe.send(op, "g/probe", **fields)
            end = 60
            while True:
                try:
                    return self.probe.answer(rid, timeout=2)
                except AssertionError:
                    end -= 2
                    if end <= 0:
                        raise
                    self.probe.send(op, "g/probe", rid=rid, **fields)
        a = ask("acquire", mode="mutex", lease_ms=5000, wait_ms=20000)
        self.assertEqual(a["status"], "granted", (what, a))
        self.assertEqual(ask("release", token=a["token"], success=True)["status"], "released", what)
        print("  served: %s" % what)

    def test_grow_to_five_lose_two_remove_them_and_the_leader(self):
        g = self.g
        g.wait_voters([1, 2, 3], [1, 2, 3])
        self.cycle("3 members")
        # A member started with --join waits, with no configuration, to be added.
        g.start(4, join=True)
        wait_until(lambda: g.healths().get(4, {}).get("online"), timeout=30, what="member 4's health")
        self.assertNotIn("members", g.healths()[4])
        t0 = time.monotonic()
        rc, out = g.admin("add", 4, "127.0.0.1:%d" % g.port[4])
        self.assertEqual((rc, out.split(":")[0]), (0, "done"), out)
        print("  adding member 4: answered after %.3f s" % (time.monotonic() - t0))
        rc, out = g.admin("add", 4, "127.0.0.1:%d" % g.port[4])  # asked twice: safe
        self.assertEqual(rc, 0, out)
        self.assertIn("nothing to change", out)
        rc, out = g.admin("add", 4, "127.0.0.1:%d" % g.port[5])  # the id has another address
        self.assertEqual((rc, out.split(":")[0]), (1, "conflict"), out)
        # Asked before member 5 runs: it is added as a spare, its promotion
        # is given up (libraft: no catching up within 5 s), and it counts
        # for nothing; asked again once it runs, it is only promoted.
        rc, out = g.admin("add", 5, "127.0.0.1:%d" % g.port[5])
        self.assertEqual((rc, out.split(":")[0]), (1, "failed"), out)
        self.assertIn("did not catch up", out)
        self.assertIn("member 5 127.0.0.1:%d spare" % g.port[5], out)
        g.start(5, join=True)
        rc, out = g.admin("add", 5, "127.0.0.1:%d" % g.port[5])
        self.assertEqual((rc, out.split(":")[0]), (0, "done"), out)
        g.wait_voters([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
        self.cycle("5 members")

        # Two of the original three lost, the leader among them: 3 of 5 serve.
        lead = g.leader()
        dead = [lead] + [i for i in (1, 2, 3) if i != lead][:1] if lead in (1, 2, 3) else [1, 2]
        for i in dead:
            g.stop(i, signal.SIGKILL)
        wait_until(lambda: g.leader(timeout=60) not in dead, timeout=60, what="a leader among the live")
        self.cycle("5 members, %s killed" % dead)

        # Removed for good: the quorum is 2 of the 3 left, so one more loss is
        # survived (with 5 voters, 2 live ones would serve nothing).
        for i in dead:
            rc, out = g.admin("remove", i)
            self.assertEqual((rc, out.split(":")[0]), (0, "done"), out)
        rc, out = g.admin("remove", dead[0])
        self.assertIn("nothing to change", out)
        live = sorted(set(range(1, 6)) - set(dead))
        g.wait_voters(live, live)
        lead = g.leader()
        victim = [i for i in live if i != lead][0]
        g.stop(victim, signal.SIGKILL)
        self.cycle("3 voters, %d killed too" % victim)
        g.start(victim, join=victim > 3)  # its raft data makes it the voter it was (--join: a no-op then)
        wait_until(lambda: g.healths().get(victim, {}).get("role") == "follower", timeout=60,
                   what="member %d following again" % victim)

        # A bad request is refused in words.
        raw = Client(self.broker)
        raw.subscribe(self.prefix + "/coordinator/admin/ans/t1")
        raw.publish(self.prefix + "/coordinator/admin/req/t1", b'{"v":1,"op":"add","id":"x1","member":0}')
        m = raw.wait_for(lambda m: m[1].endswith("/ans/t1"), timeout=30, what="the answer to a bad request")
        ans = json.loads(m[2])
        self.assertEqual((ans["status"], ans["reason"], ans["id"]), ("refused", "bad_request", "x1"), ans)
        raw.close()

        # The serving leader removed: it answers, steps down, another serves.
        lead = g.leader()
        t0 = time.monotonic()
        rc, out = g.admin("remove", lead)
        self.assertEqual((rc, out.split(":")[0]), (0, "done"), out)
        t1 = time.monotonic()
        rest = [i for i in live if i != lead]
        # It handed leadership over first: the new leader removed it as a follower.
        self.assertRegex(out, r"\(member (%s) answered\)" % "|".join(map(str, rest)))
        wait_until(lambda: g.leader(timeout=60) in rest, timeout=60, what="a leader among %s" % rest)
        g.wait_voters(rest, rest)
        self.cycle("leader %d removed" % lead)
        print("  removing the leader: answered after %.3f s, served again %.3f s after the request"
              % (t1 - t0, time.monotonic() - t0))
        wait_until(lambda: "removed from the group's configuration" in g.log(lead), timeout=30,
                   what="member %d saying it was removed" % lead)


if __name__ == "__main__":
    unittest.main(verbosity=2)
