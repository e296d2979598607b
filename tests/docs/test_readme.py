"""Runs the README's runnable shell blocks, as written, against a private broker.

A fenced ```sh block is runnable when the line before it is an HTML comment

    <!-- runnable[: KIND] [ready=TOPIC match=REGEX] [exit=N] [output=REGEX] -->

KIND is one of
    run       (default) runs to completion; must exit N (default 0)
    daemon    a long-running process the reader leaves running in its own
              terminal (coordinator, watchers); stopped by PID at the end
    terminal  started in the background like a terminal of its own; every
              later `run` block first waits for all terminals to finish with
              their code N and, if given, stdout matching REGEX
A block with ready= is not considered started until a message on TOPIC whose
payload matches REGEX was seen on the broker (after the block started).

Each block runs with bash -e in a directory that looks like the repository
root (its entries are symlinks to the source tree, `build` points at the build
tree under test), with BATON_BROKER and MQTT_PORT naming the private broker
(and METRICS_PORT a free port for the coordinator's metrics),
exactly the variables the README tells readers to set for another broker.
Every process is stopped through the process group it was started in.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402

DEADLINE = 120.0  # seconds for any one block or condition (a terminal sleeps 15 s)

MARK = re.compile(r"^<!--\s*runnable(?::\s*(.*?))?\s*-->\s*$")


def parse_blocks(text):
    """Returns [(line number, options dict, script)] of the runnable blocks."""
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if not m:
            if lines[i].strip().lower().startswith("<!-- runnable"):
                raise AssertionError("README.md:%d: malformed runnable marker" % (i + 1))
            i += 1
            continue
        words = shlex.split(m.group(1) or "")
        opts = {"kind": "run", "exit": "0"}
        for w in words:
            if "=" in w:
                k, v = w.split("=", 1)
                opts[k] = v
            else:
                opts["kind"] = w
        assert opts["kind"] in ("run", "daemon", "terminal"), "README.md:%d: unknown kind %s" % (i + 1, opts["kind"])
        if i + 1 >= len(lines) or lines[i + 1].strip() not in ("```sh", "```bash"):
            raise AssertionError("README.md:%d: a runnable marker must stand right before a ```sh block" % (i + 1))
        j = i + 2
        body = []
        while j < len(lines) and lines[j].strip() != "```":
            body.append(lines[j])
            j += 1
        blocks.append((i + 2, opts, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def make_root(build_dir):
    """A directory that looks like the repository root, with build -> build_dir."""
    root = tempfile.mkdtemp(prefix="baton-readme-")
    for name in os.listdir(SRC):
        if name in ("build", ".git") or name.endswith(".db"):
            continue
        os.symlink(os.path.join(SRC, name), os.path.join(root, name))
    os.symlink(os.path.abspath(build_dir), os.path.join(root, "build"))
    return root


class Proc:
    def __init__(self, line, opts, script, cwd, env, logdir):
        self.line, self.opts, self.script = line, opts, script
        self.out_path = os.path.join(logdir, "block-%d.out" % line)
        self.err_path = os.path.join(logdir, "block-%d.err" % line)
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(["/bin/bash", "-e", "-c", script], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=self.out, stderr=self.err, start_new_session=True)

    def wait(self, timeout=DEADLINE):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("README.md:%d: block did not finish within %.0fs\n%s" %
                                 (self.line, timeout, self.report()))

    def stop(self):
        """Stops the block's own process group (it was started as its leader)."""
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        else:  # the leader is gone; anything it left behind in its group goes too
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        self.out.close()
        self.err.close()

    def stdout(self):
        self.out.flush()
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def report(self):
        self.err.flush()
        with open(self.err_path, "rb") as f:
            err = f.read().decode("utf-8", "replace")
        return "---- block at README.md:%d ----\n%s---- stdout ----\n%s---- stderr ----\n%s" % (
            self.line, self.script, self.stdout()[-4000:], err[-4000:])


def check_exit(proc, rc):
    want = int(proc.opts.get("exit", "0"))
    if rc != want:
        raise AssertionError("README.md:%d: exited %s, expected %d\n%s" % (proc.line, rc, want, proc.report()))
    pat = proc.opts.get("output")
    if pat and not re.search(pat, proc.stdout()):
        raise AssertionError("README.md:%d: stdout does not match %r\n%s" % (proc.line, pat, proc.report()))


def main():
    build_dir = harness.BUILD_DIR
    with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
        blocks = parse_blocks(f.read())
    assert len(blocks) >= 5, "expected the walkthrough's runnable blocks, found %d" % len(blocks)
    with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
        assert "```sh\n./scripts/demo\n./scripts/test\n```" in f.read(), "README lost its two commands"
    with open(os.path.join(SRC, ".ci", "run"), encoding="utf-8") as f:
        assert re.search(r"^\./scripts/test$", f.read(), re.M), ".ci/run must call ./scripts/test"
    root = make_root(build_dir)
    logdir = tempfile.mkdtemp(prefix="baton-readme-logs-")
    procs = []
    terminals = []
    ok = False
    with harness.Broker() as broker:
        env = dict(os.environ)
        env.update(BATON_BROKER=broker.uri, MQTT_PORT=str(broker.port), METRICS_PORT=str(harness.free_port()))
        env.pop("BATON_NODE", None)
        env.pop("BATON_PREFIX", None)
        spy = harness.Client(broker)
        spy.subscribe("#")
        try:
            for line, opts, script in blocks:
                kind = opts["kind"]
                if kind == "run":
                    for t in terminals:
                        check_exit(t, t.wait())
                    terminals = []
                print("README.md:%d: %s\n%s" % (line, kind, script), flush=True)
                proc = Proc(line, opts, script, root, env, logdir)
                procs.append(proc)
                if kind == "run":
                    check_exit(proc, proc.wait())
                    print(proc.stdout(), flush=True)
                    continue
                if kind == "terminal":
                    terminals.append(proc)
                if "ready" in opts:
                    topic, pat = opts["ready"], re.compile(opts.get("match", ""))

                    def ready(m, topic=topic, pat=pat, t0=proc.t0):
                        return m[1] == topic and m[0] >= t0 - 0.001 and pat.search(m[2].decode("utf-8", "replace"))

                    try:
                        spy.wait_for(ready, timeout=DEADLINE, what="README.md:%d ready" % line)
                    except AssertionError as e:
                        raise AssertionError("%s\n%s" % (e, proc.report()))
                else:
                    time.sleep(0.5)  # a watcher: give it time to subscribe; nothing depends on it
                if proc.p.poll() is not None and kind == "daemon":
                    raise AssertionError("README.md:%d: daemon exited %s\n%s" % (line, proc.p.returncode, proc.report()))
            for t in terminals:
                check_exit(t, t.wait())
            for p in procs:
                if p.opts["kind"] == "daemon" and p.p.poll() is not None:
                    raise AssertionError("README.md:%d: daemon exited early (%s)\n%s" %
                                         (p.line, p.p.returncode, p.report()))
            ok = True
        finally:
            for p in reversed(procs):
                p.stop()
            spy.close()
            if not ok:
                for p in procs:
                    print(p.report())
            else:
                shutil.rmtree(root, ignore_errors=True)
                shutil.rmtree(logdir, ignore_errors=True)
    print("README.md: %d runnable blocks ran as written" % len(blocks))


if __name__ == "__main__":
    main()
