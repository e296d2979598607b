"""Integration tests of the second edition's lock shapes (PROTOCOL.md,
"Additions to v1"): read/write locks (mode shared), semaphores (permits),
and the cap on failures (max_failures, the failed answer, the streak), driven
as a user would: requests published on P/req/<node> by raw MQTT clients
(harness.Node), answers read on P/grant/<node>, snapshots on P/state/<res>,
against a private mosquitto and the real baton-coordinator; the `baton run`
cases run the CLI from the build tree.

Every wait is on an event with a generous deadline (harness.DEADLINE).
"""
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD_DIR, DEADLINE, Broker, Coordinator, Node, SharedCoordinator, unique_prefix  # noqa: E402


class ShapesTest(SharedCoordinator):

    def snapshot(self, pred, what):
        """The first retained snapshot of self.res for which pred holds."""
        topic = "%s/state/%s" % (self.prefix, self.res)
        m = self.watch.wait_for(lambda m: m[1] == topic and m[2] and pred(json.loads(m[2])), what=what)
        return json.loads(m[2])

    # ---- read/write locks ----------------------------------------------

    def test_three_readers_at_once(self):
        rs = [self.node() for _ in range(3)]
        gs = [r.request("acquire", self.res, mode="shared") for r in rs]
        self.assertEqual([g["status"] for g in gs], ["granted"] * 3)
        self.assertEqual(len({g["token"] for g in gs}), 3)
        snap = self.snapshot(lambda s: len(s.get("holders", [])) == 3, "three holders")
        self.assertEqual([h["node"] for h in snap["holders"]], [r.node for r in rs])
        self.assertEqual({h["mode"] for h in snap["holders"]}, {"shared"})
        self.assertEqual((snap["mode"], snap["holder"], snap["token"]), ("shared", rs[0].node, gs[0]["token"]))

    def test_writer_waits_for_readers_and_blocks_later_reader(self):
        r1, r2, w, r3 = self.node(), self.node(), self.node(), self.node()
        g1 = r1.request("acquire", self.res, mode="shared")
        g2 = r2.request("acquire", self.res, mode="shared")
        qw = w.request("acquire", self.res, mode="mutex", rid="w1")
        self.assertEqual((qw["status"], qw["position"], qw["holder"]), ("queued", 1, r1.node))
        q3 = r3.request("acquire", self.res, mode="shared", rid="r3")
        self.assertEqual((q3["status"], q3["position"]), ("queued", 2))
        snap = self.snapshot(lambda s: len(s.get("queue", [])) == 2, "writer and reader queued")
        self.assertEqual(snap["queue"], [{"node": w.node, "mode": "mutex"}, {"node": r3.node, "mode": "shared"}])
        r1.request("release", self.res, token=g1["token"], success=True)
        r2.request("release", self.res, token=g2["token"], success=True)
        gw = w.answer("w1", "granted")
        self.assertGreater(gw["token"], g2["token"])
        self.assertEqual(r3.request("acquire", self.res, mode="shared", rid="r3")["status"], "queued")
        w.request("release", self.res, token=gw["token"], success=True)
        self.assertGreater(r3.answer("r3", "granted")["token"], gw["token"])

    def test_upgrade_refused(self):
        a = self.node()
        a.request("acquire", self.res, mode="shared")
        r = a.request("acquire", self.res, mode="mutex")
        self.assertEqual((r["status"], r["code"]), ("rejected", "mode_conflict"))
        self.assertIn("no upgrade", r["message"])

    # ---- semaphores ------------------------------------------------------

    def test_semaphore_of_two_third_waits(self):
        a, b, c = self.node(), self.node(), self.node()
        ga = a.request("acquire", self.res, mode="mutex", permits=2)
        gb = b.request("acquire", self.res, mode="mutex", permits=2)
        self.assertEqual((ga["status"], gb["status"]), ("granted", "granted"))
        qc = c.request("acquire", self.res, mode="mutex", permits=2, rid="c1")
        self.assertEqual((qc["status"], qc["holder"]), ("queued", a.node))
        # Snapshots are coalesced and may trail the answers: wait for the one
        # that has seen all three acquires (two holders and C in line).
        snap = self.snapshot(lambda s: s.get("permits") == 2 and len(s.get("holders", [])) == 2
                             and s.get("waiting"), "two holders and a waiter")
        self.assertEqual(snap["waiting"], [c.node])
        b.request("release", self.res, token=gb["token"], success=False, error="killed")
        gc = c.answer("c1", "granted")
        self.assertEqual((gc["previous"]["node"], gc["previous"]["error"]), (b.node, "killed"))

    def test_permits_conflict(self):
        a, b = self.node(), self.node()
        a.request("acquire", self.res, mode="mutex", permits=3)
        r = b.request("acquire", self.res, mode="mutex", permits=2)
        self.assertEqual((r["status"], r["code"]), ("rejected", "mode_conflict"))
        self.assertIn("permits", r["message"])
        r = b.request("acquire", self.res, mode="shared")
        self.assertEqual((r["status"], r["code"]), ("rejected", "mode_conflict"))
        self.assertIn("semaphore", r["message"])
        bad = b.request("acquire", self.res, mode="shared", permits=2)
        self.assertEqual((bad["status"], bad["code"]), ("rejected", "bad_request"))
        self.assertIn("permits", bad["message"])
        bad = b.request("acquire", self.res, mode="mutex", max_failures=2)
        self.assertEqual((bad["status"], bad["code"]), ("rejected", "bad_request"))
        for fields, word in (({"mode": "mutex", "permits": 0}, "permits"),
                             ({"mode": "mutex", "permits": 1025}, "permits"),
                             ({"max_failures": 0}, "max_failures"),
                             ({"max_failures": 1001}, "max_failures"),
                             ({"mode": "exclusive"}, "mode")):
            bad = b.request("acquire", self.res, **fields)
            self.assertEqual((bad["status"], bad["code"]), ("rejected", "bad_request"), fields)
            self.assertIn(word, bad["message"])
        # nothing changed: a still holds alone, with its permits
        snap = self.snapshot(lambda s: s.get("permits") == 3, "the semaphore")
        self.assertEqual([h["node"] for h in snap["holders"]], [a.node])

    # ---- the cap on failures ---------------------------------------------

    def test_streak_reaches_one_cap_and_not_another(self):
        a, b, c, d = self.node(), self.node(), self.node(), self.node()
        ga = a.request("acquire", self.res)
        self.assertEqual(b.request("acquire", self.res, max_failures=1, rid="b1")["status"], "queued")
        self.assertEqual(c.request("acquire", self.res, max_failures=2, rid="c1")["status"], "queued")
        self.assertEqual(d.request("acquire", self.res, rid="d1")["status"], "queued")
        a.request("release", self.res, token=ga["token"], success=False, error="manifest unknown")
        fb = b.answer("b1", "failed")
        self.assertEqual(fb["failures"], 1)
        self.assertEqual((fb["last"]["node"], fb["last"]["token"], fb["last"]["error"], fb["last"]["reason"]),
                         (a.node, ga["token"], "manifest unknown", "released"))
        self.assertIn("completed_at", fb["last"])
        gc = c.answer("c1", "granted")  # its cap (2) is not reached
        c.request("release", self.res, token=gc["token"], success=False, error="manifest unknown")
        gd = d.answer("d1", "granted")  # no cap: never failed
        snap = self.snapshot(lambda s: s.get("failures") == 2, "streak of 2")
        self.assertEqual((snap["holder"], snap["last_failure"]["node"]), (d.node, c.node))
        self.assertEqual(gd["previous"]["node"], c.node)

    def test_failed_at_once_for_late_arrival_and_reset_clears(self):
        a, late, z = self.node(), self.node(), self.node()
        ga = a.request("acquire", self.res, max_failures=5)
        a.request("release", self.res, token=ga["token"], success=False, error="no such image")
        snap = self.snapshot(lambda s: s.get("failures") == 1, "streak remembered")
        self.assertIsNone(snap["holder"])
        f = late.request("acquire", self.res, max_failures=1)
        self.assertEqual((f["status"], f["failures"], f["last"]["error"]), ("failed", 1, "no such image"))
        # a mutex or shared acquire of a resource remembered by its streak conflicts
        m = late.request("acquire", self.res, mode="mutex")
        self.assertEqual((m["status"], m["code"]), ("rejected", "mode_conflict"))
        self.assertEqual(z.request("reset", self.res)["status"], "reset")
        self.watch.wait_for(lambda m: m[1] == "%s/state/%s" % (self.prefix, self.res) and m[2] == b"",
                            what="snapshot cleared")
        self.assertEqual(late.request("acquire", self.res, max_failures=1)["status"], "granted")


