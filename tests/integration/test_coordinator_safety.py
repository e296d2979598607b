"""The coordinator keeps its promises under misuse and outages (issue 12).

Each test is one deployment event against a real mosquitto: a resource name
the broker would refuse in a topic, a topic under P/req/ with an extra level,
a dead node's presence, two coordinators on one prefix (both ways round, and
sharing a state file), a state file deleted under a running coordinator or
left empty, a token floor learnt from the broker, the coordinator frozen past
the broker's keepalive while holders renew, and a full disk. Every wait is on
an event with a generous deadline; every process is stopped by its PID.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD_DIR, DEADLINE, Broker, Client, Coordinator, Node, Watcher, unique_prefix, wait_until  # noqa: E402
from tcpproxy import TcpProxy  # noqa: E402

EXIT_STATE = 70     # the state file was refused at start
EXIT_IOERR = 74     # the state file was lost while serving, or a batch was never committed
EXIT_CONFLICT = 75  # another coordinator serves this prefix, or holds the state file


def baton_bin():
    return os.path.join(BUILD_DIR, "agent", "baton")


def state_path():
    return os.path.join(tempfile.mkdtemp(prefix="baton-safety-"), "state.db")


def presences(client, prefix):
    """Every non-empty payload seen on P/coordinator, decoded, in order."""
    return client.json_on(prefix + "/coordinator")


def wait_exit(coord, timeout=DEADLINE * 3):
    try:
        return coord.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("coordinator still running; log:\n" + coord.log()[-4000:])


def serving_online(client, prefix, instance=None):
    def pred(m):
        if m[1] != prefix + "/coordinator" or not m[2]:
            return False
        p = json.loads(m[2])
        return p.get("online") is True and (instance is None or p.get("instance") == instance)
    return pred


class NamesTest(unittest.TestCase):
    """1. A resource name with a Unicode noncharacter must not take the
    coordinator off the broker."""

    def test_noncharacter_from_mosquitto_pub_rejected_and_others_served(self):
        with Broker() as b:
            prefix = unique_prefix("s")
            with Coordinator(b, prefix) as coord:
                n, other = Node(b, prefix), Node(b, prefix)
                for rid, res in (("nc1", "x\\uFDD0y"), ("nc2", "a\\uFFFFb")):
                    payload = '{"v":1,"op":"acquire","id":"%s","resource":"%s","mode":"mutex"}' % (rid, res)
                    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(b.port), "-q", "1",
                                    "-t", "%s/req/%s" % (prefix, n.node), "-m", payload], check=True,
                                   timeout=DEADLINE)
                    a = n.answer(rid)
                    self.assertEqual((a["status"], a["code"]), ("rejected", "bad_request"), a)
                    self.assertIn("noncharacter", a["message"])
                # The coordinator is still on the broker: another node is served at once.
                g = other.request("acquire", "after/nc", mode="mutex")
                self.assertEqual(g["status"], "granted", coord.log()[-3000:])
                self.assertNotIn("connection to the broker lost", coord.log())
                n.close()
                other.close()

    def test_noncharacter_from_baton_run_refused_and_coordinator_serves(self):
        with Broker() as b:
            prefix = unique_prefix("s")
            with Coordinator(b, prefix) as coord:
                p = subprocess.run([baton_bin(), "run", "--broker", b.uri, "--prefix", prefix, "--node", "nc-run",
                                    "--mode", "mutex", "--resource", "x\ufdd0y", "--", "true"],
                                   capture_output=True, timeout=DEADLINE * 2)
                # Refused before anything is sent (usage error), as any bad name.
                self.assertEqual(p.returncode, 64, p.stderr)
                self.assertIn(b"invalid resource name", p.stderr)
                n = Node(b, prefix)
                self.assertEqual(n.request("acquire", "after/run", mode="mutex")["status"], "granted",
                                 coord.log()[-3000:])
                self.assertNotIn("connection to the broker lost", coord.log())
                n.close()


class InputTest(unittest.TestCase):
    def test_req_topic_with_extra_level_is_counted_bad_topic(self):
        """6. P/req/n1/extra reaches the coordinator and is a counted bad_topic."""
        with Broker() as b:
            prefix = unique_prefix("s")
            with Coordinator(b, prefix, args=["--stats-interval", "250ms"]) as coord:
                w = Watcher(b, prefix)
                w.publish(prefix + "/req/n1/extra", {"v": 1, "op": "acquire", "id": "x1", "resource": "r"})
                wait_until(lambda: "bad_topic" in coord.log(), what="bad_topic logged")
                self.assertIn("n1/extra", coord.log())
                w.wait_for(lambda m: m[1] == prefix + "/stats" and m[2]
                           and json.loads(m[2])["rejections"] >= 1, what="bad_topic counted in P/stats")
                # Nothing was answered on n1's grant topic.
                self.assertEqual(w.json_on(prefix + "/grant/n1"), [])
                w.close()

    def test_dead_node_presence_cleared_after_offline(self):
        """7. After acting on online:false the coordinator clears the retained presence."""
        with Broker() as b:
            prefix = unique_prefix("s")
            with Coordinator(b, prefix) as coord:
                w = Watcher(b, prefix)
                n = Node(b, prefix)
                g = n.request("acquire", "dead/1", mode="mutex")
                self.assertEqual(g["status"], "granted")
                n.kill()  # the broker fires its Will: online:false, retained
                topic = "%s/node/%s" % (prefix, n.node)
                w.wait_for(lambda m: m[1] == topic and m[2] and json.loads(m[2])["online"] is False, what="Will")
                w.wait_for(lambda m: m[1] == topic and m[2] == b"", what="presence cleared")
                # A new subscriber gets no retained presence for the dead node.
                late = Client(b)
                late.subscribe(prefix + "/node/#")
                late.subscribe(prefix + "/coordinator")
                late.wait_for(lambda m: m[1] == prefix + "/coordinator", what="a retained message")
                self.assertEqual([m for m in late.msgs if m[1] == topic], [])
                self.assertIn("node offline", coord.log())
                late.close()
                w.close()

    def test_baton_run_clears_its_own_presence_on_clean_exit(self):
        with Broker() as b:
            prefix = unique_prefix("s")
            with Coordinator(b, prefix):
                p = subprocess.run([baton_bin(), "run", "--broker", b.uri, "--prefix", prefix, "--node", "clean-1",
                                    "--mode", "mutex", "--resource", "clean/1", "--", "true"],
                                   capture_output=True, timeout=DEADLINE * 2)
                self.assertEqual(p.returncode, 0, p.stderr)
                late = Client(b)
                late.subscribe(prefix + "/node/#")
                late.subscribe(prefix + "/coordinator")
                late.wait_for(lambda m: m[1] == prefix + "/coordinator", what="a retained message")
                left = [m for m in late.msgs if m[1] == prefix + "/node/clean-1" and m[2]]
                self.assertEqual(left, [])
                late.close()


class TwoCoordinatorsTest(unittest.TestCase):
    """2. One coordinator per prefix."""

    def _second_refuses(self, same_client_id):
        with Broker() as b:
            prefix = unique_prefix("s")
            w = Client(b)
            w.subscribe(prefix + "/coordinator")
            with Coordinator(b, prefix, state=state_path()) as first:
                w.wait_for(serving_online(w, prefix), what="first online")
                inst = presences(w, prefix)[-1]["instance"]
                second = Coordinator(b, prefix, state=state_path(),
                                     client_id=first.client_id if same_client_id else None)
                second.start(wait=False)
                rc = wait_exit(second)
                second.logf.close()
                self.assertEqual(rc, EXIT_CONFLICT, second.log())
                self.assertIn(inst, second.log())
                # The first one still serves, and its presence was never overwritten.
                n = Node(b, prefix)
                self.assertEqual(n.request("acquire", "two/1", mode="mutex")["status"], "granted")
                self.assertEqual({p.get("instance") for p in presences(w, prefix)}, {inst})
                self.assertTrue(all(p["online"] for p in presences(w, prefix)))
                self.assertNotIn("connection to the broker lost", first.log())
                n.close()
            w.close()

    def test_second_with_own_client_id_refuses_to_start(self):
        self._second_refuses(same_client_id=False)

    def test_second_with_same_client_id_refuses_without_taking_the_session(self):
        self._second_refuses(same_client_id=True)

    def test_serving_coordinator_stops_when_another_instance_appears(self):
        with Broker() as b:
            prefix = unique_prefix("s")
            first = Coordinator(b, prefix).start()
            intruder = Client(b)
            intruder.publish(prefix + "/coordinator", {"v": 1, "online": True, "instance": "intruder-1"}, retain=True)
            rc = wait_exit(first)
            first.logf.close()
            self.assertEqual(rc, EXIT_CONFLICT, first.log())
            self.assertIn("intruder-1", first.log())
            # It left the other's presence alone (a clean disconnect: no Will).
            late = Client(b)
            late.subscribe(prefix + "/coordinator")
            m = late.wait_for(lambda m: m[1] == prefix + "/coordinator", what="retained presence")
            self.assertEqual(json.loads(m[2])["instance"], "intruder-1")
            late.close()
            intruder.close()

    def test_second_on_the_same_state_file_refused(self):
        with Broker() as b:
            path = state_path()
            with Coordinator(b, unique_prefix("s"), state=path) as first:
                other = Coordinator(b, unique_prefix("s"), state=path)
                other.start(wait=False)
                rc = wait_exit(other)
                other.logf.close()
                self.assertEqual(rc, EXIT_CONFLICT, other.log())
                self.assertIn("locked by process %d" % first.proc.pid, other.log())


class TokensTest(unittest.TestCase):
    """3. Tokens never go back, even when the state file is lost."""

    def test_deleted_state_file_stops_serving_and_restart_keeps_tokens_above(self):
        with Broker(persistence=False) as b:
            prefix = unique_prefix("s")
            path = state_path()
            w = Watcher(b, prefix)
            coord = Coordinator(b, prefix, state=path, args=["--stats-interval", "250ms"]).start()
            n = Node(b, prefix)
            g = n.request("acquire", "tok/1", mode="mutex", lease_ms=60000)
            self.assertEqual(g["status"], "granted")
            w.wait_for(lambda m: m[1] == prefix + "/stats" and m[2]
                       and json.loads(m[2])["next_token"] > g["token"], what="stats with the counter")
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(path + suffix):
                    os.unlink(path + suffix)
            rid = n.send("acquire", "tok/2", mode="mutex")
            rc = wait_exit(coord)
            coord.logf.close()
            self.assertEqual(rc, EXIT_IOERR, coord.log())
            self.assertIn("deleted", coord.log())
            self.assertEqual([a for a in n.answers() if a.get("id") == rid], [])  # nothing unpersisted answered
            # A new coordinator on a missing file starts above the broker's floor.
            coord2 = Coordinator(b, prefix, state=path, client_id=coord.client_id).start()
            try:
                other = Node(b, prefix)
                g2 = other.request("acquire", "tok/3", mode="mutex")
                self.assertEqual(g2["status"], "granted")
                self.assertGreater(g2["token"], g["token"], coord2.log())
                self.assertIn("token floor", coord2.log())
                other.close()
            finally:
                coord2.stop()
            n.close()
            w.close()

    def test_empty_state_file_refused_unless_fresh(self):
        with Broker() as b:
            prefix = unique_prefix("s")
            path = state_path()
            open(path, "wb").close()
            coord = Coordinator(b, prefix, state=path)
            coord.start(wait=False)
            rc = wait_exit(coord)
            coord.logf.close()
            self.assertEqual(rc, EXIT_STATE, coord.log())
            self.assertIn("--fresh", coord.log())
            with Coordinator(b, prefix, state=path, args=["--fresh"]):
                n = Node(b, prefix)
                self.assertEqual(n.request("acquire", "fresh/1")["status"], "granted")
                n.close()

    def test_token_floor_from_retained_stats_and_snapshots(self):
        with Broker() as b:
            prefix = unique_prefix("s")
            seed = Client(b)
            seed.publish(prefix + "/stats", {"v": 1, "at": "2026-11-24T10:00:00.123Z", "uptime_ms": 1, "requests": 0,
                                             "grants": 0, "handoffs": 0, "rejections": 0, "held": 0, "waiters": 0,
                                             "remembered": 0, "backlog": 0, "next_token": 500}, retain=True)
            seed.publish(prefix + "/state/old/1", {"v": 1, "resource": "old/1", "mode": "mutex", "holder": "gone",
                                                    "token": 900, "since": "2026-11-24T10:00:00.123Z",
                                                    "lease_until": "2026-11-24T10:00:30.123Z", "waiting": [],
                                                    "done": None}, retain=True)
            with Coordinator(b, prefix) as coord:
                n = Node(b, prefix)
                g = n.request("acquire", "floor/1", mode="mutex")
                self.assertEqual(g["status"], "granted")
                self.assertGreater(g["token"], 900)
                self.assertIn("token floor", coord.log())
                n.close()
            seed.close()


class RenewThread(threading.Thread):
    """A holder that renews its lease every period seconds until stopped."""

    def __init__(self, node, resource, token, period):
        super().__init__(daemon=True)
        self.node, self.resource, self.token, self.period = node, resource, token, period
        self.stop_ = threading.Event()
        self.sent = []

    def run(self):
        while not self.stop_.wait(self.period):
            self.sent.append(self.node.send("renew", self.resource, token=self.token))


class OutageTest(unittest.TestCase):
    """4. Leases never expire because of the coordinator's own outage."""

    def test_frozen_past_keepalive_holders_keep_their_leases(self):
        with Broker() as b:
            prefix = unique_prefix("s")
            w = Client(b)
            w.subscribe(prefix + "/coordinator")
            with Coordinator(b, prefix) as coord:
                holder, waiter = Node(b, prefix), Node(b, prefix)
                g = holder.request("acquire", "freeze/1", mode="mutex", lease_ms=4000)
                self.assertEqual(g["status"], "granted")
                q = waiter.request("acquire", "freeze/1", mode="mutex", lease_ms=4000)
                self.assertEqual(q["status"], "queued")
                r = RenewThread(holder, "freeze/1", g["token"], 1.0)
                r.start()
                os.kill(coord.proc.pid, signal.SIGSTOP)
                try:
                    # Past the broker's keepalive: it drops the coordinator and fires its Will.
                    w.wait_for(lambda m: m[1] == prefix + "/coordinator" and m[2]
                               and json.loads(m[2])["online"] is False, timeout=60, what="coordinator's Will")
                finally:
                    os.kill(coord.proc.pid, signal.SIGCONT)
                # Back: every renew sent meanwhile is answered renewed, none not_holder.
                last = r.sent[-1]
                holder.answer(last, "renewed", timeout=60)
                more = holder.request("renew", "freeze/1", token=g["token"])
                self.assertEqual(more["status"], "renewed", coord.log()[-3000:])
                r.stop_.set()
                r.join()
                statuses = [a["status"] for a in holder.answers()]
                self.assertNotIn("revoked", statuses, coord.log()[-3000:])
                self.assertNotIn("rejected", statuses, coord.log()[-3000:])
                self.assertNotIn("granted", [a["status"] for a in waiter.answers() if a.get("id") == q["id"]])
                self.assertIn("extending every lease", coord.log())
                holder.close()
                waiter.close()
            w.close()


