"""Security (issue 7): the shipped ACL and password file stop one node from
acting for another; TLS with a throwaway CA (server and client
certificates) carries a whole lock cycle; a wrong CA is refused with a clear
message; secrets never reach the coordinator's log.

The broker config is the authenticated block of deploy/mosquitto.conf (its
'#@ ' lines) with the test's port, password file, deploy/acl and
certificates made here with openssl and mosquitto_passwd.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from faultkit import AgentRun, BareCoordinator, ConfBroker, run_cmd  # noqa: E402
from harness import BUILD_DIR, Node, wait_until  # noqa: E402
from history import Recorder, read_holder_log  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY_CONF = os.path.join(SRC, "deploy", "mosquitto.conf")
DEPLOY_ACL = os.path.join(SRC, "deploy", "acl")
PREFIX = "baton/v1"  # the ACL is written for the default prefix
PASSWORDS = {"baton-coordinator": "c0ord-S3cret-xyzzy", "observer": "obs-pw-1", "n1": "pw-n1-q", "n2": "pw-n2-r"}


def sh(*cmd, cwd=None):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=baton test %s" % name)
    return key, crt


def make_cert(d, name, ca, server, names="IP:127.0.0.1,DNS:localhost"):
    key, csr, crt = (os.path.join(d, name + x) for x in (".key", ".csr", ".crt"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % names if server else "extendedKeyUsage=clientAuth\n")
    sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", key, "-out", csr, "-subj", "/CN=%s" % name)
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial", "-out", crt,
       "-days", "2", "-extfile", ext)
    return crt, key


class Pki:
    """A throwaway CA with a server and a client certificate, a server
    certificate signed by it that names only localhost (not 127.0.0.1), and
    a second, unrelated CA (the wrong one)."""

    def __init__(self, d):
        self.ca = make_ca(d, "ca")
        self.server = make_cert(d, "server", self.ca, True)
        self.localhost_only = make_cert(d, "localhost-only", self.ca, True, names="DNS:localhost")
        self.client = make_cert(d, "client", self.ca, False)
        self.wrong_ca = make_ca(d, "wrong-ca")
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)  # mosquitto runs as its own user


def secured_block():
    with open(DEPLOY_CONF) as f:
        lines = [ln[3:].rstrip("\n") for ln in f if ln.startswith("#@ ")]
    assert lines, "deploy/mosquitto.conf has no '#@ ' block"
    return lines


def secured_conf(port, d, pki, pwfile, require_cert=False, server=None):
    server = server or pki.server
    out = []
    for ln in secured_block():
        k = ln.split()[0]
        v = {"listener": "listener %d 127.0.0.1" % port, "password_file": "password_file " + pwfile,
             "acl_file": "acl_file " + DEPLOY_ACL, "certfile": "certfile " + server[0],
             "keyfile": "keyfile " + server[1], "cafile": "cafile " + pki.ca[1]}.get(k, ln)
        if require_cert and k == "use_username_as_clientid":
            continue  # certificates without use_identity_as_username carry no user name
        out.append(v)
    if require_cert:
        out.append("require_certificate true")
    out += ["set_tcp_nodelay true", "max_queued_messages 1000000", "max_inflight_messages 0", "persistence false",
            "log_type all"]
    return "\n".join(out) + "\n"


def make_passwd(d):
    path = os.path.join(d, "passwd")
    first = True
    for user, pw in PASSWORDS.items():
        sh("mosquitto_passwd", "-b", *(["-c"] if first else []), path, user, pw)
        first = False
    os.chmod(path, 0o644)
    pwf = {}
    for user, pw in PASSWORDS.items():
        pwf[user] = os.path.join(d, user + ".password")
        with open(pwf[user], "w") as f:
            f.write(pw + "\n")
    return path, pwf


class Security(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-sec-")
        os.chmod(self.dir, 0o755)
        self.pki = Pki(self.dir)
        self.cleanup = []

    def tearDown(self):
        for fn in reversed(self.cleanup):
            fn()

    def broker(self, conf_fn):
        b = ConfBroker(conf_fn)
        os.chmod(b.dir, 0o777)
        b.start()
        self.cleanup.append(lambda: b.__exit__(None, None, None))
        return b

    def coordinator(self, broker, args, client_id="baton-coordinator", wait_with=None):
        c = BareCoordinator(broker, PREFIX, client_id=client_id,
                        args=["--broker", "ssl://127.0.0.1:%d" % broker.port] + args)
        t0 = time.monotonic()
        c.start()
        self.cleanup.append(lambda: c.proc is not None and c.stop())
        if wait_with is not None:
            wait_with.wait(lambda e: e[0] >= t0 and e[1] == PREFIX + "/coordinator" and e[2]
                           and json.loads(e[2]).get("online") is True, timeout=30, what="coordinator online")
        return c

    def as_shipped(self):
        """The authenticated broker as shipped, an observer's recorder and the
        coordinator: (broker, password files, tls, recorder, coordinator)."""
        pwfile, pw = make_passwd(self.dir)
        b = self.broker(lambda port, d: secured_conf(port, d, self.pki, pwfile))
        tls = (self.pki.ca[1], None, None)
        rec = Recorder(b, PREFIX, client_kw={"username_pw_set": ("observer", PASSWORDS["observer"]),
                                             "tls_set": tls})
        self.cleanup.append(rec.close)
        coord = self.coordinator(b, ["--cafile", self.pki.ca[1], "--username", "baton-coordinator",
                                     "--password-file", pw["baton-coordinator"]], wait_with=rec)
        return b, pw, tls, rec, coord

    # ------------------------------------------------------------------------

    def test_acl_node_cannot_act_for_another_nor_read_its_grants(self):
        b, pw, tls, rec, coord = self.as_shipped()
        n1 = Node(b, PREFIX, "n1", username="n1", password=PASSWORDS["n1"], tls=tls)
        n2 = Node(b, PREFIX, "n2", username="n2", password=PASSWORDS["n2"], tls=tls)
        self.cleanup += [n1.close, n2.close]
        g = n2.request("acquire", "sec/r1", mode="mutex", lease_ms=60000)
        self.assertEqual(g["status"], "granted")
        # n1 listens on n2's grant topic (mosquitto accepts the SUBSCRIBE and
        # filters every message by the read ACL) and forges n2's release.
        n1.subscribe(PREFIX + "/grant/n2")
        n1.publish(PREFIX + "/req/n2", {"v": 1, "op": "release", "id": "forged", "resource": "sec/r1",
                                        "token": g["token"], "success": True})
        # Nothing happened: n2 still holds (its renew is accepted) ...
        r = n2.request("renew", "sec/r1", token=g["token"])
        self.assertEqual((r["status"], r["token"]), ("renewed", g["token"]))
        # ... and n1 answers later than n2's renew on its own topic, so had it
        # been allowed to read n2's answers, they would be here by now.
        own = n1.request("release", "sec/r1", token=g["token"], success=True)
        self.assertEqual((own["status"], own["code"]), ("rejected", "not_holder"))
        self.assertEqual([m for m in n1.msgs if m[1] == PREFIX + "/grant/n2"], [])
        reqs = [x for _, node, x in rec.records("req")]
        self.assertNotIn("forged", [x.get("id") for x in reqs], "the broker let the forged request through")
        self.assertFalse([x for _, _, x in rec.records("outcome")], "a holding ended")
        self.assertNotIn("forged", coord.log())
        # the password never reaches the log, not even at debug level
        for secret in PASSWORDS.values():
            self.assertNotIn(secret, coord.log())
        self.assertIn("debug", coord.log())

    def test_acl_only_the_coordinators_user_asks_for_membership_changes(self):
        """Membership requests (P/coordinator/admin/req/<asker>) are under
        the coordinator's own topics: as shipped, a node's user cannot write
        them (the broker drops it), the coordinator's user can."""
        b, pw, tls, rec, _ = self.as_shipped()
        n1 = Node(b, PREFIX, "n1", username="n1", password=PASSWORDS["n1"], tls=tls)
        self.cleanup.append(n1.close)
        n1.publish(PREFIX + "/coordinator/admin/req/n1", {"v": 1, "op": "remove", "id": "forged", "member": 1})
        cmd = [os.path.join(BUILD_DIR, "coordinator", "baton-coordinator"), "member", "remove", "9",
               "--wait", "1s", "--broker", "ssl://127.0.0.1:%d" % b.port, "--prefix", PREFIX,
               "--cafile", self.pki.ca[1], "--username", "baton-coordinator",
               "--password-file", pw["baton-coordinator"]]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 69, p.stderr)  # a single coordinator: nobody answers
        self.assertIn("no answer", p.stderr)
        m = rec.wait(lambda e: "/coordinator/admin/req/" in e[1], timeout=30, what="the coordinator's request")
        self.assertEqual(json.loads(m[2])["member"], 9)
        self.assertNotIn(b"forged", b"".join(e[2] for e in rec.events), "the broker let a node's request through")

    def test_acl_as_shipped_refuses_acting_as_another_node_in_words(self):
        """As shipped (deploy/acl's %u patterns, use_username_as_clientid in
        deploy/mosquitto.conf): `baton run` as user n1 with --node n2 stops at
        once with exit 77 and "not authorized: user n1 may not act as node
        n2" (not "no answer from the coordinator"); a client of user n1 that
        connects with client id n2 does not take over n2's session, so n2
        keeps its lock; n1 acting as itself runs its command."""
        self.assertIn("use_username_as_clientid true", secured_block())
        b, pw, tls, rec, _ = self.as_shipped()
        uri = "ssl://127.0.0.1:%d" % b.port
        n2 = Node(b, PREFIX, "n2", username="n2", password=PASSWORDS["n2"], tls=tls)
        self.cleanup.append(n2.close)
        g = n2.request("acquire", "sec/r2", mode="mutex", lease_ms=60000)
        self.assertEqual(g["status"], "granted")
        log = os.path.join(self.dir, "h.log")
        as_n1 = ["--cafile", self.pki.ca[1], "--username", "n1", "--password-file", pw["n1"]]
        # 1. acting as another node: refused in words
        other = AgentRun(run_cmd(uri, PREFIX, "n2", "sec/r2", log, extra=as_n1 + ["--wait", "30s"]))
        self.cleanup.append(other.stop)
        self.assertEqual(other.wait(60), 77, other.err)
        err = other.err.decode()
        print("\nbaton run --username n1 --node n2: %s" % err.strip().splitlines()[-1])
        self.assertIn("not authorized: user n1 may not act as node n2", err)
        self.assertNotIn("no answer from the coordinator", err)
        self.assertEqual(read_holder_log(log), [])
        # 2. taking over n2's session with its client id: the broker names
        # the connection after its user, so n2 stays connected and holding
        thief = Node(b, PREFIX, "n2", username="n1", password=PASSWORDS["n1"], tls=tls)
        self.cleanup.append(thief.close)
        r = n2.request("renew", "sec/r2", token=g["token"])
        self.assertEqual((r["status"], r["token"]), ("renewed", g["token"]))
        thief.close()
        r = n2.request("renew", "sec/r2", token=g["token"])
        self.assertEqual((r["status"], r["token"]), ("renewed", g["token"]))
        offline = [x for _, n, x in rec.records("node") if n == "n2" and x and x.get("online") is False]
        self.assertEqual(offline, [], "n2 was cut off (its Will fired)")
        self.assertFalse([x for _, _, x in rec.records("outcome")], "a holding ended")
        # 3. acting as itself works as shipped
        own = AgentRun(run_cmd(uri, PREFIX, "n1", "sec/r3", log, hold_ms=100, extra=as_n1))
        self.cleanup.append(own.stop)
        self.assertEqual(own.wait(60), 0, own.err)
        self.assertEqual([h["node"] for h in read_holder_log(log)], ["n1"])

    def test_wrong_password_is_refused_clearly_and_not_logged(self):
        pwfile, pw = make_passwd(self.dir)
        b = self.broker(lambda port, d: secured_conf(port, d, self.pki, pwfile))
        bad = os.path.join(self.dir, "wrong.password")
        with open(bad, "w") as f:
            f.write("not-the-password-4711\n")
        coord = self.coordinator(b, ["--cafile", self.pki.ca[1], "--username", "baton-coordinator",
                                     "--password-file", bad])
        rc = coord.proc.wait(30)
        log = coord.log()
        self.assertNotEqual(rc, 0)
        # mosquitto 2.0.11 answers a wrong password with CONNACK 5
        self.assertIn("broker refused us; check --username/--password-file", log)
        self.assertIn("not authorized: the broker refused the connection (CONNACK 5", log)
        self.assertIn("--username 'baton-coordinator'", log)
        self.assertNotIn("not-the-password-4711", log)
        coord.proc = None
        coord.logf.close()

    def test_tls_client_certificates_carry_a_lock_cycle(self):
        b = self.broker(lambda port, d: secured_conf(port, d, self.pki, "", require_cert=True)
                        .replace("password_file \n", "").replace("allow_anonymous false", "allow_anonymous true")
                        .replace("acl_file " + DEPLOY_ACL, ""))
        tls = (self.pki.ca[1], self.pki.client[0], self.pki.client[1])
        rec = Recorder(b, PREFIX, client_kw={"tls_set": tls})
        self.cleanup.append(rec.close)
        certs = ["--cafile", self.pki.ca[1], "--cert", self.pki.client[0], "--key", self.pki.client[1]]
        self.coordinator(b, certs, wait_with=rec)
        log = os.path.join(self.dir, "holders.log")
        uri = "ssl://127.0.0.1:%d" % b.port
        runs = [AgentRun(run_cmd(uri, PREFIX, "tls-%d" % i, "tls/r1", log, hold_ms=100, extra=certs))
                for i in range(2)]
        for r in runs:
            self.cleanup.append(r.stop)
        for r in runs:
            self.assertEqual(r.wait(60), 0, r.err)
        hs = read_holder_log(log)
        self.assertEqual(len(hs), 2)
        self.assertLess(hs[0]["end"], hs[1]["start"])
        # without a client certificate the broker refuses the agent
        nocert = AgentRun(run_cmd(uri, PREFIX, "tls-x", "tls/r1", log, extra=certs[:2]))
        self.cleanup.append(nocert.stop)
        self.assertEqual(nocert.wait(60), 69, nocert.err)

    def anonymous_tls_broker(self, server=None, extra=""):
        """The shipped TLS listener without passwords or ACL (nor
        use_username_as_clientid, which refuses a client without a user
        name); server is the certificate it shows, extra more config lines."""
        return self.broker(lambda port, d: secured_conf(port, d, self.pki, "", server=server)
                           .replace("password_file \n", "").replace("allow_anonymous false", "allow_anonymous true")
                           .replace("acl_file " + DEPLOY_ACL, "").replace("use_username_as_clientid true\n", "")
                           + extra)

    def wrong_ca(self):
        b = self.anonymous_tls_broker()
        coord = self.coordinator(b, ["--cafile", self.pki.wrong_ca[1]])
        wait_until(lambda: re.search(r"cannot reach the broker", coord.log()), timeout=30,
                   what="a connect failure in the coordinator's log")
        self.assertIsNone(coord.proc.poll(), "the coordinator keeps retrying")
        log = coord.log()
        coord.stop(signal.SIGTERM)
        a = AgentRun(run_cmd("ssl://127.0.0.1:%d" % b.port, PREFIX, "ca-x", "tls/r2",
                             os.path.join(self.dir, "h.log"), extra=["--cafile", self.pki.wrong_ca[1]]))
        self.cleanup.append(a.stop)
        self.assertEqual(a.wait(60), 69, a.err)
        return log, a.err.decode()

    def test_tls_wrong_ca_is_refused(self):
        """The coordinator keeps retrying and says it cannot connect; the
        agent gives up with exit 69 (no lock cycle happens)."""
        log, err = self.wrong_ca()
        print("\ncoordinator, wrong CA: %s" % [ln for ln in log.splitlines() if "reach" in ln][:1])
        print("agent, wrong CA: %s" % err.strip().splitlines()[-1:])
        # both programs say it in the same words (edge/mqttwords.c, issue 17)
        self.assertIn("TLS handshake with ssl://127.0.0.1", log)
        self.assertIn("TLS handshake with ssl://127.0.0.1", err)
        self.assertIn("--cafile", err)

    # Fixed: both programs set MQTTAsync_SSLOptions.ssl_error_cb, so a wrong
    # CA is told apart from a broker that is down by OpenSSL's own words.
    def test_tls_wrong_ca_message_names_the_certificate(self):
        log, err = self.wrong_ca()
        self.assertRegex(log, r"(?i)certificate verify failed")
        self.assertRegex(err, r"(?i)certificate verify failed")


    def test_tls_agent_refuses_a_certificate_for_another_host(self):
        """The agent checks that the broker's certificate names the host in
        --broker, as the coordinator does (edge/mqttedge.c, one policy): a
        certificate signed by the right CA that names only localhost is
        refused for ssl://127.0.0.1 in words that say so, and no command
        runs; the same broker as ssl://localhost is accepted."""
        b = self.anonymous_tls_broker(server=self.pki.localhost_only)
        log = os.path.join(self.dir, "h.log")
        ca = ["--cafile", self.pki.ca[1]]
        a = AgentRun(run_cmd("ssl://127.0.0.1:%d" % b.port, PREFIX, "host-x", "tls/r4", log, extra=ca))
        self.cleanup.append(a.stop)
        self.assertEqual(a.wait(60), 69, a.err)
        err = a.err.decode()
        print("\nagent, certificate for another host: %s" % err.strip().splitlines()[-1:])
        self.assertIn("TLS handshake with ssl://127.0.0.1:%d failed: the broker's certificate does not name "
                      "127.0.0.1" % b.port, err)
        self.assertIn("localhost", err)  # the names it does carry
        self.assertEqual(read_holder_log(log), [])
        # the coordinator refuses it in the same words
        coord = self.coordinator(b, ca)
        wait_until(lambda: "does not name" in coord.log(), timeout=30, what="the coordinator's refusal")
        self.assertIsNone(coord.proc.poll(), "the coordinator keeps retrying")
        self.assertIn("the broker's certificate does not name 127.0.0.1", coord.log())
        coord.stop(signal.SIGTERM)
        # by the name the certificate carries, both connect and a lock cycle runs
        # (the test's observer connects to 127.0.0.1: it skips the name check)
        rec = Recorder(b, PREFIX, client_kw={"tls_set": (self.pki.ca[1], None, None), "tls_insecure_set": (True,)})
        self.cleanup.append(rec.close)
        uri = "ssl://localhost:%d" % b.port
        c = BareCoordinator(b, PREFIX, args=["--broker", uri] + ca)
        t0 = time.monotonic()
        c.start()
        self.cleanup.append(lambda: c.proc is not None and c.stop())
        rec.wait(lambda e: e[0] >= t0 and e[1] == PREFIX + "/coordinator" and e[2]
                 and json.loads(e[2]).get("online") is True, timeout=30, what="coordinator online")
        ok = AgentRun(run_cmd(uri, PREFIX, "host-ok", "tls/r4", log, hold_ms=50, extra=ca))
        self.cleanup.append(ok.stop)
        self.assertEqual(ok.wait(60), 0, ok.err)
        self.assertEqual([h["node"] for h in read_holder_log(log)], ["host-ok"])

    def test_tls_1_3_only_broker_carries_a_lock_cycle(self):
        """A broker set to `tls_version tlsv1.3` (TLS 1.3 and later only):
        both programs take the library's default range (TLS 1.2 and later),
        so both connect and a lock cycle runs. It guards the documented
        range: the agent's old TLS 1.2 pin passed it too, because paho 1.3.12
        on OpenSSL 1.1 and later ignores sslVersion (TLS_client_method)."""
        b = self.anonymous_tls_broker(extra="tls_version tlsv1.3\n")
        tls = (self.pki.ca[1], None, None)
        rec = Recorder(b, PREFIX, client_kw={"tls_set": tls})
        self.cleanup.append(rec.close)
        ca = ["--cafile", self.pki.ca[1]]
        self.coordinator(b, ca, wait_with=rec)
        log = os.path.join(self.dir, "h.log")
        a = AgentRun(run_cmd("ssl://127.0.0.1:%d" % b.port, PREFIX, "tls13", "tls/r5", log, hold_ms=50, extra=ca))
        self.cleanup.append(a.stop)
        self.assertEqual(a.wait(60), 0, a.err)
        self.assertEqual([h["node"] for h in read_holder_log(log)], ["tls13"])
        # and the broker did refuse TLS 1.2, so TLS 1.3 is what carried it
        r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % b.port, "-tls1_2",
                            "-CAfile", self.pki.ca[1]], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stdout[-500:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
