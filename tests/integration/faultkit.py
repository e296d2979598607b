"""Processes and props of the fault tests: `baton run` agents (one run, or a
loop of runs) whose command is holder.py, a fencing "resource server", and a
broker started from a config text of the test's own.

Every process is started in its own session and stopped by its PID (or its
own process group id, for a crash that takes the command with it); nothing
is ever ended by name.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD_DIR, Broker, Coordinator, _stop_pid  # noqa: E402

PY = "/usr/bin/python3"
HOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "holder.py")
EXIT_LOST = 76


def baton_bin():
    return os.path.join(BUILD_DIR, "agent", "baton")


def run_cmd(broker_uri, prefix, node, resource, holder_log, hold_ms=200, mode="mutex", lease="10s",
            fail_pct=0, server_port=0, extra=()):
    return ([baton_bin(), "run", "--broker", broker_uri, "--prefix", prefix, "--node", node,
             "--resource", resource, "--mode", mode, "--lease", lease] + list(extra) +
            ["--", PY, HOLDER, holder_log, str(hold_ms), str(fail_pct), str(server_port)])


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def session_pids(sid):
    """Every live process whose session id is sid (from /proc/PID/stat)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid:  # state ppid pgrp session
            out.append(int(name))
    return out


class AgentRun:
    """One `baton run` process, in a session of its own. Its output goes to
    files, not pipes: a command that outlives a killed agent keeps them."""

    def __init__(self, cmd, env=None):
        self.cmd = cmd
        self.t0 = time.monotonic()
        self.t1 = None
        fd, self.err_path = tempfile.mkstemp(prefix="baton-run-", suffix=".err")
        os.close(fd)
        with open(self.err_path, "wb") as errf:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, start_new_session=True,
                                         env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        self.proc.wait()
        self.t1 = time.monotonic()

    @property
    def err(self):
        with open(self.err_path, "rb") as f:
            return f.read()

    @property
    def pid(self):
        return self.proc.pid

    def wait(self, timeout=60):
        self._reader.join(timeout)
        if self._reader.is_alive():
            raise AssertionError("baton run did not end in %ss: %r" % (timeout, self.cmd))
        return self.proc.returncode

    def send_signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill_group(self, sig=signal.SIGKILL):
        """The agent, its keeper and its command together (a crash or a
        freeze of the whole host): every process of its session, whatever
        process group it is in (the command and the keeper have their own)."""
        for pid in session_pids(self.proc.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self):
        if self.proc.poll() is None:
            self.kill_group(signal.SIGKILL)
        try:
            self.wait(30)
        except AssertionError:
            pass
        try:
            os.unlink(self.err_path)
        except OSError:
            pass


class AgentLoop(threading.Thread):
    """Runs `baton run` again and again (a node doing its job) until stopped;
    records every run's (node, resource, mode, t0, t1, exit code, stderr)."""

    def __init__(self, name, broker_uri, prefix, resources, holder_log, mode="mutex", hold_ms=(50, 250),
                 fail_pct=0, lease="10s", pause=(0, 100), max_runs=None):
        super().__init__(daemon=True)
        self.name_ = name
        self.args = (broker_uri, prefix, resources, holder_log, mode, hold_ms, fail_pct, lease, pause)
        self.max_runs = max_runs
        self.runs = []
        self.current = None
        self.stopping = threading.Event()
        self.rng = random.Random(hash(name) & 0xffff)

    def run(self):
        broker_uri, prefix, resources, log, mode, hold, fail, lease, pause = self.args
        k = 0
        while not self.stopping.is_set() and (self.max_runs is None or k < self.max_runs):
            k += 1
            res = self.rng.choice(resources)
            node = "%s-%d" % (self.name_, k)
            cmd = run_cmd(broker_uri, prefix, node, res, log, self.rng.randint(*hold), mode, lease, fail)
            r = AgentRun(cmd)
            self.current = r
            rc = r.wait(300)
            self.runs.append({"node": node, "res": res, "mode": mode, "t0": r.t0, "t1": r.t1, "rc": rc,
                              "err": r.err.decode("utf-8", "replace")})
            r.stop()
            self.current = None
            time.sleep(self.rng.randint(*pause) / 1000.0)

    def stop(self, timeout=120):
        """Lets the current run finish (it is answered, not abandoned), then ends."""
        self.stopping.set()
        self.join(timeout)
        if self.is_alive():
            cur = self.current
            if cur is not None:
                cur.stop()
            self.join(30)
            raise AssertionError("agent loop %s did not finish its last run" % self.name_)


class ResourceServer:
    """A fencing resource server: refuses any write carrying a token lower
    than the highest it has seen for that resource (PROTOCOL.md, 'token').
    Line protocol on loopback: 'W <resource> <token> <node> <tag>' -> ok|refused."""

    def __init__(self):
        self.highest = {}
        self.log = []  # (t, resource, token, node, tag, accepted)
        self.mu = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            line = conn.makefile().readline().split()
            if len(line) != 5 or line[0] != "W":
                return
            res, tok, node, tag = line[1], int(line[2]), line[3], line[4]
            with self.mu:
                ok = tok >= self.highest.get(res, 0)
                if ok:
                    self.highest[res] = tok
                self.log.append((time.monotonic(), res, tok, node, tag, ok))
            conn.sendall(b"ok\n" if ok else b"refused\n")

    def writes(self, node=None):
        with self.mu:
            return [w for w in self.log if node is None or w[3] == node]

    def close(self):
        self.stopping = True
        self.sock.close()


class ConfBroker(Broker):
    """A mosquitto whose whole config is the test's: conf_fn(port, dir) -> text."""

    def __init__(self, conf_fn):
        super().__init__()
        self.conf_fn = conf_fn

    def _write_conf(self):
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(self.conf_fn(self.port, self.dir))
            f.write("\nlog_dest file %s\n" % self.log_path)
        return conf

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def stop_proc(proc, sig=signal.SIGTERM):
    return _stop_pid(proc, sig)


class BareCoordinator(Coordinator):
    """The harness's coordinator, started without its anonymous presence
    watcher (which cannot connect to a broker with passwords or TLS): the
    test waits for the presence itself."""

    def start(self, wait=False):
        cmd = [self.binary, "--broker", self.broker.uri, "--prefix", self.prefix, "--client-id", self.client_id,
               "--state", self.state, "--log-level", "debug"] + self.args
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        return self
