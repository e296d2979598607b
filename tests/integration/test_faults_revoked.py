"""An acquire answered `revoked` (issue 13, item 6): after broker restarts a
coordinator may answer an agent's re-sent acquire with `revoked`, because the
grant it made for that id ended (its lease ran out) before the agent ever
heard it. That answer is final for that request id: libbaton acquires again
under a new id while --wait lasts, and otherwise reports the loss; it never
waits for an answer that cannot come and blames an unreachable coordinator.

A scripted coordinator (a paho client on P/req/+) answers deterministically,
so the test needs no race with a real one.
"""
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from faultkit import baton_bin  # noqa: E402
from harness import Broker, Client, unique_prefix  # noqa: E402


class ScriptedCoordinator(Client):
    """Answers the first acquire `revoked`, later ones `granted`; renews
    `renewed`, releases `released`. Records every request."""

    def __init__(self, broker, prefix, revoke_first=1, queue_then_grant=False, renew=True):
        super().__init__(broker)
        self.prefix, self.revoke_left, self.reqs = prefix, revoke_first, []
        self.queue_then_grant, self.renew = queue_then_grant, renew
        self.mu = threading.Lock()
        self.c.on_message = self._answer
        self.subscribe(prefix + "/req/+")
        self.publish(prefix + "/coordinator", {"v": 1, "online": True, "version": "test",
                                               "started_at": "2026-12-01T00:00:00.000Z"}, retain=True)

    def _answer(self, c, u, m):
        req, node = json.loads(m.payload), m.topic.rsplit("/", 1)[1]
        with self.mu:
            self.reqs.append(req)
            base = {"v": 1, "id": req["id"], "resource": req["resource"]}
            if req["op"] == "acquire" and self.revoke_left > 0:
                self.revoke_left -= 1
                ans = dict(base, status="revoked", token=5, reason="lease_expired")
            elif req["op"] == "acquire" and self.queue_then_grant:
                # a grant after a wait: queued now, granted on the next round
                self.queue_then_grant = False
                q = dict(base, status="queued", position=1, holder="other")
                c.publish("%s/grant/%s" % (self.prefix, node), json.dumps(q), qos=1)
                ans = dict(base, status="granted", token=9, lease_ms=req.get("lease_ms", 30000))
            elif req["op"] == "acquire":
                ans = dict(base, status="granted", token=9, lease_ms=req.get("lease_ms", 30000))
            elif req["op"] == "renew" and not self.renew:
                return
            elif req["op"] == "renew":
                ans = dict(base, status="renewed", token=req["token"], lease_ms=30000)
            elif req["op"] == "release":
                ans = dict(base, status="released", token=req["token"])
            else:
                return
        c.publish("%s/grant/%s" % (self.prefix, node), json.dumps(ans), qos=1)

    def acquire_ids(self):
        with self.mu:
            return [r["id"] for r in self.reqs if r["op"] == "acquire"]


class RevokedAcquire(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().__enter__()
        self.prefix = unique_prefix("rv")

    def tearDown(self):
        self.broker.__exit__(None, None, None)

    def run_baton(self, wait, cmd=("true",), lease="30s"):
        p = subprocess.run([baton_bin(), "run", "--broker", self.broker.uri, "--prefix", self.prefix, "--node",
                            "rv1", "--resource", "rv/r1", "--mode", "mutex", "--wait", wait, "--lease", lease,
                            "--"] + list(cmd),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        return p.returncode, p.stderr.decode()

    def test_revoked_acquire_is_asked_again_under_a_new_id(self):
        coord = ScriptedCoordinator(self.broker, self.prefix)
        try:
            rc, err = self.run_baton("10s")
            ids = coord.acquire_ids()
        finally:
            coord.close()
        self.assertEqual(rc, 0, err)
        self.assertNotIn("no answer from the coordinator", err)
        self.assertEqual(len(set(ids)), 2, ids)  # the revoked id, then a new one

    def test_revoked_acquire_without_wait_left_is_a_loss(self):
        coord = ScriptedCoordinator(self.broker, self.prefix)
        try:
            rc, err = self.run_baton("0s")
        finally:
            coord.close()
        self.assertEqual(rc, 76, err)
        self.assertIn("was revoked, or never confirmed by a renewal, before it could be used", err)
        self.assertNotIn("no answer from the coordinator", err)

    def test_grant_after_wait_is_used_only_once_renewed(self):
        """A grant that arrives after a wait says nothing about how recently
        the broker heard us (our Will may be about to fire): the command
        starts only when the renewal sent at once is answered. Here it never
        is, so the command never runs and the loss is reported."""
        coord = ScriptedCoordinator(self.broker, self.prefix, revoke_first=0, queue_then_grant=True, renew=False)
        mark = os.path.join(self.broker.dir, "ran")
        try:
            rc, err = self.run_baton("30s", cmd=("touch", mark), lease="2s")
            renews = [r for r in coord.reqs if r["op"] == "renew"]
        finally:
            coord.close()
        self.assertEqual(rc, 76, err)
        self.assertFalse(os.path.exists(mark), "the command ran on an unconfirmed grant")
        self.assertTrue(renews, "no renewal was sent for the grant")
        self.assertIn("before it could be used", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
