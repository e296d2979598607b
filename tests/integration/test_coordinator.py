"""Integration tests of baton-coordinator against a private mosquitto, driven
exactly as PROTOCOL.md describes: requests on P/req/<node>, answers on
P/grant/<node>, events on P/outcome/<resource>, snapshots on P/state/<resource>.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Coordinator, Node, SharedCoordinator, Watcher, unique_prefix  # noqa: E402


class CoordinatorTest(SharedCoordinator):
    TAG = "c"

    def outcome(self, pred, what="outcome"):
        topic = "%s/outcome/%s" % (self.prefix, self.res)
        m = self.watch.wait_for(lambda m: m[1] == topic and pred(json.loads(m[2])), what=what)
        return json.loads(m[2])

    # ---- the seed story ------------------------------------------------

    def test_seed_story_failed_holder_hands_off_without_reask(self):
        a, b, c = self.node(), self.node(), self.node()
        ga = a.request("acquire", self.res)
        self.assertEqual(ga["status"], "granted")
        qb = b.request("acquire", self.res, rid="b1")
        self.assertEqual((qb["status"], qb["position"], qb["holder"]), ("queued", 1, a.node))
        qc = c.request("acquire", self.res, rid="c1")
        self.assertEqual((qc["status"], qc["position"]), ("queued", 2))
        rel = a.request("release", self.res, token=ga["token"], success=False, error="exit status 1")
        self.assertEqual(rel["status"], "released")
        gb = b.answer("b1", "granted")
        self.assertGreater(gb["token"], ga["token"])
        self.assertEqual(gb["previous"]["node"], a.node)
        self.assertEqual(gb["previous"]["error"], "exit status 1")
        self.assertEqual(gb["previous"]["reason"], "released")
        ev = self.outcome(lambda e: e["token"] == ga["token"])
        self.assertEqual((ev["success"], ev["reason"], ev["node"]), (False, "released", a.node))
        # B asks again, with the same id and with a new one: still granted, same token.
        again = b.request("acquire", self.res, rid="b1")
        self.assertEqual((again["status"], again["token"]), ("granted", gb["token"]))
        again2 = b.request("acquire", self.res)
        self.assertEqual((again2["status"], again2["token"]), ("granted", gb["token"]))
        # C stays queued, now next.
        qc2 = c.request("acquire", self.res, rid="c1")
        self.assertEqual((qc2["status"], qc2["position"], qc2["holder"]), ("queued", 1, b.node))
        st = self.watch.wait_for(lambda m: m[1] == "%s/state/%s" % (self.prefix, self.res) and m[2]
                                 and json.loads(m[2]).get("holder") == b.node, what="snapshot with b")
        snap = json.loads(st[2])
        self.assertEqual(snap["waiting"], [c.node])

    # ---- once fan-out --------------------------------------------------

    def test_once_success_fans_out_done(self):
        a, b, c = self.node(), self.node(), self.node()
        ga = a.request("acquire", self.res, meta="docker pull nginx")
        b.send("acquire", self.res, rid="b1")
        c.send("acquire", self.res, rid="c1")
        b.answer("b1", "queued")
        c.answer("c1", "queued")
        a.request("release", self.res, token=ga["token"], success=True, result="sha256:abc")
        for n, rid in ((b, "b1"), (c, "c1")):
            d = n.answer(rid, "done")
            self.assertEqual(d["outcome"]["node"], a.node)
            self.assertEqual(d["outcome"]["token"], ga["token"])
            self.assertEqual(d["outcome"]["result"], "sha256:abc")
            self.assertIn("completed_at", d["outcome"])
        later = self.node().request("acquire", self.res)
        self.assertEqual(later["status"], "done")
        snap = self.watch.wait_for(lambda m: m[1].endswith("/state/" + self.res) and m[2]
                                   and json.loads(m[2]).get("done"), what="done snapshot")
        s = json.loads(snap[2])
        self.assertIsNone(s["holder"])
        self.assertEqual(s["done"]["node"], a.node)
        # reset forgets it: the next acquirer performs the operation again
        self.assertEqual(b.request("reset", self.res)["status"], "reset")
        self.assertEqual(c.request("acquire", self.res)["status"], "granted")

    def test_mode_conflict_rejected(self):
        a, b = self.node(), self.node()
        a.request("acquire", self.res, mode="once")
        r = b.request("acquire", self.res, mode="mutex")
        self.assertEqual((r["status"], r["code"]), ("rejected", "mode_conflict"))

    # ---- mutex ---------------------------------------------------------

    def test_mutex_rotates_fifo(self):
        ns = [self.node() for _ in range(4)]
        g0 = ns[0].request("acquire", self.res, mode="mutex")
        rids = [n.send("acquire", self.res, mode="mutex") for n in ns[1:]]
        for i, (n, rid) in enumerate(zip(ns[1:], rids)):
            self.assertEqual(n.answer(rid)["position"], i + 1)
        tok = g0["token"]
        holder = ns[0]
        for n, rid in zip(ns[1:], rids):
            holder.request("release", self.res, token=tok, success=True)
            g = n.answer(rid, "granted")
            self.assertGreater(g["token"], tok)
            self.assertNotIn("previous", g)
            tok, holder = g["token"], n
        holder.request("release", self.res, token=tok, success=True)
        self.watch.wait_for(lambda m: m[1] == "%s/state/%s" % (self.prefix, self.res) and m[2] == b"",
                            what="snapshot cleared")

    # ---- idempotency ---------------------------------------------------

    def test_duplicate_request_changes_nothing(self):
        a, b = self.node(), self.node()
        g = a.request("acquire", self.res, rid="same")
        a.send("acquire", self.res, rid="same")
        g2 = a.answer("same", after=1)
        self.assertEqual(g2["token"], g["token"])
        r1 = a.request("release", self.res, rid="rel", token=g["token"], success=True)
        a.send("release", self.res, rid="rel", token=g["token"], success=True)
        self.watch.wait_for(lambda m: m[1] == a.grant_topic and json.loads(m[2]).get("id") == "rel"
                            and len([x for x in a.answers() if x.get("id") == "rel"]) >= 2, what="second answer")
        answers = [x for x in a.answers() if x.get("id") == "rel"]
        self.assertEqual([x["status"] for x in answers], ["released", "released"])
        self.assertEqual(r1["token"], g["token"])
        self.assertEqual(b.request("acquire", self.res)["status"], "done")

    def test_renew_and_not_holder(self):
        a, b = self.node(), self.node()
        g = a.request("acquire", self.res, lease_ms=5000)
        r = a.request("renew", self.res, token=g["token"])
        self.assertEqual((r["status"], r["token"], r["lease_ms"]), ("renewed", g["token"], 5000))
        bad = b.request("release", self.res, token=g["token"], success=True)
        self.assertEqual((bad["status"], bad["code"]), ("rejected", "not_holder"))
        bad2 = b.request("renew", self.res, token=g["token"])
        self.assertEqual(bad2["code"], "not_holder")

    def test_cancel_withdraws_queued(self):
        a, b, c = self.node(), self.node(), self.node()
        g = a.request("acquire", self.res)
        b.send("acquire", self.res, rid="b1")
        c.send("acquire", self.res, rid="c1")
        b.answer("b1", "queued")
        c.answer("c1", "queued")
        self.assertEqual(b.request("cancel", self.res)["status"], "cancelled")
        a.request("release", self.res, token=g["token"], success=False)
        gc = c.answer("c1", "granted")
        self.assertEqual(gc["previous"]["node"], a.node)

    # ---- waiting -------------------------------------------------------

    def test_wait_zero_is_busy_and_wait_runs_out(self):
        a, b = self.node(), self.node()
        a.request("acquire", self.res)
        busy = b.request("acquire", self.res, wait_ms=0)
        self.assertEqual((busy["status"], busy["holder"]), ("busy", a.node))
        rid = b.send("acquire", self.res, wait_ms=300)
        self.assertEqual(b.answer(rid)["status"], "queued")
        late = b.answer(rid, "busy")
        self.assertEqual(late["holder"], a.node)

    def test_lease_expiry_revokes_and_hands_off(self):
        a, b = self.node(), self.node()
        g = a.request("acquire", self.res, lease_ms=1000)
        rid = b.send("acquire", self.res)
        b.answer(rid, "queued")
        rv = a.answer(g["id"], "revoked", timeout=20)
        self.assertEqual((rv["reason"], rv["token"]), ("lease_expired", g["token"]))
        gb = b.answer(rid, "granted")
        self.assertEqual(gb["previous"]["reason"], "lease_expired")
        ev = self.outcome(lambda e: e["token"] == g["token"])
        self.assertEqual(ev["reason"], "lease_expired")
        late = a.request("release", self.res, token=g["token"], success=True)
        self.assertEqual(late["code"], "not_holder")

    def test_will_hands_off_to_next_waiter(self):
        a, b = self.node(), self.node()
        g = a.request("acquire", self.res, lease_ms=60000)
        rid = b.send("acquire", self.res)
        b.answer(rid, "queued")
        self.nodes.remove(a)
        a.kill()  # TCP drop without DISCONNECT: the broker publishes a's Will
        gb = b.answer(rid, "granted", timeout=30)
        self.assertEqual((gb["previous"]["node"], gb["previous"]["reason"]), (a.node, "node_offline"))
        ev = self.outcome(lambda e: e["token"] == g["token"])
        self.assertEqual(ev["reason"], "node_offline")

    # ---- snapshot throttle ---------------------------------------------

    def test_snapshots_coalesce_under_load_and_end_cleared(self):
        prefix = unique_prefix("s")
        with Coordinator(self.broker, prefix, args=["--snapshot-interval", "1s"]):
            w = Watcher(self.broker, prefix)
            n = Node(self.broker, prefix)
            topic = prefix + "/state/busy/r"
            try:
                for i in range(20):
                    g = n.request("acquire", "busy/r", mode="mutex")
                    self.assertEqual(g["status"], "granted")
                    n.request("release", "busy/r", token=g["token"], success=True)
                # The first change goes out at once; the other 39 wait for the
                # throttle and collapse into the final state: cleared.
                w.wait_for(lambda m: m[1] == topic and m[2] == b"", what="final clear")
                states = [p for (_, t, p, _) in list(w.msgs) if t == topic]
                self.assertLessEqual(len(states), 6, states)  # 40 changes; a slow machine may flush mid-way
                # A lock that comes and goes while held back still gets the clear
                # the contract promises (and, being gone, no holder snapshot).
                g = n.request("acquire", "busy/gone", mode="mutex")
                n.request("release", "busy/gone", token=g["token"], success=True)
                g = n.request("acquire", "busy/held", mode="mutex")
                w.wait_for(lambda m: m[1] == prefix + "/state/busy/held" and m[2], what="held snapshot")
                w.wait_for(lambda m: m[1] == prefix + "/state/busy/gone" and m[2] == b"", what="gone cleared")
            finally:
                n.close()
                w.close()

    # ---- stats ---------------------------------------------------------

    def test_stats_retained_with_every_counter(self):
        n = self.node()
        g = n.request("acquire", self.res)
        n.request("release", self.res, token=g["token"], success=True)
        c = Watcher(self.broker, self.prefix)
        try:
            m = c.wait_for(lambda m: m[1] == self.prefix + "/stats" and m[2], what="retained stats")
            s = json.loads(m[2])
            for k in ("at", "uptime_ms", "requests", "grants", "handoffs", "rejections", "held", "waiters",
                      "remembered", "backlog", "next_token"):
                self.assertIn(k, s)
            self.assertEqual(s["v"], 1)
        finally:
            c.close()

    # ---- bad input -----------------------------------------------------

    def test_every_rejection_code_over_the_wire(self):
        n = self.node()
        cases = [
            (b"{not json", "bad_json"),
            (json.dumps({"v": 1, "op": "acquire", "id": "x1", "resource": "//bad"}), "bad_request"),
            (json.dumps({"v": 2, "op": "acquire", "id": "x2", "resource": "r"}), "unsupported_version"),
            (json.dumps({"v": 1, "op": "steal", "id": "x3", "resource": "r"}), "unknown_op"),
            (json.dumps({"v": 1, "op": "acquire", "id": "x4", "resource": "r", "meta": "m" * 70000}), "too_large"),
            (json.dumps({"v": 1, "op": "release", "id": "x5", "resource": self.res, "token": 999999,
                         "success": True}), "not_holder"),
        ]
        for payload, code in cases:
            before = len(n.answers())
            n.send_raw(payload)
            n.wait_for(lambda m: m[1] == n.grant_topic and len(n.answers()) > before, what=code)
            a = n.answers()[-1]
            self.assertEqual((a["status"], a["code"]), ("rejected", code), payload[:80])
            self.assertTrue(a["message"])
        # bad_topic: the node part of the topic is not a valid node id; logged, nothing published
        n.publish("%s/req/bad node!" % self.prefix, {"v": 1, "op": "acquire", "id": "y", "resource": "r"})
        # still serving after all of it
        self.assertEqual(n.request("acquire", self.res)["status"], "granted")
        self.assertIn("bad_topic", self.coord.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
