"""Checks docker-compose.yml, the Dockerfile and deploy/compose/ without a Docker engine.

1. `docker-compose -f docker-compose.yml config -q` (Debian's docker-compose,
   installed by scripts/install-deps) validates the file; without it the file
   is only parsed with python3-yaml, and the test says so.
2. The shape the README and docs promise: a broker from eclipse-mosquitto:2
   with the config, password file and ACL of deploy/compose/, a coordinator
   built by ./Dockerfile (two stages on debian:12) with its state on a named
   volume and a healthcheck on its retained presence, three agents; every
   file a service mounts exists.
3. The compose broker's own config, password file and ACL, run with Debian's
   mosquitto on a free loopback port: the coordinator and three `baton run`
   agents log in with the compose passwords and play the story (so the ACL
   lets the protocol through), a node cannot send requests as another node,
   and the coordinator's healthcheck command passes.
"""
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402

COMPOSE_DIR = os.path.join(SRC, "deploy", "compose")


def validate_with_docker_compose():
    exe = shutil.which("docker-compose")
    if exe is None:
        print("docker-compose not installed: validating with python3-yaml only")
        return False
    r = subprocess.run([exe, "-f", "docker-compose.yml", "config", "-q"], cwd=SRC, capture_output=True, text=True)
    assert r.returncode == 0, "docker-compose config failed:\n%s%s" % (r.stdout, r.stderr)
    print("docker-compose config: valid")
    return True


