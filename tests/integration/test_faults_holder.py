"""Fault tests on the holder's side (issue 7): a `baton run` agent that
crashes (SIGKILL) or freezes (SIGSTOP past its lease, then SIGCONT) while it
holds the lock. Each test records a history (Recorder, the holders' own log,
the fencing resource server's log) and checks the guarantees over it.
"""
import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from faultkit import EXIT_LOST, AgentRun, ResourceServer, pid_alive, run_cmd  # noqa: E402
from harness import Broker, Coordinator, Node, unique_prefix, wait_until  # noqa: E402
from history import Recorder, check_holdings, read_holder_log  # noqa: E402


class HolderFaults(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-faults-")
        self.log = os.path.join(self.dir, "holders.log")
        self.broker = Broker().__enter__()
        self.prefix = unique_prefix("h")
        self.coord = Coordinator(self.broker, self.prefix, state=os.path.join(self.dir, "state.db")).start()
        self.rec = Recorder(self.broker, self.prefix)
        self.server = ResourceServer()
        self.procs = []
        self.orphans = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        for pid in self.orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.server.close()
        self.rec.close()
        if self.coord.proc is not None:
            self.coord.stop()
        if os.environ.get("BATON_FAULTS_VERBOSE"):
            print("---- coordinator log ----\n" + self.coord.log()[-6000:])
        self.broker.__exit__(None, None, None)

    def agent(self, node, **kw):
        r = AgentRun(run_cmd(self.broker.uri, self.prefix, node, self.res, self.log,
                             server_port=self.server.port, **kw))
        self.procs.append(r)
        return r

    def started(self, node):
        return wait_until(lambda: next((h for h in read_holder_log(self.log) if h["node"] == node), None),
                          timeout=30, what="%s holding" % node)

    def queued(self, node):
        self.rec.wait(lambda e: e[1] == "%s/grant/%s" % (self.prefix, node) and e[2]
                      and json.loads(e[2]).get("status") == "queued", what="%s queued" % node)

    def check_history(self, killed=None):
        check_holdings(read_holder_log(self.log), revoked=self.rec.revoke_times(), killed=killed)
        self.rec.check_all_answered()
        self.rec.check_answers_consistent()
        self.rec.check_tokens_rise()

    # ------------------------------------------------------------------------

    def test_holder_crash_kills_command_and_successor_granted_through_will(self):
        """SIGKILL of the `baton run` agent: its keeper kills the command
        within a second (issue 13; it used to run on as an orphan), the
        broker fires the Will, the coordinator hands the lock to the waiter,
        and no write of the old holder follows the successor's first."""
        self.res = "crash/r1"
        a = self.agent("a1", hold_ms=60000, lease="30s")
        ha = self.started("a1")
        b = self.agent("b1", hold_ms=1500)
        self.queued("b1")
        t_kill = time.monotonic()
        a.send_signal(signal.SIGKILL)  # the agent only
        cmd_pid = ha["pid"]
        self.orphans.append(cmd_pid)
        wait_until(lambda: not pid_alive(cmd_pid), timeout=10, what="the command to die with its agent")
        t_dead = time.monotonic()
        self.assertLess(t_dead - t_kill, 1.0, "the command outlived its agent by over a second")
        hb = self.started("b1")
        self.assertGreater(hb["token"], ha["token"])
        self.assertGreater(hb["start"], t_dead)
        g = [x for _, n, x in self.rec.records("grant") if n == "b1" and x.get("status") == "granted"][0]
        self.assertEqual((g["previous"]["node"], g["previous"]["reason"]), ("a1", "node_offline"))
        self.assertEqual(b.wait(60), 0, b.err)
        self.assertEqual(a.wait(10), -signal.SIGKILL)
        first_b = min(w[0] for w in self.server.writes("b1"))
        self.assertEqual([w for w in self.server.writes("a1") if w[0] > first_b], [])
        print("\ncommand dead %.0f ms after SIGKILL of its agent; handoff %.0f ms" %
              ((t_dead - t_kill) * 1000, (hb["start"] - t_kill) * 1000))
        self.check_history(killed={ha["token"]: t_kill})

    def test_holder_freeze_past_lease_is_revoked_and_fenced(self):
        """SIGSTOP of the whole host (agent, keeper and command) past a 2 s
        lease, which no agent can guard against: the coordinator revokes
        (lease_expired) and grants the waiter; on SIGCONT the agent learns it
        lost the lock by itself, kills its command and exits 76; any late
        write of the command carries the lower token and is refused by the
        resource server (fencing)."""
        self.res = "freeze/r1"
        a = self.agent("a1", hold_ms=60000, lease="2s")
        ha = self.started("a1")
        b = self.agent("b1", hold_ms=3000)
        self.queued("b1")
        a.kill_group(signal.SIGSTOP)
        try:
            hb = self.started("b1")
            wait_until(lambda: self.server.writes("b1"), timeout=10, what="successor's first write")
        finally:
            a.kill_group(signal.SIGCONT)
        self.assertGreater(hb["token"], ha["token"])
        self.assertEqual(a.wait(30), EXIT_LOST, a.err)
        self.assertIn(b"lost", a.err)
        self.assertEqual(b.wait(60), 0, b.err)
        revoked = [x for _, n, x in self.rec.records("grant") if n == "a1" and x.get("status") == "revoked"]
        self.assertEqual((revoked[0]["token"], revoked[0]["reason"]), (ha["token"], "lease_expired"))
        g = [x for _, n, x in self.rec.records("grant") if n == "b1" and x.get("status") == "granted"][0]
        self.assertEqual(g["previous"]["reason"], "lease_expired")
        # fencing: every write of the frozen holder after the successor's
        # first one was refused (on SIGCONT it is killed at once, so it may
        # make none: the lock's validity has long run out)
        first_b = min(w[0] for w in self.server.writes("b1"))
        late = [w for w in self.server.writes("a1") if w[0] > first_b]
        self.assertFalse([w for w in late if w[5]], "a late write with the old token was accepted")
        self.check_history()

    def test_late_release_after_expiry_is_not_holder(self):
        """A node that held with a 1 s lease and stopped renewing: its late
        release is rejected not_holder and changes nothing; the successor's
        token is higher and the old token's write is refused."""
        self.res = "freeze/r2"
        a, b = Node(self.broker, self.prefix, "n-a"), Node(self.broker, self.prefix, "n-b")
        try:
            g = a.request("acquire", self.res, mode="mutex", lease_ms=1000)
            self.assertEqual(g["status"], "granted")
            rid = b.send("acquire", self.res, mode="mutex")
            gb = b.answer(rid, "granted", timeout=30)
            self.assertGreater(gb["token"], g["token"])
            ok_b = self.server_write(self.res, gb["token"], "n-b")
            late = a.request("release", self.res, token=g["token"], success=True)
            self.assertEqual((late["status"], late["code"]), ("rejected", "not_holder"))
            self.assertEqual((ok_b, self.server_write(self.res, g["token"], "n-a")), ("ok", "refused"))
            again = b.request("renew", self.res, token=gb["token"])
            self.assertEqual(again["status"], "renewed")
            self.rec.check_all_answered()
            self.rec.check_answers_consistent()
            self.rec.check_tokens_rise()
        finally:
            a.close()
            b.close()

    def test_interrupted_run_stops_the_whole_group_then_releases(self):
        """SIGINT to `baton run`: the command's group gets it (it is not in
        baton's process group, so only baton can pass it on), a process
        that ignores it is SIGKILLed after --kill-after, and baton exits
        130 only when every process is gone, after releasing the lock."""
        import subprocess
        from faultkit import baton_bin
        pids = os.path.join(self.dir, "pids")
        cmd = ("sleep 60 & echo $! >> %s; (trap '' INT TERM; exec sleep 60) & echo $! >> %s; "
               "echo $$ >> %s; wait" % (pids, pids, pids))
        p = subprocess.Popen([baton_bin(), "run", "--broker", self.broker.uri, "--prefix", self.prefix, "--node",
                              "i1", "--resource", "int/r1", "--mode", "mutex", "--kill-after", "1s", "--",
                              "sh", "-c", cmd], stderr=subprocess.PIPE, start_new_session=True)
        wait_until(lambda: os.path.exists(pids) and len(open(pids).read().split()) == 3, timeout=30,
                   what="the command's processes")
        procs = [int(x) for x in open(pids).read().split()]
        p.send_signal(signal.SIGINT)
        rc = p.wait(60)
        self.assertEqual(rc, 130, p.stderr.read())
        self.assertEqual([x for x in procs if pid_alive(x)], [], "a process of the command outlived baton")
        out = [x for _, r, x in self.rec.records("outcome") if r == "int/r1"]
        self.assertEqual([(o["node"], o["success"]) for o in out], [("i1", False)])

    def test_kill_after_that_does_not_fit_the_lease_is_refused(self):
        """--kill-after must leave a renewal two chances in the lock's
        validity (half of it at most): refused at start, with the numbers,
        before anything is sent."""
        import subprocess
        from faultkit import baton_bin
        p = subprocess.run([baton_bin(), "run", "--broker", self.broker.uri, "--prefix", self.prefix, "--node", "k1",
                            "--resource", "ka/r1", "--lease", "3s", "--kill-after", "2s", "--", "true"],
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertIn(b"--kill-after 2.0s does not fit the lock", p.stderr)
        self.assertIn(b"at most half of that, 1.4s", p.stderr)
        self.assertEqual(self.rec.records("req"), [])
        ok = subprocess.run([baton_bin(), "run", "--broker", self.broker.uri, "--prefix", self.prefix, "--node",
                             "k2", "--resource", "ka/r1", "--lease", "3s", "--kill-after", "1s", "--", "true"],
                            stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(ok.returncode, 0, ok.stderr)

    def server_write(self, res, token, node):
        import socket
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(("W %s %d %s late\n" % (res, token, node)).encode())
            return s.makefile().readline().strip()


if __name__ == "__main__":
    unittest.main(verbosity=2)
