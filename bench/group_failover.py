#!/usr/bin/python3
"""bench/group_failover.py - a replicated group's failover time, for bench/run.

Starts its own 3-member group (baton-coordinator --member/--peers) on the
broker given, under its own prefix, then KILLS times: SIGKILL the member
that serves (the leader), and time from the kill to the next grant a probe
node is served (the probe re-sends its acquire every 250 ms, as an agent
re-sends on a new coordinator presence); restart the killed member and wait
until it follows again. Prints one markdown table row set: p50, p90, p99,
max. Every process it starts is stopped by its PID. Asserts no timing.

  group_failover.py --coord PATH --port BROKER_PORT --dir DIR [--kills N]
  group_failover.py --which-leader --port BROKER_PORT --prefix P
      prints the member id that serves P (for bench/run's CPU accounting)
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Watch:
    """Records the retained health of every member and the probe's answers."""

    def __init__(self, port, prefix, node):
        self.prefix, self.node = prefix, node
        self.cv = threading.Condition()
        self.health, self.answers, self.presence = {}, [], None
        self.c = mqtt.Client(client_id=node, clean_session=True, protocol=mqtt.MQTTv311)
        self.c.on_message = self._on
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        for t in ("/coordinator/+", "/coordinator", "/grant/" + node):
            self.c.subscribe(prefix + t, 1)

    def _on(self, c, u, m):
        with self.cv:
            if not m.payload:
                return
            p = json.loads(m.payload)
            if m.topic == self.prefix + "/coordinator":
                self.presence = p
            elif m.topic.startswith(self.prefix + "/coordinator/"):
                self.health[p["member"]] = p
            else:
                self.answers.append((time.monotonic(), p))
            self.cv.notify_all()

    def serving(self, timeout=60):
        """The member whose online presence is on P/coordinator."""
        end = time.monotonic() + timeout
        with self.cv:
            while not (self.presence and self.presence.get("online") and self.presence.get("member")):
                if not self.cv.wait(max(0.01, end - time.monotonic())) and time.monotonic() > end:
                    raise SystemExit("no member serves %s" % self.prefix)
            return self.presence["member"]

    def request(self, op, rid, timeout=60, **fields):
        """Sends (and re-sends every 250 ms) until answered; the answer's time and body."""
        req = dict(v=1, op=op, id=rid, resource="bench/failover", **fields)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.c.publish("%s/req/%s" % (self.prefix, self.node), json.dumps(req), qos=1)
            until = time.monotonic() + 0.25
            with self.cv:
                while time.monotonic() < until:
                    for t, a in self.answers:
                        if a.get("id") == rid:
                            return t, a
                    self.cv.wait(0.02)
        raise SystemExit("no answer to %s %s" % (op, rid))


def pct(v, q):
    s = sorted(v)
    return s[min(len(s) - 1, int(q * len(s)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--coord")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir")
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--prefix", default="bench/gfo")
    ap.add_argument("--which-leader", action="store_true")
    a = ap.parse_args()
    if a.which_leader:
        w = Watch(a.port, a.prefix, "bench-which-" + uuid.uuid4().hex[:6])
        print(w.serving())
        return 0
    peers = ",".join("%d=127.0.0.1:%d" % (i, free_port()) for i in (1, 2, 3))
    procs = {}

    def start(i):
        procs[i] = subprocess.Popen(
            [a.coord, "--broker", "tcp://127.0.0.1:%d" % a.port, "--prefix", a.prefix, "--client-id",
             "bench-gfo", "--member", str(i), "--peers", peers, "--state", os.path.join(a.dir, "gfo-%d.db" % i),
             "--log-file", os.path.join(a.dir, "gfo-%d.log" % i)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    try:
        for i in (1, 2, 3):
            start(i)
        w = Watch(a.port, a.prefix, "bench-probe")
        times, k = [], 0
        while len(times) < a.kills:
            lead = w.serving()
            # a served cycle first: the group is up and the probe is known
            _, g = w.request("acquire", "a%d" % k, mode="mutex", lease_ms=5000)
            w.request("release", "r%d" % k, token=g["token"], success=True)
            # every member follows again before the next kill
            end = time.monotonic() + 60
            while time.monotonic() < end and not all(
                    w.health.get(i, {}).get("online") and w.health[i].get("leader") == lead for i in (1, 2, 3)):
                time.sleep(0.05)
            t0 = time.monotonic()
            os.kill(procs[lead].pid, signal.SIGKILL)
            procs[lead].wait()
            t, g = w.request("acquire", "b%d" % k, mode="mutex", lease_ms=5000)
            times.append(t - t0)
            w.request("release", "s%d" % k, token=g["token"], success=True)
            start(lead)
            k += 1
        print("| group failover, SIGKILL of the leader to the next grant (s) | p50 | p90 | p99 | max | kills |")
        print("|---|---|---|---|---|---|")
        print("| 3 members, --election-timeout 300ms --heartbeat 50ms | %.3f | %.3f | %.3f | %.3f | %d |"
              % (pct(times, 0.5), pct(times, 0.9), pct(times, 0.99), max(times), len(times)))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
