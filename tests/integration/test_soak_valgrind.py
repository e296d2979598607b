"""A valgrind soak of libbaton through connection cuts (issue 15 round's weak
spot: one "corrupted double-linked list" abort in about 660 `baton run`s).

soak_agent (two clients, two worker threads and a watch, acquiring,
holding, releasing, abandoning and cancelling mutex locks) runs under
valgrind memcheck behind tests/integration/tcpproxy.py; the test cuts every
connection of it many times, at seeded moments, sometimes refusing the
reconnects for a while, then stops it with SIGTERM. It passes when valgrind
reports no error (invalid reads or writes, uses of uninitialised values,
definitely or indirectly lost blocks) and the counts show the cycles and the
reconnects happened (each cut finds both clients ready, so it costs each a
connection).

No suppression file: paho 1.3.12's leak on repeated reconnects (upstream
#1689, MQTT-NOTES) did not show in this pattern (automatic reconnect, clean
session, MQTT 3.1.1, no persistence): every run ended with "All heap blocks
were freed". Should a paho-internal report appear, suppress it in a file
here that names it and its upstream issue (--gen-suppressions=all prints
the block), never by library-wide patterns.

Bounded: BATON_SOAK_CUTS cuts (default 12), each waited for with a deadline.
Seeded: BATON_SOAK_SEED (default random), printed.
"""
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD_DIR, Broker, Coordinator, unique_prefix, wait_until  # noqa: E402
from tcpproxy import TcpProxy  # noqa: E402

CUTS = int(os.environ.get("BATON_SOAK_CUTS", "12"))
SEED = int(os.environ.get("BATON_SOAK_SEED", str(random.randrange(1 << 30))))


class Soak(unittest.TestCase):
    def test_libbaton_under_valgrind_through_cuts_is_clean(self):
        print("\nseed %d (BATON_SOAK_SEED=%d to repeat), %d cuts" % (SEED, SEED, CUTS))
        rng = random.Random(SEED)
        d = tempfile.mkdtemp(prefix="baton-soak-")
        vg_log, out_path = os.path.join(d, "valgrind.log"), os.path.join(d, "soak.out")
        with Broker() as b:
            prefix = unique_prefix("soak")
            coord = Coordinator(b, prefix).start()
            proxy = TcpProxy(b.port)
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect", "--gen-suppressions=all", "--log-file=" + vg_log,
                   os.path.join(BUILD_DIR, "tests", "soak_agent"), proxy.uri, prefix, "soak", str(SEED)]
            with open(out_path, "wb") as out:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            try:
                wait_until(lambda: "ready" in self.read(out_path) or proc.poll() is not None, timeout=120,
                           what="soak_agent connected")
                self.assertIsNone(proc.poll(), self.read(out_path))
                for i in range(CUTS):
                    # both clients saw the last cut and are connected and ready again
                    wait_until(lambda: self.downs(out_path) >= 2 * i and self.up(out_path) >= 2
                               or proc.poll() is not None, timeout=60, what="both clients ready before cut %d" % i)
                    self.assertIsNone(proc.poll(), self.read(out_path))
                    # Traffic between cuts, and how long reconnects are
                    # refused: the chaos schedule, from the seed.
                    time.sleep(rng.uniform(0.2, 2.0))
                    proxy.cut()
                    time.sleep(rng.choice([0, 0, rng.uniform(0.5, 2.5)]))
                    proxy.resume()
                wait_until(lambda: self.downs(out_path) >= 2 * CUTS and self.up(out_path) >= 2, timeout=60,
                           what="both clients back after the last cut")
                time.sleep(rng.uniform(0.5, 1.5))  # some cycles on the healed connections
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    rc = proc.wait(120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    rc = proc.wait()
                proxy.stop()
                coord.stop()
        out, vg = self.read(out_path), self.read(vg_log)
        print(out.strip().splitlines()[-1] if out.strip() else "(no output)")
        print("\n".join(ln for ln in vg.splitlines() if re.search(r"ERROR SUMMARY|definitely lost|suppressed:", ln)))
        self.assertEqual(rc, 0, "soak_agent exited %s (99: valgrind found errors):\n%s\n%s" % (rc, out, vg[-8000:]))
        self.assertIn("ERROR SUMMARY: 0 errors", vg, vg[-8000:])
        counts = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", out.strip().splitlines()[-1]))
        # every cut found both clients ready, so each cut cost both a connection
        self.assertGreaterEqual(counts["losses"], 2 * CUTS, "fewer connection losses than cuts: %s" % out)
        self.assertGreater(counts["granted"], CUTS, out)
        self.assertGreater(counts["released"] + counts["abandoned"], 0, out)

    @classmethod
    def downs(cls, out_path):
        """How many connections soak_agent's clients have lost so far."""
        return cls.read(out_path).count("; reconnecting")

    @classmethod
    def up(cls, out_path):
        """How many of soak_agent's clients are connected and ready now."""
        out = cls.read(out_path)
        return out.count("log: connected to ") - out.count("; reconnecting")

    @staticmethod
    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


if __name__ == "__main__":
    unittest.main(verbosity=2)