def check_shape():
    import yaml
    with open(os.path.join(SRC, "docker-compose.yml"), encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    svc = doc["services"]
    assert set(svc) >= {"broker", "coordinator", "agent-a", "agent-b", "agent-c"}, sorted(svc)
    assert svc["broker"]["image"].startswith("eclipse-mosquitto:2"), svc["broker"]["image"]
    coord = svc["coordinator"]
    assert coord["build"] in (".", {"context": "."}), coord["build"]
    state_mounts = [v for v in coord["volumes"] if v.endswith(":/var/lib/baton")]
    assert state_mounts and state_mounts[0].split(":")[0] in doc["volumes"], "state must be on a named volume"
    hc = " ".join(coord["healthcheck"]["test"])
    for piece in ("mosquitto_sub", "-C 1", "-W 5", "-t baton/v1/coordinator", "grep", '"online":true'):
        assert piece in hc, "coordinator healthcheck lacks %r: %s" % (piece, hc)
    for name, s in svc.items():
        for v in s.get("volumes", []):
            host = v.split(":")[0]
            if host.startswith("."):
                assert os.path.exists(os.path.join(SRC, host)), "%s mounts missing %s" % (name, host)
    for n in "abc":
        cmd = " ".join(svc["agent-" + n]["command"])
        assert re.search(r"\bbaton\b.*\brun\b", cmd), cmd
        assert "--node=%s" % n in cmd and "--resource=demo/nginx" in cmd, cmd
    with open(os.path.join(SRC, "Dockerfile"), encoding="utf-8") as f:
        dockerfile = f.read()
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert len(froms) == 2 and all(f == "debian:12" for f in froms), froms
    check_debian_packages(dockerfile)


def check_debian_packages(dockerfile):
    """Every package the Dockerfile installs is one Debian 12 knows (when apt's lists are here)."""
    pkgs = []
    joined = dockerfile.replace("\\\n", " ")
    for line in joined.split("\n"):
        for seg in line.split("&&"):
            words = seg.split()
            if "apt-get" in words and "install" in words:
                pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    assert pkgs, "no apt-get install found in the Dockerfile"
    known = subprocess.run(["apt-cache", "show", "--no-all-versions", "libc6"], capture_output=True)
    if known.returncode != 0:
        print("apt-cache has no package lists: not checking the Dockerfile's package names")
        return
    missing = [p for p in pkgs if subprocess.run(["apt-cache", "show", "--no-all-versions", p],
                                                 capture_output=True).returncode != 0]
    assert not missing, "Dockerfile installs packages Debian does not know: %s" % missing
    print("Dockerfile packages known to apt: %s" % " ".join(sorted(set(pkgs))))


class ComposeBroker(harness.Broker):
    """Debian's mosquitto with deploy/compose/mosquitto.conf, its passwd and its ACL."""

    def _write_conf(self):
        with open(os.path.join(COMPOSE_DIR, "mosquitto.conf"), encoding="utf-8") as f:
            conf = f.read()
        conf = re.sub(r"^listener .*$", "listener %d 127.0.0.1" % self.port, conf, flags=re.M)
        conf = conf.replace("/mosquitto/config/", COMPOSE_DIR + "/")
        conf = re.sub(r"^persistence .*$", "persistence false", conf, flags=re.M)
        conf = conf.replace("/mosquitto/data/", self.dir + "/")
        conf = re.sub(r"^log_dest .*$", "log_dest file %s" % self.log_path, conf, flags=re.M)
        path = os.path.join(self.dir, "mosquitto.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path


def secret(user):
    return os.path.join(COMPOSE_DIR, "secrets", user + ".password")


def password(user):
    with open(secret(user)) as f:
        return f.read().strip()


def run_story():
    baton = os.path.join(harness.BUILD_DIR, "agent", "baton")
    with ComposeBroker() as broker:
        env = dict(os.environ, BATON_BROKER=broker.uri)
        # Started by hand: the harness's watcher would connect anonymously,
        # which this broker refuses. Ready when the healthcheck's command passes.
        log_path = os.path.join(broker.dir, "coordinator.log")
        coord = subprocess.Popen([os.path.join(harness.BUILD_DIR, "coordinator", "baton-coordinator"),
                                  "--broker", broker.uri, "--state", ":memory:", "--username", "baton-coordinator",
                                  "--password-file", secret("baton-coordinator"), "--log-file", log_path])

        def coord_log():
            with open(log_path, errors="replace") as f:
                return f.read()[-4000:]
        try:
            health = ["mosquitto_sub", "-p", str(broker.port), "-u", "observer", "-P", password("observer"),
                      "-C", "1", "-W", "5", "-t", "baton/v1/coordinator"]
            end = time.monotonic() + harness.DEADLINE * 3
            while True:
                out = subprocess.run(health, capture_output=True, text=True).stdout
                if '"online":true' in out:
                    break
                assert time.monotonic() < end, "healthcheck never passed:\n" + coord_log()
                time.sleep(0.2)
            print("healthcheck: %s" % out.strip())
            watch = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-u", "observer", "-P",
                                      password("observer"), "-v", "-t", "baton/v1/#"], stdout=subprocess.PIPE,
                                     text=True)
            try:
                agents = {}

                def start(n, script):
                    agents[n] = subprocess.Popen(
                        [baton, "run", "--node", n, "--username", n, "--password-file", secret(n),
                         "--resource", "demo/nginx", "--share-output", "--", "sh", "-c", script],
                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

                def wait_state(pat):
                    end = time.monotonic() + harness.DEADLINE * 3
                    while True:
                        out = subprocess.run(health[:-1] + ["baton/v1/state/demo/nginx", "-W", "2"],
                                             capture_output=True, text=True).stdout
                        if re.search(pat, out):
                            return
                        assert time.monotonic() < end, "state never matched %s: %s" % (pat, out)
                        time.sleep(0.1)

                start("a", 'echo pulling; sleep 2; echo "error: registry timeout" >&2; exit 1')
                wait_state(r'"holder":"a"')
                start("b", 'echo "pulled nginx sha256:4c0fdaa8b634"')
                wait_state(r'"waiting":\["b"\]')
                start("c", 'echo "this never runs"; exit 1')
                res = {}
                for n, p in agents.items():
                    out, err = p.communicate(timeout=harness.DEADLINE * 3)
                    res[n] = (p.returncode, out, err)
                print(res)
                assert res["a"][0] == 1, res["a"]
                assert res["b"][0] == 0 and "taking over" in res["b"][2], res["b"]
                assert res["c"][0] == 0 and "pulled nginx sha256:4c0fdaa8b634" in res["c"][1], res["c"]

                # Node a, logged in as a, cannot send a request as node b: the
                # broker drops it, so the coordinator never answers on grant/b.
                rr = subprocess.run(["mosquitto_rr", "-p", str(broker.port), "-i", "a", "-u", "a", "-P",
                                     password("a"), "-q", "1", "-W", "3", "-t", "baton/v1/req/b", "-e",
                                     "baton/v1/grant/b", "-m",
                                     '{"v":1,"op":"acquire","id":"spoof","resource":"demo/spoof"}'],
                                    capture_output=True, text=True)
                assert "granted" not in rr.stdout, "the ACL let node a act as b: %s" % rr.stdout
            finally:
                watch.terminate()
                wire = watch.communicate(timeout=20)[0]
            assert '"id":"spoof"' not in wire, "the spoofed request reached the wire:\n" + wire
            assert "baton/v1/outcome/demo/nginx" in wire
        finally:
            rc = harness._stop_pid(coord)
        assert rc == 0, "coordinator exited %s:\n%s" % (rc, coord_log())
    print("compose broker config: passwords and ACL carry the story; a node cannot act for another")


def main():
    validate_with_docker_compose()
    check_shape()
    run_story()


if __name__ == "__main__":
    main()
