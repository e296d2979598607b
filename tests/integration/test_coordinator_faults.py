"""Fault tests of baton-coordinator: broker restarts, coordinator restarts
(graceful and SIGKILL, with the durable store), SIGTERM presence, and one run
of the daemon under valgrind. Each test has its own broker and coordinator.
"""
import json
import os
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Broker, Client, Coordinator, Node, Watcher, unique_prefix, wait_until  # noqa: E402


def presence(broker, prefix):
    c = Client(broker)
    c.subscribe("%s/coordinator" % prefix)
    return c


class FaultTest(unittest.TestCase):
    def test_sigterm_publishes_offline_and_exits_zero(self):
        with Broker() as b:
            prefix = unique_prefix("f")
            coord = Coordinator(b, prefix).start()
            w = presence(b, prefix)
            w.wait_for(lambda m: m[2] and json.loads(m[2])["online"] is True, what="online")
            rc = coord.stop(signal.SIGTERM)
            self.assertEqual(rc, 0, coord.log())
            w.wait_for(lambda m: m[2] and json.loads(m[2])["online"] is False, what="online:false")
            self.assertIn("stopped", coord.log())
            w.close()

    def test_broker_restart_keeps_serving_and_republishes(self):
        with Broker(persistence=False) as b:
            prefix = unique_prefix("f")
            with Coordinator(b, prefix) as coord:
                n = Node(b, prefix)
                g = n.request("acquire", "r/1", lease_ms=60000)
                self.assertEqual(g["status"], "granted")
                n.close()
                b.restart(signal.SIGKILL)  # retained snapshots and presence are gone with it
                w = Watcher(b, prefix)
                # the coordinator reconnects on its own and republishes presence and snapshots
                w.wait_for(lambda m: m[1] == prefix + "/coordinator" and m[2]
                           and json.loads(m[2])["online"] is True, timeout=60, what="presence again")
                st = w.wait_for(lambda m: m[1] == prefix + "/state/r/1" and m[2], timeout=60, what="snapshot")
                self.assertEqual(json.loads(st[2])["token"], g["token"])
                n2 = Node(b, prefix, n.node)
                again = n2.request("acquire", "r/1", lease_ms=60000)
                self.assertEqual((again["status"], again["token"]), ("granted", g["token"]))
                other = Node(b, prefix).request("acquire", "r/2")
                self.assertEqual(other["status"], "granted")
                self.assertIsNotNone(coord.proc)
                self.assertIsNone(coord.proc.poll())
                n2.close()
                w.close()

    def test_sighup_reopens_the_log_file(self):
        with Broker() as b:
            prefix = unique_prefix("f")
            logdir = tempfile.mkdtemp(prefix="baton-log-")
            path = os.path.join(logdir, "coordinator.log")
            coord = Coordinator(b, prefix, args=["--log-file", path, "--log-format", "json"]).start()
            try:
                n = Node(b, prefix)
                n.request("acquire", "log/1")
                os.rename(path, path + ".1")  # what logrotate does
                coord.proc.send_signal(signal.SIGHUP)
                wait_until(lambda: os.path.exists(path), what="log reopened")
                n.request("acquire", "log/2")
                wait_until(lambda: '"resource":"log/2"' in open(path).read(), what="grant logged to the new file")
                self.assertIn('"resource":"log/1"', open(path + ".1").read())
                for line in open(path):
                    json.loads(line)  # every line is one JSON object
                n.close()
            finally:
                self.assertEqual(coord.stop(signal.SIGTERM), 0)

    def test_stale_retained_snapshot_is_cleared_on_connect(self):
        with Broker() as b:
            prefix = unique_prefix("f")
            w = Watcher(b, prefix)
            # A snapshot the broker kept for a lock the coordinator does not have.
            w.publish(prefix + "/state/ghost/1", {"v": 1, "resource": "ghost/1", "mode": "once", "holder": "n9",
                                                   "token": 7, "waiting": [], "done": None}, retain=True)
            w.wait_for(lambda m: m[1] == prefix + "/state/ghost/1" and m[2], what="ghost published")
            with Coordinator(b, prefix):
                w.wait_for(lambda m: m[1] == prefix + "/state/ghost/1" and m[2] == b"", what="ghost cleared")
                n = Node(b, prefix)
                self.assertEqual(n.request("acquire", "live/1")["status"], "granted")
                w.wait_for(lambda m: m[1] == prefix + "/state/live/1" and m[2], what="live snapshot")
                n.close()
            w.close()

    def test_requests_sent_while_coordinator_down_are_answered(self):
        with Broker() as b:
            prefix = unique_prefix("f")
            cid = "coord-persist-" + prefix.split("/")[1]
            coord = Coordinator(b, prefix, client_id=cid).start()
            coord.stop(signal.SIGTERM)
            n = Node(b, prefix)
            rid = n.send("acquire", "r/queued-while-down")
            coord2 = Coordinator(b, prefix, client_id=cid).start()
            try:
                self.assertEqual(n.answer(rid, timeout=30)["status"], "granted")
            finally:
                coord2.stop()
                n.close()

    def test_durable_state_survives_sigkill(self):
        with Broker() as b:
            prefix = unique_prefix("f")
            state = os.path.join(tempfile.mkdtemp(prefix="baton-state-"), "state.db")
            cid = "coord-durable-" + prefix.split("/")[1]
            coord = Coordinator(b, prefix, client_id=cid, state=state).start()
            a, w = Node(b, prefix), Node(b, prefix)
            g = a.request("acquire", "d/1", lease_ms=60000)
            q = w.request("acquire", "d/1")
            self.assertEqual(q["status"], "queued")
            done = a.request("acquire", "d/2")
            a.request("release", "d/2", token=done["token"], success=True, result="ok")
            coord.stop(signal.SIGKILL)
            coord2 = Coordinator(b, prefix, client_id=cid, state=state).start()
            try:
                again = a.request("acquire", "d/1", lease_ms=60000)
                self.assertEqual((again["status"], again["token"]), ("granted", g["token"]))
                self.assertEqual(a.request("acquire", "d/2")["status"], "done")
                a.request("release", "d/1", token=g["token"], success=False, error="boom")
                gw = w.answer(q["id"], "granted")
                self.assertGreater(gw["token"], done["token"])  # the counter never went back
                self.assertEqual(gw["previous"]["error"], "boom")
            finally:
                coord2.stop()
                a.close()
                w.close()

    def test_daemon_under_valgrind_is_clean(self):
        with Broker() as b:
            prefix = unique_prefix("v")
            state = os.path.join(tempfile.mkdtemp(prefix="baton-state-"), "state.db")
            coord = Coordinator(b, prefix, valgrind=True, state=state).start()
            try:
                a, c = Node(b, prefix), Node(b, prefix)
                g = a.request("acquire", "vg/1", meta="m")
                rid = c.send("acquire", "vg/1")
                c.answer(rid, "queued", timeout=60)
                a.request("release", "vg/1", token=g["token"], success=False, error="e")
                gc = c.answer(rid, "granted", timeout=60)
                c.request("release", "vg/1", token=gc["token"], success=True, result="r")
                c.send_raw(b"\xff\xfe not json")
                c.send_raw(json.dumps({"v": 1, "op": "acquire", "id": "x", "resource": "a" * 300}))
                self.assertEqual(a.request("acquire", "vg/1")["status"], "done")
                a.close()
                c.close()
            finally:
                rc = coord.stop(signal.SIGTERM)
            with open(coord.vg_log) as f:
                vg = f.read()
            self.assertEqual(rc, 0, "valgrind reported errors:\n" + vg[-6000:])
            self.assertIn("ERROR SUMMARY: 0 errors", vg, vg[-6000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
