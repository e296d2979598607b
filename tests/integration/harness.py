"""Shared harness of Baton's integration tests.

Starts private mosquitto brokers on free loopback ports with a config file it
writes, starts the coordinator from the build tree, and offers small paho
clients that act as nodes or watchers. Every process it starts is stopped by
its PID; nothing is ever ended by name. Every wait is on an event with a
generous deadline, never a sleep-and-hope.

Run with Debian's /usr/bin/python3 (python3-paho-mqtt 1.6).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import paho.mqtt.client as mqtt

BUILD_DIR = os.environ.get("BATON_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DEADLINE = float(os.environ.get("BATON_TEST_DEADLINE", "20"))  # seconds for any single wait
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def unique_prefix(tag="t"):
    return "bt%s/%s/v1" % (tag, uuid.uuid4().hex[:10])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=DEADLINE, interval=0.01, what="condition"):
    """Polls pred() until true or the deadline passes (then AssertionError)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def _stop_pid(proc, sig=signal.SIGTERM, timeout=DEADLINE):
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=timeout)


class Broker:
    """A private mosquitto on 127.0.0.1:<free port>; restartable on the same port."""

    def __init__(self, persistence=False, extra_conf=""):
        self.dir = tempfile.mkdtemp(prefix="baton-broker-")
        # mosquitto started as root drops to its own user: let it write its
        # persistence file and log here.
        os.chmod(self.dir, 0o777)
        self.port = None
        self.proc = None
        self.persistence = persistence
        self.extra_conf = extra_conf
        self.log_path = os.path.join(self.dir, "mosquitto.log")

    @property
    def uri(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _write_conf(self):
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\n" % self.port)
            f.write("allow_anonymous true\n")
            f.write("set_tcp_nodelay true\n")
            f.write("max_queued_messages 1000000\n")
            f.write("max_inflight_messages 0\n")
            f.write("persistence %s\n" % ("true" if self.persistence else "false"))
            f.write("persistence_location %s/\n" % self.dir)
            f.write("log_dest file %s\n" % self.log_path)
            f.write(self.extra_conf)
        return conf

    def start(self):
        for _ in range(20):
            if self.port is None:
                self.port = free_port()
            conf = self._write_conf()
            self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if self._wait_ready():
                return self
            _stop_pid(self.proc, signal.SIGKILL)
            self.proc = None
            if not self._restarting:
                self.port = None  # address in use: pick another port
        raise RuntimeError("mosquitto did not start")

    _restarting = False

    def _wait_ready(self):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self, sig=signal.SIGTERM):
        rc = _stop_pid(self.proc, sig)
        self.proc = None
        return rc

    def restart(self, sig=signal.SIGTERM):
        """Stops the broker with sig and starts it again on the same port."""
        self.stop(sig)
        self._restarting = True
        try:
            self.start()
        finally:
            self._restarting = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """A paho client that records every message on its subscriptions."""

    def __init__(self, broker, client_id=None, will=None, clean=True, username=None, password=None, tls=None):
        """username/password: broker credentials; tls: (cafile, certfile, keyfile) for a TLS listener."""
        self.broker = broker
        self.client_id = client_id or "c" + uuid.uuid4().hex[:12]
        self.msgs = []  # (monotonic time, topic, payload bytes, retain)
        self.cv = threading.Condition()
        self.c = mqtt.Client(client_id=self.client_id, clean_session=clean, protocol=mqtt.MQTTv311)
        if will:
            self.c.will_set(*will)
        self.c.on_message = self._on_message
        self.connected = threading.Event()
        self.c.on_connect = lambda c, u, f, rc: self.connected.set()
        if username is not None:
            self.c.username_pw_set(username, password)
        if tls is not None:
            self.c.tls_set(*tls)
        self.c.connect("127.0.0.1", broker.port, keepalive=5)
        self.c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.c.loop_start()
        if not self.connected.wait(DEADLINE):
            raise AssertionError("client %s did not connect" % self.client_id)

    def _on_message(self, c, u, m):
        with self.cv:
            self.msgs.append((time.monotonic(), m.topic, bytes(m.payload), m.retain))
            self.cv.notify_all()

    def subscribe(self, topic, qos=1):
        done = threading.Event()
        self.c.on_subscribe = lambda c, u, mid, granted: done.set()
        self.c.subscribe(topic, qos)
        if not done.wait(DEADLINE):
            raise AssertionError("subscribe %s not acknowledged" % topic)

    def publish(self, topic, payload, qos=1, retain=False):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(DEADLINE)

    def wait_for(self, pred, timeout=DEADLINE, what="message"):
        """Waits for a recorded message m = (t, topic, payload, retain) with pred(m); returns it."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for m in self.msgs:
                    if pred(m):
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %s; got %r" % (what, self.msgs[-10:]))
                self.cv.wait(left)

    def json_on(self, topic):
        with self.cv:
            return [json.loads(p) for (_, t, p, _) in self.msgs if t == topic and p]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()

    def kill(self):
        """Drops the TCP connection without DISCONNECT, so the broker fires the Will."""
        self.c.loop_stop()
        self.c.socket().close()


class Node(Client):
    """A node as PROTOCOL.md describes one: Will on P/node/<id>, online retained, own grant topic."""

    def __init__(self, broker, prefix, node_id=None, **client_kw):
        node_id = node_id or "n" + uuid.uuid4().hex[:8]
        self.prefix = prefix
        self.node = node_id
        will = ("%s/node/%s" % (prefix, node_id), json.dumps({"v": 1, "node": node_id, "online": False}), 1, True)
        super().__init__(broker, client_id=node_id, will=will, **client_kw)
        self.grant_topic = "%s/grant/%s" % (prefix, node_id)
        self.subscribe(self.grant_topic)
        self.publish("%s/node/%s" % (prefix, node_id), {"v": 1, "node": node_id, "online": True}, retain=True)
        self._n = 0

    def send(self, op, resource=None, rid=None, **fields):
        self._n += 1
        rid = rid or "%s-%d" % (op, self._n)
        req = {"v": 1, "op": op, "id": rid}
        if resource is not None:
            req["resource"] = resource
        req.update(fields)
        self.publish("%s/req/%s" % (self.prefix, self.node), req)
        return rid

    def send_raw(self, payload):
        self.publish("%s/req/%s" % (self.prefix, self.node), payload)

    def answers(self):
        return self.json_on(self.grant_topic)

    def answer(self, rid, status=None, timeout=DEADLINE, after=0):
        """The first answer for request rid (and status, if given) after the
        first `after` answers to rid."""
        def matching():
            out = []
            for (_, t, p, _) in self.msgs:
                if t != self.grant_topic:
                    continue
                a = json.loads(p)
                if a.get("id") == rid:
                    out.append(a)
            return out[after:]

        def pred(m):
            return any(status is None or a.get("status") == status for a in matching())
        self.wait_for(pred, timeout, what="answer %s %s on %s" % (rid, status or "", self.grant_topic))
        with self.cv:
            return next(a for a in matching() if status is None or a.get("status") == status)

    def count(self, rid):
        with self.cv:
            return sum(1 for (_, t, p, _) in self.msgs if t == self.grant_topic and json.loads(p).get("id") == rid)

    def request(self, op, resource=None, rid=None, timeout=DEADLINE, **fields):
        """Sends a request and returns its (next) answer."""
        n = self.count(rid) if rid else 0
        rid = self.send(op, resource, rid=rid, **fields)
        return self.answer(rid, timeout=timeout, after=n)


class Coordinator:
    """baton-coordinator from the build tree, talking to broker under prefix."""

    def __init__(self, broker, prefix, args=(), valgrind=False, client_id=None, state=":memory:"):
        self.broker = broker
        self.prefix = prefix
        self.args = list(args)
        self.valgrind = valgrind
        self.client_id = client_id or "coord-" + uuid.uuid4().hex[:8]
        self.state = state
        self.dir = tempfile.mkdtemp(prefix="baton-coord-")
        self.log_path = os.path.join(self.dir, "coordinator.log")
        self.vg_log = os.path.join(self.dir, "valgrind.log")
        self.proc = None

    @property
    def binary(self):
        return os.path.join(BUILD_DIR, "coordinator", "baton-coordinator")

    def start(self, wait=True):
        watcher = Client(self.broker)
        watcher.subscribe("%s/coordinator" % self.prefix)
        t0 = time.monotonic()
        cmd = [self.binary, "--broker", self.broker.uri, "--prefix", self.prefix,
               "--client-id", self.client_id, "--state", self.state, "--log-level", "debug"] + self.args
        if self.valgrind:
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect", "--log-file=" + self.vg_log] + cmd
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        if wait:
            try:
                watcher.wait_for(lambda m: m[0] >= t0 and m[2] and json.loads(m[2]).get("online") is True,
                                 timeout=DEADLINE * (4 if self.valgrind else 1), what="coordinator online")
            finally:
                watcher.close()
        else:
            watcher.close()
        return self

    def stop(self, sig=signal.SIGTERM):
        rc = _stop_pid(self.proc, sig, timeout=DEADLINE * (4 if self.valgrind else 1))
        self.proc = None
        self.logf.close()
        return rc

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc is not None:
            self.stop()
        if exc[0] is not None:
            print("---- coordinator log ----\n" + self.log()[-20000:])


class Watcher(Client):
    """Records everything under prefix/# (answers, outcomes, snapshots, presence)."""

    def __init__(self, broker, prefix):
        super().__init__(broker)
        self.prefix = prefix
        self.subscribe(prefix + "/#")

    def outcomes(self, resource):
        return self.json_on("%s/outcome/%s" % (self.prefix, resource))

    def state(self, resource):
        """The last payload seen on P/state/<resource> (None if cleared or never)."""
        topic = "%s/state/%s" % (self.prefix, resource)
        with self.cv:
            ps = [p for (_, t, p, _) in self.msgs if t == topic]
        if not ps or not ps[-1]:
            return None
        return json.loads(ps[-1])


class SharedCoordinator(unittest.TestCase):
    """One broker and one in-memory coordinator for the whole class; per test
    a watcher of everything under the prefix, nodes made with node(), and a
    resource named after the test."""

    TAG, RES = "s", "res/"

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().__enter__()
        cls.prefix = unique_prefix(cls.TAG)
        cls.coord = Coordinator(cls.broker, cls.prefix, args=["--done-ttl", "1h"]).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.coord.__exit__(None, None, None)
        cls.broker.__exit__(None, None, None)

    def setUp(self):
        self.nodes = []
        self.watch = Watcher(self.broker, self.prefix)
        self.res = self.RES + self._testMethodName

    def tearDown(self):
        for n in self.nodes:
            n.close()
        self.watch.close()
        if self.coord.proc is None or self.coord.proc.poll() is not None:
            print(self.coord.log()[-5000:])
            self.fail("coordinator exited")

    def node(self, name=None):
        n = Node(self.broker, self.prefix, name)
        self.nodes.append(n)
        return n