class ShapesRestartTest(unittest.TestCase):
    """A durable coordinator killed in the middle of a streak comes back
    with its count, its last failure and its capped waiters."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-shapes-")
        self.broker = Broker().__enter__()
        self.prefix = unique_prefix("sr")
        self.coord = Coordinator(self.broker, self.prefix, state=os.path.join(self.dir, "state.db"))
        self.coord.start()
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.close()
        if self.coord.proc is not None:
            self.coord.stop()
        self.broker.__exit__(None, None, None)
        shutil.rmtree(self.dir, ignore_errors=True)

    def node(self):
        n = Node(self.broker, self.prefix)
        self.nodes.append(n)
        return n

    def test_durable_restart_in_the_middle_of_a_streak(self):
        res = "img/missing"
        a, b, c = self.node(), self.node(), self.node()
        ga = a.request("acquire", res)
        self.assertEqual(b.request("acquire", res, max_failures=2, rid="b1")["status"], "queued")
        self.assertEqual(c.request("acquire", res, max_failures=3, rid="c1")["status"], "queued")
        a.request("release", res, token=ga["token"], success=False, error="e1")
        gb = b.answer("b1", "granted")
        self.coord.stop(sig=9)  # killed: only what was committed survives
        self.coord.start()
        b.request("release", res, token=gb["token"], success=False, error="e2")
        # streak 2 after the restart: C (cap 3) is granted, a late cap of 2 fails at once
        gc = c.answer("c1", "granted")
        self.assertEqual(gc["previous"]["error"], "e2")
        f = self.node().request("acquire", res, max_failures=2)
        self.assertEqual((f["status"], f["failures"], f["last"]["node"]), ("failed", 2, b.node))
        self.coord.stop(sig=9)
        self.coord.start()
        c.request("release", res, token=gc["token"], success=False, error="e3")
        f3 = self.node().request("acquire", res, max_failures=3)
        self.assertEqual((f3["status"], f3["failures"], f3["last"]["error"]), ("failed", 3, "e3"))


BATON = os.path.join(BUILD_DIR, "agent", "baton")


@unittest.skipUnless(os.path.exists(BATON), "the baton CLI is not built")
class ShapesCliTest(SharedCoordinator):
    """`baton run --shared`, `--permits N` and `--max-failures N`, `baton
    status` and `baton watch`, as a user runs them."""

    TAG, RES = "sc", "cli/"

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="baton-shapes-cli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        super().tearDown()

    def cmd(self, *args, node=None):
        node = node or "cli-" + os.urandom(4).hex()
        return [BATON, args[0], "--broker", self.broker.uri, "--prefix", self.prefix, "--node", node] + \
            list(args[1:]), node

    def run_baton(self, *args, timeout=DEADLINE * 3):
        cmd, _ = self.cmd(*args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def start(self, *args):
        cmd, node = self.cmd(*args)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        p.node = node
        return p

    def finish(self, p):
        out, err = p.communicate(timeout=DEADLINE * 3)
        return p.returncode, out, err

    def state(self):
        return self.watch.state(self.res) or {}

    def test_three_shared_runs_at_once(self):
        # Each command marks itself started and waits (bounded) until all
        # three have: only runs that hold the lock together can all succeed.
        script = ('touch %s/$BATON_NODE; i=0; while [ "$(ls %s | wc -l)" -lt 3 ]; do '
                  'i=$((i+1)); [ $i -gt 400 ] && exit 3; sleep 0.05; done' % (self.dir, self.dir))
        ps = [self.start("run", "--shared", "--resource", self.res, "--", "sh", "-c", script) for _ in range(3)]
        for p in ps:
            rc, _, err = self.finish(p)
            self.assertEqual(rc, 0, err)

    def test_writer_run_waits_for_reader_then_runs(self):
        reader = self.node()
        g = reader.request("acquire", self.res, mode="shared")
        w = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "true")
        wait = lambda: any(q.get("node") == w.node for q in self.state().get("queue", []))  # noqa: E731
        self.watch.wait_for(lambda m: wait(), what="the writer queued")
        self.assertEqual(self.state()["queue"], [{"node": w.node, "mode": "mutex"}])
        reader.request("release", self.res, token=g["token"], success=True)
        rc, _, err = self.finish(w)
        self.assertEqual(rc, 0, err)

    def test_semaphore_run_busy_and_permits_conflict(self):
        a, b = self.node(), self.node()
        a.request("acquire", self.res, mode="mutex", permits=2)
        b.request("acquire", self.res, mode="mutex", permits=2)
        r = self.run_baton("run", "--permits", "2", "--wait", "0", "--resource", self.res, "--", "true")
        self.assertEqual(r.returncode, 75, r.stderr)
        r = self.run_baton("run", "--permits", "3", "--resource", self.res, "--", "true")
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("permits", r.stderr)
        st = self.run_baton("status", self.res)
        self.assertEqual(st.returncode, 0, st.stderr)
        self.assertIn("%s +1" % a.node, st.stdout)
        self.assertIn("permits: 2", st.stdout)
        r = self.run_baton("run", "--shared", "--permits", "2", "--resource", self.res, "--", "true")
        self.assertEqual(r.returncode, 64, r.stderr)

    def test_max_failures_stops_a_hopeless_run(self):
        a = self.node()
        for i in range(2):
            g = a.request("acquire", self.res)
            a.request("release", self.res, token=g["token"], success=False, error="manifest unknown")
        marker = os.path.join(self.dir, "ran")
        r = self.run_baton("run", "--max-failures", "2", "--resource", self.res, "--", "touch", marker)
        self.assertEqual(r.returncode, 79, r.stderr)
        self.assertFalse(os.path.exists(marker))
        self.assertIn("2 times in a row", r.stderr)
        self.assertIn(a.node, r.stderr)
        self.assertIn("manifest unknown", r.stderr)
        st = self.run_baton("status", self.res)
        self.assertIn("failures: 2 in a row, last %s" % a.node, st.stdout)
        # a cap not reached yet: it runs, and its success ends the streak
        r = self.run_baton("run", "--max-failures", "3", "--resource", self.res, "--", "touch", marker)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(marker))
        self.watch.wait_for(lambda m: (self.state().get("done") or {}).get("node") is not None,
                            what="the success remembered")
        self.assertNotIn("failures", self.state())

    def test_watch_shows_readers_queue_and_streak(self):
        w = self.start("watch", self.res + "/#")
        readers = [self.node() for _ in range(2)]
        writer = self.node()
        for r in readers:
            r.request("acquire", self.res + "/db", mode="shared")
        writer.request("acquire", self.res + "/db", mode="mutex")
        a = self.node()
        g = a.request("acquire", self.res + "/img")
        a.request("release", self.res + "/img", token=g["token"], success=False, error="no such image")
        self.watch.wait_for(lambda m: (self.watch.state(self.res + "/img") or {}).get("failures") == 1,
                            what="the streak published")
        text, fd = "", w.stdout.fileno()  # read the pipe itself: no buffering to outwit select
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end and "failure in a row" not in text:
            if select.select([fd], [], [], 0.5)[0]:
                text += os.read(fd, 65536).decode("utf-8", "replace")
        w.send_signal(2)
        w.wait(timeout=DEADLINE)
        self.assertIn("%s/db to %s" % (self.res, readers[1].node), text)
        self.assertIn("shared, 2 holding", text)
        self.assertIn("1 failure in a row, last by %s" % a.node, text)
        self.assertIn("no such image", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
