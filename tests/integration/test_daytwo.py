"""Day-two experience (issue 17): honest waits, errors in words, the exit-code
flag, global options anywhere, the failed command's stderr reaching its
successor, status for scripts, the waiter's place, and Prometheus metrics
scraped from a live coordinator.

Timed checks are generous bounds on whole runs ("--wait 3s ends well before
15 s"), never a sleep-and-hope: every wait is on an event (a line on stderr,
a process exit, a snapshot) with a deadline. Every process is stopped by its
PID.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BUILD_DIR, DEADLINE, Broker, Client, Coordinator, Node, Watcher, free_port,  # noqa: E402
                     unique_prefix, wait_until)

BATON = os.path.join(BUILD_DIR, "agent", "baton")


class Proc:
    """A baton process whose stderr is collected line by line as it comes."""

    def __init__(self, args, env, node):
        self.node = node
        self.p = subprocess.Popen([BATON] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.err = []
        self.out = b""
        self.cv = threading.Condition()
        self.t0 = time.monotonic()
        self.threads = [threading.Thread(target=self._read_err, daemon=True),
                        threading.Thread(target=self._read_out, daemon=True)]
        for t in self.threads:
            t.start()

    def _read_err(self):
        for line in self.p.stderr:
            with self.cv:
                self.err.append(line.decode("utf-8", "replace"))
                self.cv.notify_all()

    def _read_out(self):
        self.out = self.p.stdout.read()

    def stderr(self):
        with self.cv:
            return "".join(self.err)

    def wait_err(self, pattern, timeout=DEADLINE):
        wait_until(lambda: re.search(pattern, self.stderr()), timeout=timeout,
                   what="%r on stderr of baton (got %r)" % (pattern, self.stderr()[-2000:]))

    def finish(self, timeout=DEADLINE * 3):
        rc = self.p.wait(timeout)
        for t in self.threads:
            t.join(DEADLINE)
        return rc, self.out.decode("utf-8", "replace"), self.stderr()

    def elapsed(self):
        return time.monotonic() - self.t0

    def stop(self):
        """SIGTERM first: baton passes it on to its command (a holder's sh loop
        would outlive a SIGKILLed baton), then SIGKILL if need be."""
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(DEADLINE)


class DayTwoBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().__enter__()
        cls.prefix = unique_prefix("d")
        cls.metrics_port = free_port()
        try:
            cls.state_dir = tempfile.mkdtemp(prefix="baton-daytwo-state-")
            cls.coord = Coordinator(cls.broker, cls.prefix, state=os.path.join(cls.state_dir, "state.db"),
                                    args=["--metrics-listen", "127.0.0.1:%d" % cls.metrics_port]).__enter__()
        except BaseException:
            cls.broker.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.coord.__exit__(None, None, None)
        cls.broker.__exit__(None, None, None)
        shutil.rmtree(cls.state_dir, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-daytwo-")
        self.procs = []
        self.watch = Watcher(self.broker, self.prefix)
        self.res = "daytwo/" + self._testMethodName
        self.gates = []

    def tearDown(self):
        for g in self.gates:
            open(g, "w").close()
        for p in self.procs:
            p.stop()
        self.watch.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self, broker=None, prefix=None):
        e = dict(os.environ)
        e.update(BATON_BROKER=(broker or self.broker.uri), BATON_PREFIX=prefix or self.prefix)
        e.pop("BATON_NODE", None)
        return e

    def start(self, *args, node=None, env=None, front=()):
        """baton [front...] CMD --node N ARGS...; front holds global options put before the command."""
        node = node or "n" + uuid.uuid4().hex[:8]
        p = Proc(list(front) + list(args[:1]) + ["--node", node] + list(args[1:]), env or self.env(), node)
        self.procs.append(p)
        return p

    def gate(self, name="gate"):
        path = os.path.join(self.dir, name)
        self.gates.append(path)
        return path

    def hold(self, gate, mode="mutex", extra=()):
        """A holder that runs until gate exists."""
        p = self.start("run", "--mode", mode, "--resource", self.res, *extra, "--", "sh", "-c",
                       "while [ ! -e %s ]; do sleep 0.05; done" % gate)
        wait_until(lambda: (self.watch.state(self.res) or {}).get("holder") == p.node, what="holder")
        return p

    def wait_waiting(self, node):
        wait_until(lambda: node in ((self.watch.state(self.res) or {}).get("waiting") or []),
                   what="%s queued" % node)


class WaitsTest(DayTwoBase):
    """--wait bounds the whole run whatever is down; without it, baton run keeps
    waiting and says so; --connect-timeout bounds the wait for what is away."""

    def nothing_there(self):
        """A loopback port where no broker listens."""
        return "tcp://127.0.0.1:%d" % free_port()

    def no_coordinator_prefix(self):
        return unique_prefix("none")  # the broker is up, nobody serves this prefix

    def test_wait_bounds_the_run_with_the_coordinator_down(self):
        env = self.env(prefix=self.no_coordinator_prefix())
        for wait in ("3s", "0"):
            p = self.start("run", "--resource", self.res, "--wait", wait, "--", "true", env=env)
            rc, _, err = p.finish(timeout=60)
            self.assertEqual(rc, 69, err)
            self.assertLess(p.elapsed(), 12, "--wait %s took %.1fs" % (wait, p.elapsed()))
            self.assertIn("no answer from the coordinator", err)

    def test_wait_bounds_the_run_with_the_broker_down(self):
        p = self.start("run", "--resource", self.res, "--wait", "3s", "--", "true",
                       env=self.env(broker=self.nothing_there()))
        rc, _, err = p.finish(timeout=60)
        self.assertEqual(rc, 69, err)
        self.assertLess(p.elapsed(), 12, "took %.1fs" % p.elapsed())
        self.assertIn("cannot reach the broker", err)

    def test_connect_timeout_bounds_the_wait_for_what_is_away(self):
        for env in (self.env(broker=self.nothing_there()), self.env(prefix=self.no_coordinator_prefix())):
            p = self.start("run", "--resource", self.res, "--connect-timeout", "2s", "--", "true", env=env)
            rc, _, err = p.finish(timeout=60)
            self.assertEqual(rc, 69, err)
            self.assertLess(p.elapsed(), 12, "took %.1fs" % p.elapsed())

    def test_without_wait_run_keeps_waiting_for_the_coordinator_and_says_so(self):
        prefix = self.no_coordinator_prefix()
        p = self.start("run", "--resource", self.res, "--", "true", env=self.env(prefix=prefix))
        # Two notices, 10 s apart: alive past the 15 s after which it used to give up.
        wait_until(lambda: len(re.findall("still waiting for the coordinator", p.stderr())) >= 2,
                   timeout=DEADLINE * 2, what="two notices (got %r)" % p.stderr())
        self.assertIsNone(p.p.poll())
        coord = Coordinator(self.broker, prefix).__enter__()
        try:
            rc, _, err = p.finish()
        finally:
            coord.__exit__(None, None, None)
        self.assertEqual(rc, 0, err)

    def test_without_wait_run_keeps_waiting_for_the_broker_and_says_so(self):
        p = self.start("run", "--resource", self.res, "--", "true", env=self.env(broker=self.nothing_there()))
        p.wait_err("still waiting for the broker", timeout=DEADLINE * 2)
        self.assertIsNone(p.p.poll())

    def test_reset_and_status_timeouts(self):
        p = self.start("reset", "--timeout", "2s", self.res, env=self.env(prefix=self.no_coordinator_prefix()))
        rc, _, err = p.finish(timeout=60)
        self.assertEqual(rc, 69, err)
        self.assertLess(p.elapsed(), 12)
        self.assertIn("may still apply", err)
        p = self.start("status", "--timeout", "2s", env=self.env(broker=self.nothing_there()))
        rc, _, err = p.finish(timeout=60)
        self.assertEqual(rc, 69, err)
        self.assertLess(p.elapsed(), 12)
        self.assertIn("cannot reach the broker", err)


class ExitCodesTest(DayTwoBase):
    def test_conflict_exit_code_for_busy_and_wait_ran_out(self):
        g = self.gate()
        self.hold(g)
        p = self.start("run", "--mode", "mutex", "--resource", self.res, "--wait", "0", "--conflict-exit-code", "9",
                       "--", "true")
        rc, _, err = p.finish()
        self.assertEqual(rc, 9, err)
        self.assertIn("busy", err)
        p = self.start("run", "--mode", "mutex", "--resource", self.res, "--wait", "1s", "-E", "10", "--", "true")
        rc, _, err = p.finish()
        self.assertEqual(rc, 10, err)
        p = self.start("run", "--mode", "mutex", "--resource", self.res, "--wait", "0", "--", "true")
        self.assertEqual(p.finish()[0], 75, "the default stays 75")
        p = self.start("run", "--resource", self.res, "--conflict-exit-code", "256", "--", "true")
        self.assertEqual(p.finish()[0], 64)

    def test_verbose_says_a_code_is_the_commands_own(self):
        p = self.start("run", "-v", "--mode", "mutex", "--resource", self.res, "--", "sh", "-c", "exit 75")
        rc, _, err = p.finish()
        self.assertEqual(rc, 75)
        self.assertRegex(err, r"exit code 75 is the command's own")
        p = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "sh", "-c", "exit 75")
        rc, _, err = p.finish()
        self.assertEqual(rc, 75)
        self.assertNotIn("command's own", err, "only with -v")


class OptionsTest(DayTwoBase):
    def test_global_options_before_the_command(self):
        g = self.gate()
        holder = self.hold(g)
        env = self.env(broker="tcp://127.0.0.1:1", prefix="wrong/v1")  # the flags must win over these
        p = self.start("status", env=env, front=["--broker", self.broker.uri, "--prefix", self.prefix])
        rc, out, err = p.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn(holder.node, out)
        p = self.start("run", "--mode", "mutex", "--resource", self.res + "2", "--", "echo", "--broker", "x",
                       env=env, front=["-v", "--prefix", self.prefix, "--broker=" + self.broker.uri])
        rc, out, err = p.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), "--broker x", "options after -- belong to the command")
        p = self.start("status", front=["--no-such-flag"])
        self.assertEqual(p.finish()[0], 64)


class StderrTailTest(DayTwoBase):
    def test_failed_commands_stderr_reaches_successor_and_watch(self):
        watch = self.start("watch", self.res)
        self.watch.wait_for(lambda m: m[1] == "%s/node/%s" % (self.prefix, watch.node) and b"true" in m[2],
                            what="baton watch online")
        g = self.gate()
        first = self.start("run", "--resource", self.res, "--", "sh", "-c",
                           "while [ ! -e %s ]; do sleep 0.05; done; echo 'pull failed: manifest unknown' >&2; exit 3"
                           % g)
        wait_until(lambda: (self.watch.state(self.res) or {}).get("holder") == first.node, what="holder")
        out = os.path.join(self.dir, "prev")
        second = self.start("run", "--resource", self.res, "--", "sh", "-c",
                            'printf "%%s" "$BATON_PREVIOUS_ERROR" > %s' % out)
        self.wait_waiting(second.node)
        open(g, "w").close()
        rc, _, err = first.finish()
        self.assertEqual(rc, 3)
        self.assertIn("manifest unknown", err, "the command's stderr still reaches ours")
        self.assertEqual(second.finish()[0], 0)
        with open(out) as f:
            prev = f.read()
        self.assertIn("exit status 3", prev)
        self.assertIn("pull failed: manifest unknown", prev)
        o = self.watch.wait_for(lambda m: m[1].endswith("/outcome/" + self.res) and b"manifest" in m[2],
                                what="outcome with the error")
        self.assertLessEqual(len(json.loads(o[2])["error"].encode()), 1024)
        os.kill(watch.p.pid, signal.SIGINT)
        _, shown, _ = watch.finish()
        self.assertIn("pull failed: manifest unknown", shown)

    def test_long_stderr_is_cut_to_1024_bytes_of_its_tail(self):
        script = ("i=0; while [ $i -lt 300 ]; do echo \"line $i \u00e9t\u00e9\" >&2; i=$((i+1)); done; "
                  "printf 'bad \\377 byte\\n' >&2; exit 4")
        first = self.start("run", "--resource", self.res, "--", "sh", "-c", script)
        self.assertEqual(first.finish()[0], 4)
        o = self.watch.wait_for(lambda m: m[1].endswith("/outcome/" + self.res), what="outcome")
        error = json.loads(o[2])["error"]
        self.assertLessEqual(len(error.encode()), 1024)
        self.assertTrue(error.startswith("exit status 4"), error)
        self.assertIn("line 299", error, "the tail, not the head")
        self.assertTrue(error.endswith("bad ? byte"), "a byte that is not UTF-8 becomes ?: %r" % error[-40:])
        self.assertNotIn("line 0 ", error)


class StatusTest(DayTwoBase):
    def test_status_json_and_one_resource(self):
        g = self.gate()
        holder = self.hold(g)
        waiter = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "true")
        self.wait_waiting(waiter.node)
        p = self.start("status", "--json", self.res)
        rc, out, err = p.finish()
        self.assertEqual(rc, 0, err)
        rows = json.loads(out)
        self.assertEqual(len(rows), 1, rows)
        r = rows[0]
        self.assertEqual((r["resource"], r["mode"], r["holder"]), (self.res, "mutex", holder.node))
        self.assertEqual(r["waiting"], [waiter.node])
        self.assertIsInstance(r["token"], int)
        self.assertIn("lease_until", r)
        p = self.start("status", self.res)
        rc, out, err = p.finish()
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^%s\s+mutex\s+%s\s" % (re.escape(self.res), holder.node))
        self.assertIn("    waiting: 1. %s\n" % waiter.node, out)
        self.assertIn("    meta: sh -c", out)
        p = self.start("status", "--json", "nothing/here")
        rc, out, _ = p.finish()
        self.assertEqual((rc, json.loads(out)), (0, []))


class PositionTest(DayTwoBase):
    def test_waiter_shows_its_position_as_the_queue_moves(self):
        g1 = self.gate("g1")
        h = self.hold(g1)
        g2 = self.gate("g2")
        w1 = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "sh", "-c",
                        "while [ ! -e %s ]; do sleep 0.05; done" % g2)
        self.wait_waiting(w1.node)
        w2 = self.start("run", "-v", "--mode", "mutex", "--resource", self.res, "--", "true")
        w2.wait_err(r"position 2 of 2, held by %s" % h.node)
        open(g1, "w").close()
        w2.wait_err(r"position 1 of 1, held by %s" % w1.node)
        open(g2, "w").close()
        self.assertEqual(w2.finish()[0], 0)


class WordsTest(DayTwoBase):
    def test_revoked_node_offline_says_why(self):
        g = self.gate()
        h = self.hold(g)
        spoof = Client(self.broker)
        try:
            spoof.publish("%s/node/%s" % (self.prefix, h.node), {"v": 1, "node": h.node, "online": False})
        finally:
            spoof.close()
        rc, _, err = h.finish()
        self.assertEqual(rc, 76, err)
        self.assertIn("(node_offline)", err)
        self.assertNotIn("lost: lock was lost", err)

    def test_duplicate_node_id_is_named(self):
        a = self.start("watch", node="dup-" + uuid.uuid4().hex[:6])
        b = self.start("watch", node=a.node)
        wait_until(lambda: "same node id '%s'" % a.node in a.stderr() + b.stderr(), timeout=DEADLINE * 2,
                   what="the duplicate named (got %r / %r)" % (a.stderr()[-500:], b.stderr()[-500:]))


class BrokerWordsTest(unittest.TestCase):
    """Failures of the broker connection, each against a broker of its own."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-daytwo-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_baton(self, broker, *args, prefix="x/v1"):
        env = dict(os.environ, BATON_BROKER=broker.uri, BATON_PREFIX=prefix)
        p = Proc(list(args), env, None)
        self.procs.append(p)
        return p

    def test_bad_password_is_not_authorized_in_words(self):
        pw = os.path.join(self.dir, "passwd")
        subprocess.run(["mosquitto_passwd", "-b", "-c", pw, "alice", "right-pw"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(self.dir, 0o755)
        os.chmod(pw, 0o644)
        wrong = os.path.join(self.dir, "wrong")
        with open(wrong, "w") as f:
            f.write("wrong-pw\n")
        with Broker(extra_conf="allow_anonymous false\npassword_file %s\n" % pw) as b:
            p = self.run_baton(b, "status", "--username", "alice", "--password-file", wrong)
            rc, _, err = p.finish()
            self.assertEqual(rc, 69, err)
            self.assertIn("not authorized", err)
            self.assertIn("--password-file", err)
            self.assertNotIn("CONNACK return code", err)
            self.assertLess(p.elapsed(), 12, "a refusal is final: no waiting it out")

    def test_connection_loss_is_said_in_words(self):
        b = Broker().__enter__()
        prefix = unique_prefix("l")
        coord = Coordinator(b, prefix).__enter__()
        try:
            gate = os.path.join(self.dir, "gate")
            p = self.run_baton(b, "run", "--mode", "mutex", "--resource", "r", "--", "sh", "-c",
                               "while [ ! -e %s ]; do sleep 0.05; done" % gate, prefix=prefix)
            w = Watcher(b, prefix)
            wait_until(lambda: (w.state("r") or {}).get("holder"), what="holder")
            w.close()
            b.stop(signal.SIGKILL)
            rc, _, err = p.finish()
            self.assertEqual(rc, 76, err)
            self.assertIn("connection to the broker at %s lost" % b.uri, err)
            self.assertNotIn("(?)", err)
        finally:
            open(os.path.join(self.dir, "gate"), "w").close()
            coord.__exit__(None, None, None)
            b.__exit__(None, None, None)


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=DEADLINE) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


class MetricsTest(DayTwoBase):
    def test_scrape_moves_with_real_requests(self):
        before = scrape(self.metrics_port)
        self.assertEqual(before["baton_broker_connected"], 1)
        acq = 'baton_requests_total{op="acquire",answer="granted"}'
        rel = 'baton_requests_total{op="release",answer="released"}'
        for _ in range(3):
            p = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "true")
            self.assertEqual(p.finish()[0], 0)
        # a handoff by release, and a rejection
        g = self.gate()
        self.hold(g)
        w = self.start("run", "--mode", "mutex", "--resource", self.res, "--", "true")
        self.wait_waiting(w.node)
        open(g, "w").close()
        self.assertEqual(w.finish()[0], 0)
        n = Node(self.broker, self.prefix)
        n.send_raw("{not json")
        n.wait_for(lambda m: m[1] == n.grant_topic and b"bad_json" in m[2], what="rejection")
        n.close()

        def moved():
            after = scrape(self.metrics_port)
            return after if after.get('baton_rejections_total{code="bad_json"}', 0) > \
                before.get('baton_rejections_total{code="bad_json"}', 0) and after["baton_held"] == 0 else None

        after = wait_until(moved, what="the scrape to show the batch")
        d = lambda k: after.get(k, 0) - before.get(k, 0)  # noqa: E731
        self.assertEqual(d(acq), 4, "three runs and the holder granted at once; the waiter queued")
        self.assertEqual(d('baton_requests_total{op="acquire",answer="queued"}'), 1)
        self.assertEqual(d(rel), 5)
        self.assertEqual(d("baton_grants_total"), 5)
        self.assertEqual(d('baton_handoffs_total{reason="released"}'), 1)
        self.assertEqual(d('baton_requests_total{op="invalid",answer="rejected"}'), 1)
        self.assertGreaterEqual(d("baton_request_duration_seconds_count"), 11)
        self.assertEqual(after['baton_request_duration_seconds_bucket{le="+Inf"}'],
                         after["baton_request_duration_seconds_count"])
        self.assertGreater(d("baton_commit_duration_seconds_count"), 0)
        self.assertGreater(d("baton_batch_size_count"), 0)
        self.assertGreater(d("baton_request_duration_seconds_sum"), 0)
        # buckets are cumulative
        les = [(float(k.split('"')[1]), v) for k, v in after.items()
               if k.startswith("baton_request_duration_seconds_bucket") and "+Inf" not in k]
        les.sort()
        self.assertEqual([v for _, v in les], sorted(v for _, v in les))

    def test_other_paths_and_methods(self):
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("http://127.0.0.1:%d/" % self.metrics_port, timeout=DEADLINE)
        self.assertEqual(e.exception.code, 404)
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.metrics_port, data=b"x", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=DEADLINE)
        self.assertEqual(e.exception.code, 405)

    def test_listen_failure_is_a_clear_exit(self):
        c = Coordinator(self.broker, unique_prefix("m"), args=["--metrics-listen", "127.0.0.1:%d" % self.metrics_port])
        c.start(wait=False)
        rc = c.proc.wait(DEADLINE)
        c.proc = None
        c.logf.close()
        self.assertEqual(rc, 69)
        self.assertIn("--metrics-listen 127.0.0.1:%d" % self.metrics_port, c.log())
        c = Coordinator(self.broker, unique_prefix("m"), args=["--metrics-listen", "nonsense"])
        c.start(wait=False)
        rc = c.proc.wait(DEADLINE)
        c.proc = None
        c.logf.close()
        self.assertEqual(rc, 64)


if __name__ == "__main__":
    unittest.main(verbosity=2)
