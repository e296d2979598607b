"""Restarts in the middle of a workload (issue 7), and the crash test of
issue 6.

A workload: loops of `baton run` agents, in mutex mode on two resources and
in once mode (commands failing 40% of the time, so locks hand off) on three,
each run a new node whose command (holder.py) logs its holding. While it
runs, the test restarts the broker (SIGTERM with persistence, SIGKILL) or
the coordinator (SIGTERM, SIGKILL; durable store, fixed client id), or, for
the crash test, SIGKILLs the coordinator at least 20 times at random
100-400 ms intervals. Then every loop finishes its current run and the
history is checked: every run ended with an answer (no 'unreachable' exit),
every request the recorder saw was answered and no answer contradicts an
earlier one (same (node, id): same token across restarts), no two valid
holdings of a resource overlap (holders' own log), tokens only rose per
resource and none was given twice, no remembered once success was lost.
"""
import collections
import os
import random
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from faultkit import AgentLoop, AgentRun, run_cmd  # noqa: E402
from harness import Broker, Coordinator, unique_prefix, wait_until  # noqa: E402
from history import Recorder, check_holdings, read_holder_log  # noqa: E402

MUTEX_RES = ["wm/1", "wm/2"]
ONCE_RES = ["wo/1", "wo/2", "wo/3"]
ALLOWED_RC = {"mutex": {0, 76}, "once": {0, 1, 76}}

# FIXED BUG (agent/session.c, on_presence; now re-sends on every online
# presence): a client whose first sight of the
# coordinator is a live online:true (the broker lost the retained presence
# with a SIGKILL, or restarted without it) does not re-send the requests it
# published before, while the restarted broker had no subscription of the
# coordinator yet: they are lost and `baton run` gives up after 15 s (exit
# 69). test_first_presence_after_broker_restart_resends reproduces it alone.
# While the bug stands, runs that started within RESTART_WINDOW seconds of a
# broker restart may end 69; every other check stays strict. Set to False
# once fixed.
FIRST_PRESENCE_RESEND_BUG = False
RESTART_WINDOW = 12.0


class Workload:
    def __init__(self, broker, prefix, log, n_mutex=3, n_once=3):
        self.loops = [AgentLoop("m%d" % i, broker.uri, prefix, MUTEX_RES, log, mode="mutex", hold_ms=(30, 200))
                      for i in range(n_mutex)]
        self.loops += [AgentLoop("o%d" % i, broker.uri, prefix, ONCE_RES, log, mode="once", hold_ms=(30, 200),
                                 fail_pct=40) for i in range(n_once)]

    def start(self):
        for lp in self.loops:
            lp.start()

    def runs(self):
        return [r for lp in self.loops for r in lp.runs]

    def wait_progress(self, n, timeout=60):
        base = len(self.runs())
        wait_until(lambda: len(self.runs()) >= base + n, timeout=timeout, what="%d more runs" % n)

    def stop(self):
        for lp in self.loops:
            lp.stopping.set()
        for lp in self.loops:
            lp.stop()


