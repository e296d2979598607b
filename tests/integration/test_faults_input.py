"""Abuse over the wire (issue 7): malformed payloads and topics, and a node
flooding the coordinator with requests.

Bad input: every payload gets a `rejected` answer with a code from the
contract's table (or, for a bad topic, is logged and nothing is published),
and the coordinator still serves a good lock cycle after each.

Flood: one node publishes 20000 requests as fast as it can while a
well-behaved node does acquire/release cycles; the test prints the
well-behaved node's answer latency (p50/p99) with and without the flood and
asserts only that every one of its requests was answered within a generous
deadline (timings are not asserted: CI machines are noisy).
"""
import json
import os
import sys
import tempfile
import threading
import time
import unittest
import uuid

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(__file__))
from harness import Broker, Coordinator, Node, unique_prefix, wait_until  # noqa: E402
from history import Recorder  # noqa: E402

FLOOD_N = int(os.environ.get("BATON_FLOOD_N", "20000"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="baton-input-")
        cls.broker = Broker().__enter__()
        cls.prefix = unique_prefix("i")
        cls.coord = Coordinator(cls.broker, cls.prefix, state=os.path.join(cls.dir, "state.db")).start()
        cls.rec = Recorder(cls.broker, cls.prefix)
        cls.n = Node(cls.broker, cls.prefix, "abuser")
        cls.good = Node(cls.broker, cls.prefix, "good")

    @classmethod
    def tearDownClass(cls):
        cls.n.close()
        cls.good.close()
        cls.rec.close()
        cls.coord.stop()
        cls.broker.__exit__(None, None, None)

    def still_serves(self, what):
        self.assertIsNone(self.coord.proc.poll(), "coordinator exited after %s" % what)
        res = "still/" + uuid.uuid4().hex[:8]
        g = self.good.request("acquire", res, mode="mutex")
        self.assertEqual(g["status"], "granted", what)
        r = self.good.request("release", res, token=g["token"], success=True)
        self.assertEqual(r["status"], "released", what)

    def rejected(self, payload, codes, what):
        before = len(self.n.answers())
        self.n.send_raw(payload)
        self.n.wait_for(lambda m: m[1] == self.n.grant_topic and len(self.n.answers()) > before, what=what)
        a = self.n.answers()[before]
        self.assertEqual(a["status"], "rejected", what)
        self.assertIn(a["code"], codes, "%s: %r" % (what, a))
        self.assertTrue(a.get("message"), what)
        print("  %-34s -> %s (%s)" % (what, a["code"], a["message"][:60]))
        self.still_serves(what)
        return a

    def test_malformed_payloads_are_rejected_and_change_nothing(self):
        req = '{"v":1,"op":"acquire","id":"%s","resource":"%s"}'
        deep = 32000  # 64000 bytes: under the size limit, so the parser's depth limit answers
        cases = [
            (b'{"v":1,"op":"acquire","id":"z1","resource":"r\x00x"}', {"bad_json", "bad_request"}, "raw NUL in a string"),
            ((req % ("z2", "r\\u0000x")).encode(), {"bad_request"}, "escaped NUL in the resource"),
            ((req % ("z3", "ok")).encode() + b"\x00trailing", {"bad_json"}, "NUL after the object"),
            (b"\x00" * 64, {"bad_json"}, "only NULs"),
            ((req % ("z4", "r")).encode().replace(b'"r"', b'"\xff\xfe"'), {"bad_json", "bad_request"},
             "invalid UTF-8 in the resource"),
            (b'{"v":1,"op":"acquire","id":"\xc3\x28","resource":"r"}', {"bad_json", "bad_request"},
             "invalid UTF-8 in the id"),
            (b'{"v":1,"op":"acquire","id":"z5","resource":"r","meta":"\xed\xa0\x80"}', {"bad_json", "bad_request"},
             "UTF-16 surrogate in meta"),
            (b"x" * 65537, {"too_large"}, "65537 bytes of garbage"),
            (json.dumps({"v": 1, "op": "acquire", "id": "z6", "resource": "r", "meta": "m" * 65600}).encode(),
             {"too_large"}, "65537+ bytes of valid JSON"),
            (b"[" * deep + b"]" * deep, {"bad_json"}, "nesting %d deep (array)" % deep),
            (b'{"a":' * 10000 + b"1" + b"}" * 10000, {"bad_json"}, "nesting 10000 deep (object)"),
            (b"[" * 100000 + b"]" * 100000, {"too_large"}, "nesting 100000 deep, 200 KB"),
            (('{"v":1,"op":"acquire","id":"z7","resource":"r","meta":%s}' % ("[" * 500 + "]" * 500)).encode(),
             {"bad_json", "bad_request"}, "nested meta"),
            (b"", {"bad_json"}, "empty payload"),
            (b"null", {"bad_json", "bad_request"}, "JSON null"),
            (b'{"v":1,"op":"acquire","id":"z8","resource":"r","v":2}', {"bad_json", "bad_request", "unsupported_version"},
             "duplicate key"),
            (b'{"v":1,"op":"acquire","id":"z9","resource":"r","lease_ms":1e400}', {"bad_json", "bad_request"},
             "number out of range"),
            (b'{"v":1,"op":"release","id":"z10","resource":"r","token":-1,"success":true}', {"bad_request"},
             "negative token"),
            (b'{"v":1,"op":"release","id":"z11","resource":"r","token":18446744073709551616,"success":true}',
             {"bad_request"}, "token over 2^64"),
        ]
        print()
        for payload, codes, what in cases:
            with self.subTest(what):
                self.rejected(payload, codes, what)

    def test_bad_topics_are_logged_and_nothing_published(self):
        bad = ["%s/req/%s" % (self.prefix, "x" * 65), "%s/req/bad node!" % self.prefix,
               "%s/req/a/b" % self.prefix, "%s/req/" % self.prefix, "%s/req/n\u00e9" % self.prefix]
        body = json.dumps({"v": 1, "op": "acquire", "id": "bt", "resource": "bt/1"})
        t0 = time.monotonic()
        for topic in bad:
            self.n.publish(topic, body)
        self.still_serves("bad topics")
        grants = [e for e in self.rec.records("grant") if e[0] >= t0 and e[1] != "good"]
        self.assertFalse(grants, "something was answered to a bad topic: %r" % grants)
        self.assertIsNone(self.rec.records("state") and next(
            (s for s in self.rec.records("state") if s[1] == "bt/1"), None))
        wait_until(lambda: "bad_topic" in self.coord.log(), what="bad_topic in the log")


class Flood(unittest.TestCase):
    def test_flooding_node_does_not_starve_others(self):
        with Broker() as b:
            d = tempfile.mkdtemp(prefix="baton-flood-")
            prefix = unique_prefix("fl")
            coord = Coordinator(b, prefix, state=os.path.join(d, "state.db")).start()
            good = Node(b, prefix, "polite")
            try:
                base = self.cycles(good, "polite/base", 100)
                flood = Flooder(b, prefix, "flooder", FLOOD_N)
                flood.start()
                under = []
                while flood.is_alive() or len(under) < 100:
                    under += self.cycles(good, "polite/flood", 20)
                    if len(under) > 2000:
                        break
                flood.join(120)
                wait_until(lambda: flood.answers >= FLOOD_N * 0.99, timeout=180,
                           what="the flood answered (%d/%d)" % (flood.answers, FLOOD_N))
                self.assertIsNone(coord.proc.poll(), "coordinator exited under the flood")
                print("\nflood: %d requests in %.2f s (%.0f/s), %d answered"
                      % (FLOOD_N, flood.elapsed, FLOOD_N / flood.elapsed, flood.answers))
                print("well-behaved node, acquire answer latency: without flood p50 %.1f ms p99 %.1f ms (n=%d); "
                      "during flood p50 %.1f ms p99 %.1f ms max %.1f ms (n=%d)"
                      % (pct(base, 50), pct(base, 99), len(base), pct(under, 50), pct(under, 99), max(under),
                         len(under)))
            finally:
                good.close()
                coord.stop()

    def cycles(self, node, res, n):
        """n acquire/release cycles; returns the acquire latencies in ms.
        Node.request waits (with the harness deadline) for every answer."""
        out = []
        for _ in range(n):
            t0 = time.monotonic()
            g = node.request("acquire", res, mode="mutex", timeout=60)
            out.append((time.monotonic() - t0) * 1000)
            self.assertEqual(g["status"], "granted")
            self.assertEqual(node.request("release", res, token=g["token"], success=True, timeout=60)["status"],
                             "released")
        return out


class Flooder(threading.Thread):
    """Publishes n requests as fast as paho lets it: re-acquires of a few
    resources it holds (each one a state change: the lease restarts) and
    malformed payloads, and counts its answers."""

    def __init__(self, broker, prefix, node, n):
        super().__init__(daemon=True)
        self.n, self.answers, self.elapsed = n, 0, 0.0
        self.topic = "%s/req/%s" % (prefix, node)
        self.c = mqtt.Client(client_id=node, protocol=mqtt.MQTTv311)
        self.c.max_inflight_messages_set(1000)
        self.c.max_queued_messages_set(0)
        self.c.on_message = self._count
        self.c.connect("127.0.0.1", broker.port)
        self.c.loop_start()
        self.c.subscribe("%s/grant/%s" % (prefix, node), 1)

    def _count(self, c, u, m):
        self.answers += 1

    def run(self):
        t0 = time.monotonic()
        last = None
        for i in range(self.n):
            if i % 4 == 3:
                body = b"{not json %d" % i
            else:
                body = json.dumps({"v": 1, "op": "acquire", "id": "f%d" % i, "resource": "flood/%d" % (i % 8),
                                   "mode": "mutex"})
            last = self.c.publish(self.topic, body, qos=1)
        last.wait_for_publish(120)
        self.elapsed = time.monotonic() - t0


if __name__ == "__main__":
    unittest.main(verbosity=2)
