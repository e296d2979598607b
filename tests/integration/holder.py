"""The command a fault test runs under `baton run`: it logs its own holding.

    holder.py LOG HOLD_MS [FAIL_PERCENT] [SERVER_PORT]

Appends one JSON line to LOG when it starts ("start") and when it ends
("end", or "term" when `baton run` stopped it because the lock was lost),
with time.monotonic() (CLOCK_MONOTONIC: comparable between the processes of
one machine), the resource, node and fencing token from the environment
`baton run` gives it. With SERVER_PORT it writes to the test's fencing
resource server (faultkit.ResourceServer) every 100 ms while it holds, and
once more when it is stopped (a process flushing its buffers on SIGTERM is
exactly the late write fencing tokens exist to refuse). Exits 0, or 1 when
it draws a failure (FAIL_PERCENT), so once-mode locks hand off.
"""
import json
import os
import random
import signal
import socket
import sys
import time

LOG, HOLD_MS = sys.argv[1], int(sys.argv[2])
FAIL = int(sys.argv[3]) if len(sys.argv) > 3 else 0
PORT = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "0" else 0
RES, TOKEN, NODE = os.environ["BATON_RESOURCE"], int(os.environ["BATON_TOKEN"]), os.environ["BATON_NODE"]


def log(ev, **kw):
    rec = {"ev": ev, "t": time.monotonic(), "res": RES, "token": TOKEN, "node": NODE, "pid": os.getpid()}
    rec.update(kw)
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(rec) + "\n").encode())  # one write: lines never interleave
    finally:
        os.close(fd)


def write(tag):
    if not PORT:
        return None
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as s:
        s.sendall(("W %s %d %s %s\n" % (RES, TOKEN, NODE, tag)).encode())
        return s.makefile().readline().strip()


def on_term(sig, frame):
    t = time.monotonic()
    answer = write("late")
    log("term", t_sig=t, write=answer)
    os._exit(143)


signal.signal(signal.SIGTERM, on_term)
log("start")
end = time.monotonic() + HOLD_MS / 1000.0
while True:
    write("work")
    left = end - time.monotonic()
    if left <= 0:
        break
    time.sleep(min(0.1, left))
ok = random.randrange(100) >= FAIL
log("end", ok=ok)
sys.exit(0 if ok else 1)
