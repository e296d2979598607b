"""Network faults between a holder and the broker (issue 7), made with a
loopback TCP proxy (tcpproxy.py) between the `baton run` agent and mosquitto.

- pause (a silent partition): the holder's renewals stop arriving; the
  coordinator revokes at the lease's end (lease_expired) and grants the
  waiter; the cut-off agent reports the loss by itself (exit 76) by its own
  lease deadline, which is never later than the coordinator's, so its
  command is stopped before the successor starts.
- cut (connections closed): the broker fires the holder's Will at once, the
  coordinator revokes (node_offline) and grants the waiter; the cut-off
  agent again reports the loss by its own lease deadline, and fencing
  refuses its command's late writes.
The history is checked as in every fault test.
"""
import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from faultkit import EXIT_LOST, AgentRun, ResourceServer, run_cmd  # noqa: E402
from harness import Broker, Coordinator, unique_prefix, wait_until  # noqa: E402
from history import Recorder, check_holdings, read_holder_log  # noqa: E402
from tcpproxy import TcpProxy  # noqa: E402

LEASE_S = 2.0
SLACK_S = 0.75  # the agent's tick and the command's SIGTERM handling, on a loaded machine


class NetworkFaults(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-net-")
        self.log = os.path.join(self.dir, "holders.log")
        self.broker = Broker().__enter__()
        self.prefix = unique_prefix("n")
        self.coord = Coordinator(self.broker, self.prefix, state=os.path.join(self.dir, "state.db")).start()
        self.rec = Recorder(self.broker, self.prefix)
        self.server = ResourceServer()
        self.proxy = TcpProxy(self.broker.port)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        self.proxy.stop()
        self.server.close()
        self.rec.close()
        self.coord.stop()
        self.broker.__exit__(None, None, None)

    def agent(self, node, uri, **kw):
        r = AgentRun(run_cmd(uri, self.prefix, node, "net/r1", self.log, server_port=self.server.port,
                             mode="mutex", **kw))
        self.procs.append(r)
        return r

    def holding(self, node):
        return wait_until(lambda: next((h for h in read_holder_log(self.log) if h["node"] == node), None),
                          timeout=30, what="%s holding" % node)

    def run_fault(self, fault, reason):
        a = self.agent("behind-proxy", self.proxy.uri, hold_ms=60000, lease="2s")
        ha = self.holding("behind-proxy")
        time.sleep(0.2)  # let a renewal or two pass through the proxy first: part of the scenario
        b = self.agent("direct", self.broker.uri, hold_ms=1000)
        self.rec.wait(lambda e: e[1].endswith("/grant/direct") and e[2] and json.loads(e[2])["status"] == "queued",
                      what="waiter queued")
        t_fault = time.monotonic()
        fault()
        hb = self.holding("direct")
        self.assertGreater(hb["token"], ha["token"])
        self.assertEqual(a.wait(30), EXIT_LOST, a.err)
        self.assertEqual(b.wait(60), 0, b.err)
        rv = [x for _, n, x in self.rec.records("grant") if n == "behind-proxy" and x.get("status") == "revoked"]
        g = [x for _, n, x in self.rec.records("grant") if n == "direct" and x.get("status") == "granted"][0]
        self.assertEqual(g["previous"]["reason"], reason)
        term = [h for h in read_holder_log(self.log) if h["node"] == "behind-proxy"][0]
        self.assertEqual(term["how"], "term", "the cut-off agent did not stop its command")
        lost_after = term["end"] - t_fault
        print("\n%s: successor started %.0f ms after the fault; the cut-off agent stopped its command %.0f ms "
              "after it (lease %.0f ms); overlap of the two commands: %.0f ms"
              % (reason, (hb["start"] - t_fault) * 1000, lost_after * 1000, LEASE_S * 1000,
                 max(0.0, term["end"] - hb["start"]) * 1000))
        self.assertLessEqual(lost_after, LEASE_S + SLACK_S, "the agent noticed its loss after its lease deadline")
        late = [w for w in self.server.writes("behind-proxy") if w[0] > min(w2[0] for w2 in self.server.writes("direct"))]
        self.assertFalse([w for w in late if w[5]], "a write with the old token was accepted after the successor's")
        check_holdings(read_holder_log(self.log), revoked=self.rec.revoke_times())
        self.rec.check_all_answered()
        self.rec.check_answers_consistent()
        self.rec.check_tokens_rise()
        return rv, term, hb

    def test_pause_holder_loses_by_lease_and_stops_before_successor(self):
        rv, term, hb = self.run_fault(self.proxy.pause, "lease_expired")
        # the broker did not notice (keepalive 10 s): the coordinator's lease did it,
        # and the agent, counting from its own sends, stopped first
        self.assertLessEqual(term["t_sig"], hb["start"], "the cut-off command was not yet told to stop when the successor began")

    def test_cut_will_revokes_and_agent_reports_loss_by_its_deadline(self):
        self.run_fault(self.proxy.cut, "node_offline")


if __name__ == "__main__":
    unittest.main(verbosity=2)
