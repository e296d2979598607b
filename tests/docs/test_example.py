"""Runs the libbaton example of docs/library.md (examples/once.c) against a
private broker and the real coordinator, and checks the story it tells:

1. three nodes start together; the first holder's migration fails (--fail),
   the next one is handed the lock and succeeds, the third is told `done`;
2. a node that starts later skips at once with the shared result.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

EXAMPLE = os.path.join(harness.BUILD_DIR, "examples", "baton-example-once")
DEADLINE = harness.DEADLINE * 3


def start(broker, prefix, node, resource, *extra):
    env = dict(os.environ, BATON_BROKER=broker.uri, BATON_PREFIX=prefix)
    return subprocess.Popen([EXAMPLE, node, resource] + list(extra), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(p):
    try:
        out, err = p.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("example did not finish:\n%s\n%s" % (out, err))
    return p.returncode, out, err


def check_doc():
    """docs/library.md shows examples/once.c verbatim, so the two cannot drift."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "examples", "once.c"), encoding="utf-8") as f:
        code = f.read()
    with open(os.path.join(src, "docs", "library.md"), encoding="utf-8") as f:
        doc = f.read()
    assert "```c\n" + code + "```\n" in doc, "docs/library.md no longer shows examples/once.c verbatim"


def main():
    check_doc()
    prefix = harness.unique_prefix("ex")
    resource = "db/migration-42"
    with harness.Broker() as broker, harness.Coordinator(broker, prefix):
        w = harness.Watcher(broker, prefix)
        a = start(broker, prefix, "ex-a", resource, "--fail")
        w.wait_for(lambda m: m[1] == "%s/grant/ex-a" % prefix and b'"granted"' in m[2], what="ex-a granted")
        b = start(broker, prefix, "ex-b", resource)
        w.wait_for(lambda m: m[1] == "%s/grant/ex-b" % prefix and b'"queued"' in m[2], what="ex-b queued")
        c = start(broker, prefix, "ex-c", resource)
        rc_a, out_a, err_a = finish(a)
        rc_b, out_b, err_b = finish(b)
        rc_c, out_c, err_c = finish(c)
        print(out_a + err_a + out_b + err_b + out_c + err_c)
        assert rc_a == 1 and "failed" in out_a, (rc_a, out_a, err_a)
        assert rc_b == 0 and "taking over from ex-a" in out_b and "schema at version 42" in out_b, (rc_b, out_b, err_b)
        assert rc_c == 0, (rc_c, out_c, err_c)
        # c was either queued behind b (answered done) or came after b's success.
        assert "already done by ex-b: schema at version 42" in out_c, out_c
        outcomes = w.outcomes(resource)
        assert [o["success"] for o in outcomes] == [False, True], outcomes
        assert outcomes[0]["error"].startswith("migration 42 failed"), outcomes

        t0 = time.monotonic()
        rc_d, out_d, err_d = finish(start(broker, prefix, "ex-d", resource))
        assert rc_d == 0 and "already done by ex-b" in out_d, (rc_d, out_d, err_d)
        print(out_d.strip(), "(%.0f ms)" % ((time.monotonic() - t0) * 1000))
        state = w.state(resource)
        assert state and state["done"]["node"] == "ex-b", json.dumps(state)
        w.close()
    print("example: the libbaton program told the story of docs/library.md")


if __name__ == "__main__":
    main()
