"""A replicated group's parity with the single coordinator (issue 15):

- every member serves Prometheus metrics (--metrics-listen): the counters
  of what it applied (the same on every member), the group's gauges (role,
  term, leader, indexes), and the request latency on the leader;
- one coordinator per prefix (issue 12) in group mode: a single coordinator
  refuses to start while a group serves; a group's leader refuses to serve
  while a live single coordinator does, and says so in its log and health;
  it stops serving when another coordinator's presence appears, and serves
  again once it is gone; the presences of the group's own earlier leaders
  (a killed leader's stays online:true) never count.
"""
import json
import os
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DEADLINE, Broker, Client, Coordinator, Node, free_port, unique_prefix, wait_until  # noqa: E402
from test_daytwo import scrape  # noqa: E402
from test_group import N, Group, ask  # noqa: E402


class GroupSafetyTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-gsafe-")
        self.broker = Broker()
        self.broker.__enter__()
        self.prefix = unique_prefix("gs")
        self.coord = Client(self.broker)
        self.coord.subscribe(self.prefix + "/coordinator")
        self.g = Group(self.broker, self.prefix, self.dir)
        self.node = Node(self.broker, self.prefix, "n1")
        self.singles = []

    def tearDown(self):
        for c in self.singles:
            if c.proc is not None:
                c.stop(signal.SIGKILL)
        self.node.close()
        self.coord.close()
        self.g.close()
        self.broker.__exit__(None, None, None)

    # ---- helpers ---------------------------------------------------------

    def start_group(self, extra=None):
        self.g.extra.update(extra or {})
        for i in range(1, N + 1):
            self.g.start(i)

    def presences(self):
        """Every presence seen on P/coordinator, in order (decoded)."""
        with self.coord.cv:
            msgs = list(self.coord.msgs)
        return [json.loads(p) for _, _, p, _ in msgs if p]

    def group_serving(self):
        """The group's serving presence (one with its member), once it is out."""
        def find():
            ps = [p for p in self.presences() if p.get("online") and p.get("member")]
            return ps[-1] if ps else None
        return wait_until(find, timeout=DEADLINE, what="the group serving")

    def cycle(self, resource="gs/1", timeout=DEADLINE):
        """An acquire and a release, re-sent (same id) as libbaton does until
        answered: a request delivered to a leader that was deposed is lost."""
        a = ask(self.node, "acquire", resource, timeout, mode="mutex", lease_ms=5000)
        self.assertEqual(a["status"], "granted", a)
        r = ask(self.node, "release", resource, timeout, token=a["token"], success=True)
        self.assertEqual(r["status"], "released", r)

    def log(self, i):
        with open(self.g.log_path(i), errors="replace") as f:
            return f.read()

    def single(self, **kw):
        c = Coordinator(self.broker, self.prefix, **kw)
        self.singles.append(c)
        return c

    # ---- metrics ---------------------------------------------------------

    def test_every_member_serves_metrics(self):
        ports = {i: free_port() for i in range(1, N + 1)}
        self.start_group({i: ["--metrics-listen", "127.0.0.1:%d" % ports[i]] for i in ports})
        lead = self.g.leader()
        self.group_serving()
        for _ in range(3):
            self.cycle()
        keys = ['baton_requests_total{op="acquire",answer="granted"}',
                'baton_requests_total{op="release",answer="released"}']
        # Every member applies the same entries: the same request counts.
        wait_until(lambda: all((lambda s: all(s.get(k) == 3 for k in keys))(scrape(ports[i])) for i in ports),
                   timeout=DEADLINE, what="every member counting the 3 acquires and releases")
        s = {i: scrape(ports[i]) for i in ports}
        for i in ports:
            role = "leader" if i == lead else "follower"
            self.assertEqual(s[i]['baton_group_role{role="%s"}' % role], 1, (i, role))
            self.assertEqual(sum(v for k, v in s[i].items() if k.startswith("baton_group_role{")), 1)
            self.assertEqual(s[i]["baton_group_member_id"], i)
            self.assertEqual(s[i]["baton_group_leader_id"], lead)
            self.assertEqual(s[i]["baton_group_term"], s[lead]["baton_group_term"])
            self.assertGreater(s[i]["baton_group_applied_index"], 0)
            self.assertGreaterEqual(s[i]["baton_group_commit_index"], s[i]["baton_group_applied_index"])
            self.assertGreaterEqual(s[i]["baton_commits_total"], 6)
            self.assertEqual(s[i]["baton_serving"], 1 if i == lead else 0)
            self.assertEqual(s[i]["baton_broker_connected"], 1 if i == lead else 0)
        # The latency is the leader's: it knows when what it proposed arrived.
        self.assertGreaterEqual(s[lead]["baton_request_duration_seconds_count"], 6)
        for i in ports:
            if i != lead:
                self.assertEqual(s[i]["baton_request_duration_seconds_count"], 0)

    # ---- one coordinator per prefix ---------------------------------------

    def test_single_refuses_while_a_group_serves(self):
        self.start_group()
        self.g.leader()
        self.group_serving()
        c = self.single()
        c.start(wait=False)
        rc = c.proc.wait(timeout=DEADLINE * 2)
        c.proc = None
        c.logf.close()
        self.assertEqual(rc, 75, c.log()[-3000:])
        self.assertIn("another coordinator serves this prefix; refusing to start", c.log())
        self.cycle()  # the group still serves

    def test_leader_refuses_while_a_single_serves(self):
        c = self.single()
        c.start()
        single = [p for p in self.presences() if p.get("online")][-1]["instance"]
        self.start_group()
        lead = self.g.leader()
        wait_until(lambda: "refuses to serve until it is gone" in self.log(lead), timeout=DEADLINE,
                   what="the leader refusing in its log")
        h = wait_until(lambda: (lambda h: h if h.get("serving") is False else None)(self.g.healths().get(lead, {})),
                       timeout=DEADLINE, what="the leader's health saying it does not serve")
        self.assertIn(single, h["reason"])
        self.assertFalse([p for p in self.presences() if p.get("member")], "the group published a presence")
        self.cycle()  # the single coordinator answers
        self.assertEqual(c.stop(), 0)
        # Once it is gone, the leader's next look finds nobody: it serves.
        self.group_serving()
        self.cycle("gs/2")
        lead = self.g.leader()
        wait_until(lambda: "serving" not in self.g.healths().get(lead, {}), timeout=DEADLINE,
                   what="the leader's health no longer saying it does not serve")

    def test_leader_stops_serving_when_another_appears(self):
        self.start_group()
        lead = self.g.leader()
        self.group_serving()
        self.cycle()
        rival = Client(self.broker)
        try:
            other = {"v": 1, "online": True, "version": "0.0.0", "started_at": "2026-01-01T00:00:00.000Z",
                     "instance": "c-00000000deadbeef"}
            rival.publish(self.prefix + "/coordinator", json.dumps(other), retain=True)
            wait_until(lambda: "another coordinator appeared on this prefix" in self.log(lead), timeout=DEADLINE,
                       what="the leader stopping")
            wait_until(lambda: self.g.healths().get(lead, {}).get("serving") is False, timeout=DEADLINE,
                       what="the leader's health saying it does not serve")
            # It answers nothing meanwhile.
            rid = self.node.send("acquire", "gs/3", mode="mutex", lease_ms=5000)
            with self.assertRaises(AssertionError):
                self.node.answer(rid, timeout=3)
            # The other one goes (its Will): the group serves again.
            gone = dict(other, online=False)
            rival.publish(self.prefix + "/coordinator", json.dumps(gone), retain=True)
            self.cycle("gs/4", timeout=DEADLINE * 2)
        finally:
            rival.close()

    def test_own_earlier_leaders_are_never_rivals(self):
        self.start_group()
        first = self.g.leader()
        self.group_serving()
        self.cycle()
        # A frozen leader (or one whose host died) keeps its connection open
        # until the broker's keepalive notices: its presence stays online:true,
        # retained, when the next leader looks, and once the next leader takes
        # the session over its Will never fires. It is the group's own: the
        # next leader serves at once instead of waiting for that Will.
        self.g.send(first, signal.SIGSTOP)
        try:
            self.cycle("gs/2", timeout=DEADLINE * 2)
            lead = self.g.leader()
            self.assertNotEqual(lead, first)
        finally:
            self.g.send(first, signal.SIGCONT)
        self.assertNotIn("waiting for its Will", self.log(lead))
        self.assertNotIn("another coordinator", self.log(lead))


if __name__ == "__main__":
    unittest.main(verbosity=2)