class RestartFaults(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-restart-")
        self.log = os.path.join(self.dir, "holders.log")
        self.broker = Broker(persistence=True)
        # mosquitto started as root drops to the 'mosquitto' user, which
        # cannot write the harness's private 0700 directory: without this,
        # persistence (and the broker's log) silently does nothing.
        os.chmod(self.broker.dir, 0o777)
        self.broker.__enter__()
        self.prefix = unique_prefix("r")
        self.coord = Coordinator(self.broker, self.prefix, state=os.path.join(self.dir, "state.db"),
                                 client_id="coord-" + self.prefix.split("/")[1]).start()
        self.rec = Recorder(self.broker, self.prefix)
        self.work = Workload(self.broker, self.prefix, self.log)

    def tearDown(self):
        for lp in self.work.loops:
            lp.stopping.set()
            if lp.current is not None:
                lp.current.stop()
        self.rec.close()
        if self.coord.proc is not None:
            self.coord.stop()
        print("history: %s" % self.rec.dump(os.path.join(self.dir, "history.jsonl")))
        if os.environ.get("BATON_FAULTS_VERBOSE"):
            print("---- coordinator log ----\n" + self.coord.log()[-8000:])
        self.broker.__exit__(None, None, None)

    def finish_and_check(self, answered_since=0.0, restarts=()):
        self.work.wait_progress(6)  # still serving after the faults
        self.work.stop()
        runs = self.work.runs()
        rcs = collections.Counter((r["mode"], r["rc"]) for r in runs)
        print("\nruns by (mode, exit code): %s" % dict(sorted(rcs.items())))

        def known_bug(r):
            return FIRST_PRESENCE_RESEND_BUG and r["rc"] == 69 and any(
                t0 - 1 <= r["t0"] <= t1 + RESTART_WINDOW for t0, t1 in restarts)
        tolerated = [r for r in runs if known_bug(r)]
        if tolerated:
            print("KNOWN BUG: %d run(s) around a broker restart were never answered (exit 69): %s"
                  % (len(tolerated), [r["node"] for r in tolerated]))
        bad = [r for r in runs if r["rc"] not in ALLOWED_RC[r["mode"]] and not known_bug(r)]
        self.assertFalse(bad, "runs that ended without an answer or badly: %r" % bad[:3])
        holdings = read_holder_log(self.log)
        self.assertTrue(holdings)
        unfinished = [h for h in holdings if h["end"] is None]
        self.assertFalse(unfinished, "holders that never ended: %r" % unfinished)
        check_holdings(holdings, revoked=self.rec.revoke_times())
        self.rec.check_all_answered(since=answered_since, exclude_nodes={r["node"] for r in tolerated})
        self.rec.check_answers_consistent()
        if self.rec.regrants_after_offline:
            print("FINDING: %d acquire id(s) granted again after their node's Will revoked them "
                  "(a phantom holding until its lease ends): %r"
                  % (len(self.rec.regrants_after_offline), self.rec.regrants_after_offline[:3]))
        toks = self.rec.check_tokens_rise()
        kept = self.rec.check_once_success_kept()
        print("holdings %d, new tokens %d, once successes %d" % (len(holdings), len(toks), len(kept)))
        return runs

    # ------------------------------------------------------------------------

    def broker_restart(self, sig):
        self.work.start()
        restarts = []
        for _ in range(2):
            self.work.wait_progress(8, timeout=90)
            t0 = time.monotonic()
            self.broker.restart(sig)
            self.rec.wait_subscribed(30)
            restarts.append((t0, time.monotonic()))
        # What was published while the recorder was away is not in its
        # history: completeness is checked from the last restart on, and
        # for every run by its exit code.
        return self.finish_and_check(answered_since=restarts[-1][1], restarts=restarts)

    def test_first_presence_after_broker_restart_resends(self):
        """An acquire published to a restarted broker before the coordinator
        re-subscribed is re-sent when the coordinator's presence appears."""
        self.res = "fp/1"
        self.coord.proc.send_signal(signal.SIGSTOP)  # it cannot reconnect before the agent sends
        try:
            self.broker.restart(signal.SIGKILL)  # retained presence gone with it
            self.rec.wait_subscribed(30)
            a = AgentRun(run_cmd(self.broker.uri, self.prefix, "fp-a", self.res, self.log, hold_ms=10))
            self.rec.wait(lambda e: e[1] == self.prefix + "/req/fp-a", timeout=30, what="the acquire")
        finally:
            self.coord.proc.send_signal(signal.SIGCONT)
        try:
            rc = a.wait(60)
            self.assertEqual(rc, 0, a.err)
        finally:
            a.stop()

    def test_broker_restart_sigterm_with_persistence(self):
        self.broker_restart(signal.SIGTERM)

    def test_broker_restart_sigkill(self):
        self.broker_restart(signal.SIGKILL)

    def coordinator_restart(self, sig):
        self.work.start()
        for _ in range(3):
            self.work.wait_progress(5)
            self.coord.stop(sig)
            time.sleep(random.uniform(0.05, 0.5))  # a random moment to be down: the fault's shape, not a wait
            self.coord.start()
        self.finish_and_check()

    def test_coordinator_restart_sigterm(self):
        self.coordinator_restart(signal.SIGTERM)

    def test_coordinator_restart_sigkill(self):
        self.coordinator_restart(signal.SIGKILL)

    def test_crash_coordinator_sigkill_20_times(self):
        """Issue 6's crash test: 20+ SIGKILLs at random 100-400 ms intervals."""
        seed = int(os.environ.get("BATON_CRASH_SEED", str(random.randrange(1 << 30))))
        print("\nBATON_CRASH_SEED=%d" % seed)
        rng = random.Random(seed)
        self.work.start()
        self.work.wait_progress(4)
        kills = 0
        while kills < 20:
            time.sleep(rng.uniform(0.1, 0.4))  # the random moment of the next kill
            self.coord.stop(signal.SIGKILL)
            kills += 1
            self.coord.start()
        print("\ncoordinator SIGKILLed %d times" % kills)
        self.finish_and_check()


if __name__ == "__main__":
    unittest.main(verbosity=2)
