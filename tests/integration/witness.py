"""The command the chaos test (test_chaos_run.py) runs under `baton run`:
it writes heartbeats with timestamps to one witness file shared by every
node, so a checker can prove that no two holders ran at the same time.

    witness.py FILE HOLD_MS [stubborn]

Every 50 ms it appends one line, in one write(2) so lines never interleave:
    hb <node> <token> <pid> <role> <time.monotonic()>
(CLOCK_MONOTONIC: comparable between the processes of one machine) and ends
after HOLD_MS with exit 0. "stubborn" makes it the worst command a lock can
guard: it ignores SIGTERM and forks two grandchildren that beat forever and
ignore SIGTERM too, one in its process group and one that leaves it
(setsid), so that only SIGKILL of every descendant ends them.
"""
import os
import signal
import sys
import time

FILE, HOLD_MS = sys.argv[1], int(sys.argv[2])
STUBBORN = len(sys.argv) > 3 and sys.argv[3] == "stubborn"
NODE, TOKEN = os.environ["BATON_NODE"], os.environ["BATON_TOKEN"]


def beat(role):
    line = "hb %s %s %d %s %.6f\n" % (NODE, TOKEN, os.getpid(), role, time.monotonic())
    fd = os.open(FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def forever(role):
    while True:
        beat(role)
        time.sleep(0.05)


if STUBBORN:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for role in ("grandchild", "escaped"):
        if os.fork() == 0:
            if role == "escaped":
                os.setsid()  # out of the command's process group and session
            try:
                forever(role)
            finally:
                os._exit(0)
end = time.monotonic() + HOLD_MS / 1000.0
while True:
    beat("command")
    left = end - time.monotonic()
    if left <= 0:
        break
    time.sleep(min(0.05, left))
sys.exit(0)
