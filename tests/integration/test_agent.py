"""Integration tests of the agent: the `baton` CLI (and libbaton under it)
against a private mosquitto and the real coordinator.

Every wait is on an event (a snapshot, an outcome, a process exit) with a
generous deadline; every process is stopped by the PID we started it with
(commands under test write their own PID to a file so we can stop them too).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD_DIR, DEADLINE, Broker, Coordinator, Watcher, unique_prefix, wait_until  # noqa: E402

BATON = os.path.join(BUILD_DIR, "agent", "baton")


def read_pid(path):
    """The PID a command under test wrote to path, or None."""
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class AgentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().__enter__()
        cls.prefix = unique_prefix("a")
        cls.coord = Coordinator(cls.broker, cls.prefix, args=["--done-ttl", "1h"]).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.coord.__exit__(None, None, None)
        cls.broker.__exit__(None, None, None)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-agent-")
        self.procs = []
        self.pidfiles = []
        self.watch = Watcher(self.broker, self.prefix)
        self.res = "agent/" + self._testMethodName

    def tearDown(self):
        for path in self.pidfiles:  # commands we started through baton run
            pid = read_pid(path)
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    ours = b"sleep" in f.read()
                if ours:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, TypeError):
                pass
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
                os.kill(p.pid, signal.SIGKILL)
                p.wait(DEADLINE)
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        self.watch.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- helpers -------------------------------------------------------

    def env(self):
        e = dict(os.environ)
        e.update(BATON_BROKER=self.broker.uri, BATON_PREFIX=self.prefix)
        e.pop("BATON_NODE", None)
        return e

    def start(self, *args, node=None):
        node = node or "n" + uuid.uuid4().hex[:8]
        p = subprocess.Popen([BATON] + list(args[:1]) + ["--node", node] + list(args[1:]), env=self.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.node = node
        self.procs.append(p)
        return p

    def finish(self, p, timeout=DEADLINE * 3):
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(), err.decode()

    def pidfile(self, name):
        path = os.path.join(self.dir, name + ".pid")
        self.pidfiles.append(path)
        return path

    def state(self, res=None):
        return self.watch.state(res or self.res) or {}

    def wait_holder(self, node, res=None):
        wait_until(lambda: self.state(res).get("holder") == node, what="%s holding %s" % (node, res or self.res))

    def wait_waiting(self, node, res=None):
        wait_until(lambda: node in (self.state(res).get("waiting") or []), what="%s queued" % node)

    def lines(self, path):
        with open(path) as f:
            return [ln.rstrip("\n") for ln in f]

    # ---- once and mutex --------------------------------------------------

    def test_once_fail_then_succeed_then_skip(self):
        count = os.path.join(self.dir, "count")
        gate = os.path.join(self.dir, "gate")
        first = self.start("run", "--resource", self.res, "--share-output", "--", "sh", "-c",
                           "echo ran >> %s; while [ ! -e %s ]; do sleep 0.05; done; exit 3" % (count, gate))
        self.wait_holder(first.node)
        second = self.start("run", "--resource", self.res, "--share-output", "--", "sh", "-c",
                            'echo ran >> %s; echo "prev=$BATON_PREVIOUS_ERROR"; echo shared-result-42' % count)
        self.wait_waiting(second.node)
        third = self.start("run", "--resource", self.res, "--share-output", "--", "sh", "-c",
                           "echo ran >> %s" % count)
        self.wait_waiting(third.node)
        open(gate, "w").close()
        rc1, _, _ = self.finish(first)
        rc2, out2, _ = self.finish(second)
        rc3, out3, err3 = self.finish(third)
        self.assertEqual((rc1, rc2, rc3), (3, 0, 0))
        self.assertEqual(len(self.lines(count)), 2, "the command ran exactly twice")
        self.assertIn("prev=exit status 3", out2)
        self.assertIn("shared-result-42", out3, "the skipping node prints the shared result")
        self.assertIn("already done by %s" % second.node, err3)
        # Later runs skip too, at once.
        rc4, out4, _ = self.finish(self.start("run", "--resource", self.res, "--", "false"))
        self.assertEqual(rc4, 0)
        self.assertIn("shared-result-42", out4)

    def test_mutex_runs_every_time(self):
        log = os.path.join(self.dir, "log")
        cmd = 'echo "start $BATON_TOKEN" >> %s; sleep 0.2; echo "end $BATON_TOKEN" >> %s; exit %s'
        first = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "sh", "-c", cmd % (log, log, 1))
        self.wait_holder(first.node)
        others = [self.start("run", "--mode", "mutex", "--resource", self.res, "--", "sh", "-c",
                             cmd % (log, log, 0)) for _ in range(2)]
        results = [self.finish(p)[0] for p in [first] + others]
        self.assertEqual(results, [1, 0, 0])
        self.check_no_overlap(self.lines(log), 3)

    def check_no_overlap(self, lines, runs, resource=None):
        self.assertEqual(len(lines), 2 * runs, lines)
        last = 0
        for i in range(0, len(lines), 2):
            s, e = lines[i].split(), lines[i + 1].split()
            self.assertEqual(s[0], "start", lines[i:i + 2])
            self.assertEqual(e[0], "end", lines[i:i + 2])
            self.assertEqual(s[1:], e[1:], "a holding ran inside another")
            token = int(s[-1])
            self.assertGreater(token, last, "tokens rise")
            last = token

    def test_stress_concurrent_loops_never_overlap(self):
        logs = {r: os.path.join(self.dir, "log%d" % r) for r in range(3)}
        failures = []

        def loop(k):
            r = k % 3
            for _ in range(5):
                p = self.start("run", "--mode", "mutex", "--resource", "%s/%d" % (self.res, r), "--lease", "5s",
                               "--", "sh", "-c",
                               'echo "start $BATON_TOKEN" >> %s; sleep 0.01; echo "end $BATON_TOKEN" >> %s'
                               % (logs[r], logs[r]))
                rc, out, err = self.finish(p, timeout=DEADLINE * 6)
                if rc != 0:
                    failures.append((rc, err))

        threads = [threading.Thread(target=loop, args=(k,)) for k in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE * 12)
        self.assertEqual(failures, [])
        for r in range(3):
            self.check_no_overlap(self.lines(logs[r]), 20)

    # ---- failures --------------------------------------------------------

    def test_killed_holder_hands_over_through_its_will(self):
        pid = self.pidfile("holder")
        holder = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "sh", "-c",
                            "echo $$ > %s; exec sleep 60" % pid)
        self.wait_holder(holder.node)
        waiter = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "sh", "-c",
                            'echo "took over: $BATON_PREVIOUS_ERROR"')
        self.wait_waiting(waiter.node)
        t0 = time.monotonic()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(DEADLINE)
        rc, out, _ = self.finish(waiter)
        self.assertEqual(rc, 0)
        self.assertIn("took over: node_offline", out)
        self.assertLess(time.monotonic() - t0, 10, "the Will fired at once, not after a lease")
        self.watch.wait_for(lambda m: m[1] == "%s/outcome/%s" % (self.prefix, self.res) and
                            b"node_offline" in m[2], what="node_offline outcome")

    def test_run_sends_each_request_once_when_nothing_restarts(self):
        # The retained presence of the coordinator that the agent's own
        # subscription brings is not news: it must not re-send its acquire.
        p = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "true")
        rc, _, err = self.finish(p)
        self.assertEqual(rc, 0, err)
        topic = "%s/req/%s" % (self.prefix, p.node)
        self.watch.wait_for(lambda m: m[1] == topic and b'"op":"release"' in m[2], what="the release")
        ops = [json.loads(m[2])["op"] for m in list(self.watch.msgs) if m[1] == topic]
        self.assertEqual(ops, ["acquire", "release"])

    def test_wait_runs_out_exits_75(self):
        pid = self.pidfile("holder")
        holder = self.start("run", "--resource", self.res, "--", "sh", "-c", "echo $$ > %s; exec sleep 60" % pid)
        self.wait_holder(holder.node)
        t0 = time.monotonic()
        rc, _, err = self.finish(self.start("run", "--resource", self.res, "--wait", "1s", "--", "true"))
        self.assertEqual(rc, 75, err)
        self.assertLess(time.monotonic() - t0, DEADLINE)
        self.assertIn("busy", err)
        rc, _, _ = self.finish(self.start("run", "--resource", self.res, "--wait", "0", "--", "true"))
        self.assertEqual(rc, 75)
        os.kill(wait_until(lambda: read_pid(pid), what="command pid"), signal.SIGTERM)
        self.assertEqual(self.finish(holder)[0], 128 + signal.SIGTERM)

    def test_lock_lost_while_running_kills_command_exits_76(self):
        pid = self.pidfile("cmd")
        holder = self.start("run", "--mode", "mutex", "--lease", "1s", "--resource", self.res, "--", "sh", "-c",
                            "echo $$ > %s; exec sleep 60" % pid)
        self.wait_holder(holder.node)
        wait_until(lambda: read_pid(pid), what="command pid")
        cmd_pid = read_pid(pid)
        os.kill(holder.pid, signal.SIGSTOP)  # no renewals: the coordinator revokes
        self.watch.wait_for(lambda m: m[1] == "%s/outcome/%s" % (self.prefix, self.res) and
                            b"lease_expired" in m[2], what="lease_expired outcome")
        os.kill(holder.pid, signal.SIGCONT)
        rc, _, err = self.finish(holder)
        self.assertEqual(rc, 76, err)
        self.assertIn("lost", err)
        wait_until(lambda: not os.path.exists("/proc/%d" % cmd_pid) or
                   open("/proc/%d/stat" % cmd_pid).read().split()[2] == "Z", what="command stopped")

    def test_broker_restart_reconnects_and_resends(self):
        gate = os.path.join(self.dir, "gate")
        holder = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "sh", "-c",
                            "while [ ! -e %s ]; do sleep 0.05; done" % gate)
        self.wait_holder(holder.node)
        waiter = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "echo", "waiter-ran")
        self.wait_waiting(waiter.node)
        self.watch.close()
        self.broker.restart()
        self.watch = Watcher(self.broker, self.prefix)
        # The waiter reconnects by itself and announces itself again. The
        # holder counts its lock as lost the moment its connection drops
        # (the broker publishes its Will), so it may already have ended (76).
        for p in (holder, waiter):
            topic = "%s/node/%s" % (self.prefix, p.node)
            wait_until(lambda: p.poll() is not None or any(
                m[1] == topic and b'"online":true' in m[2] for m in list(self.watch.msgs)), what=p.node + " back")
        open(gate, "w").close()
        # mosquitto fires the nodes' Wills when it shuts down, so the
        # coordinator revokes the holder (and may hand the lock to the
        # waiter and revoke that too, both published once it is back). What
        # the agents must do: reconnect, re-send, learn the truth and end
        # -- 0 when they held the lock to the end, 76 when they learnt it
        # was taken back -- and never hang.
        rc, _, err = self.finish(holder, timeout=DEADLINE)
        self.assertIn(rc, (0, 76), err)
        rc, out, err = self.finish(waiter, timeout=DEADLINE)
        self.assertIn(rc, (0, 76), err)
        if rc == 0:
            self.assertIn("waiter-ran", out)

    # ---- watch, status, reset --------------------------------------------

    def test_status_watch_and_reset(self):
        pid = self.pidfile("holder")
        watch = self.start("watch")
        holder = self.start("run", "--resource", self.res, "--", "sh", "-c", "echo $$ > %s; exec sleep 60" % pid)
        self.wait_holder(holder.node)
        rc, out, _ = self.finish(self.start("status"))
        self.assertEqual(rc, 0)
        row = [ln for ln in out.splitlines() if ln.startswith(self.res)]
        self.assertEqual(len(row), 1, out)
        self.assertIn(holder.node, row[0])
        self.assertIn("once", row[0])
        wait_until(lambda: read_pid(pid), what="command pid")
        os.kill(wait_until(lambda: read_pid(pid), what="command pid"), signal.SIGTERM)
        self.finish(holder)
        # The failed run is not remembered; a successful one is, until reset.
        self.assertEqual(self.finish(self.start("run", "--resource", self.res, "--", "true"))[0], 0)
        wait_until(lambda: (self.state().get("done") or {}).get("node"), what="done remembered")
        self.assertEqual(self.finish(self.start("reset", self.res))[0], 0)
        wait_until(lambda: not (self.state().get("done") or {}).get("node"), what="done forgotten")
        os.kill(watch.pid, signal.SIGINT)
        rc, out, _ = self.finish(watch)
        self.assertEqual(rc, 0)
        self.assertIn("granted", out)
        self.assertIn("failure", out)
        self.assertIn("success", out)

    def test_usage_and_unreachable_exit_codes(self):
        self.assertEqual(self.finish(self.start("run", "--", "true"))[0], 64)
        self.assertEqual(self.finish(self.start("run", "--resource", "x", "--lease", "soon", "--", "true"))[0], 64)
        # Without a bound, baton run waits for an absent broker (issue 17); --connect-timeout bounds it.
        p = subprocess.Popen([BATON, "run", "--broker", "tcp://127.0.0.1:1", "--connect-timeout", "2s", "--resource",
                              "x", "--", "true"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env())
        self.procs.append(p)
        self.assertEqual(self.finish(p)[0], 69)
        rc, out, _ = self.finish(self.start("run", "--help"))
        self.assertEqual(rc, 0)
        self.assertIn("example:", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