class ViaProxy:
    """The coordinator talks to the broker through a proxy; test clients go direct."""

    def __init__(self, broker, proxy):
        self.port, self.uri = broker.port, proxy.uri


class DroppedTest(unittest.TestCase):
    def test_dropped_right_after_every_connect_starts_a_fresh_client(self):
        """1 and 5, generalised: a broker that drops the coordinator right after
        each connect (as mosquitto does for a publish it refuses, which paho
        re-sends after every reconnect) must not cut it off for good."""
        with Broker() as b:
            prefix = unique_prefix("s")
            proxy = TcpProxy(b.port)
            coord = Coordinator(ViaProxy(b, proxy), prefix).start()
            try:
                for k in range(3):
                    n = coord.log().count(" connected ")
                    proxy.cut()
                    proxy.resume()
                    wait_until(lambda: coord.log().count(" connected ") > n, what="reconnect %d" % k)
                wait_until(lambda: "starting a fresh MQTT client" in coord.log(), what="a fresh client")
                node = Node(b, prefix)
                self.assertEqual(node.request("acquire", "fresh/1", mode="mutex")["status"], "granted")
                node.close()
            finally:
                coord.stop()
                proxy.stop()


class HealthTest(unittest.TestCase):
    """5. A full disk: the coordinator says it is not serving, and a SIGTERM
    during the stall says what was not committed and exits non-zero."""

    def test_full_disk_not_serving_then_sigterm_exits_nonzero(self):
        mnt = tempfile.mkdtemp(prefix="baton-tmpfs-")
        try:
            m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], capture_output=True)
        except OSError as e:
            m = None
            why = str(e)
        if m is None or m.returncode != 0:
            os.rmdir(mnt)
            self.skipTest("cannot mount a tmpfs here (%s): the full-disk case needs root and mount"
                          % (m.stderr.decode().strip() if m is not None else why))
        try:
            self._full_disk(mnt)
        finally:
            subprocess.run(["umount", "-l", mnt], check=False)
            os.rmdir(mnt)

    def _full_disk(self, mnt):
        with Broker() as b:
            prefix = unique_prefix("s")
            path = os.path.join(mnt, "state.db")
            w = Watcher(b, prefix)
            coord = Coordinator(b, prefix, state=path, args=["--stats-interval", "250ms"]).start()
            try:
                n = Node(b, prefix)
                self.assertEqual(n.request("acquire", "disk/0", mode="mutex")["status"], "granted")
                with open(os.path.join(mnt, "filler"), "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * 65536)
                            f.flush()
                    except OSError:
                        pass
                big = "m" * 250
                rids = [n.send("acquire", "disk/%d/%s" % (i, big[:200 - 12]), mode="mutex") for i in range(1, 40)]
                w.wait_for(lambda m: m[1] == prefix + "/coordinator" and m[2]
                           and json.loads(m[2]).get("serving") is False, timeout=60, what="not serving")
                p = [p for p in presences(w, prefix) if p.get("serving") is False][-1]
                self.assertIn("commit", p["reason"])
                w.wait_for(lambda m: m[1] == prefix + "/stats" and m[2]
                           and json.loads(m[2]).get("serving") is False, what="stats not serving")
                self.assertEqual([a for a in n.answers() if a.get("id") in rids], [])
                self.assertIsNone(coord.proc.poll())  # no SIGBUS
                rc = coord.stop(signal.SIGTERM)
                self.assertEqual(rc, EXIT_IOERR, coord.log())
                self.assertIn("not committed", coord.log())
                n.close()
            finally:
                if coord.proc is not None:
                    coord.stop(signal.SIGKILL)
                w.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
