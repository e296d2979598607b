"""A recorded history of a fault test, and the checker of PROTOCOL.md's
guarantees over it.

Two sources, so that neither has to be trusted alone:

- Recorder: a paho client subscribed to P/# that timestamps every request,
  answer, outcome and snapshot it sees (time.monotonic()). It re-subscribes
  after every reconnect, so it survives broker restarts (but it misses what
  was published while it was away: checks that need completeness take a
  `since`).
- the holders' own log: holder.py, the command `baton run` runs, appends a
  JSON line when it starts holding and when it ends (with its token), on a
  file no broker can lose.

The checks raise AssertionError with the offending records:

- no two valid holdings of a resource overlap in time (holders' log; a
  holding whose lock was lost counts as valid only until the coordinator
  revoked it, as the recorder saw it);
- tokens only rise per resource (holders' log, in start order; new tokens in
  publish order) and a token is never given to two holdings;
- every request seen was answered; no answer contradicts an earlier one
  (a request answered `granted T` is never answered another token, nor
  queued/busy/done afterwards; `done` is never followed by a grant);
- a success of a once resource is never forgotten: no new grant after it.
"""
import json
import os
import threading
import time
import uuid

import paho.mqtt.client as mqtt

FINAL = ("granted", "done", "busy", "rejected", "released", "cancelled", "reset", "renewed")


class Recorder:
    """Records everything under prefix/#; survives broker restarts."""

    def __init__(self, broker, prefix, client_kw=None):
        self.prefix = prefix
        self.events = []  # (t, topic, payload bytes, retained)
        self.lock = threading.Condition()
        self.connected = threading.Event()
        self.c = mqtt.Client(client_id="rec" + uuid.uuid4().hex[:10], clean_session=True,
                             protocol=mqtt.MQTTv311)
        for k, v in (client_kw or {}).items():
            getattr(self.c, k)(*v)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda c, u, rc: self.connected.clear()
        self.c.on_message = self._on_message
        self.c.reconnect_delay_set(0.1, 1)
        self.c.connect("127.0.0.1", broker.port, keepalive=5)
        self.c.loop_start()
        if not self.connected.wait(20):
            raise AssertionError("recorder did not connect")
        self.wait_subscribed()

    def _on_connect(self, c, u, flags, rc):
        if rc != 0:
            return
        self._subbed = threading.Event()
        c.on_subscribe = lambda c2, u2, mid, granted: self._subbed.set()
        c.subscribe(self.prefix + "/#", 1)
        self.connected.set()

    def wait_subscribed(self, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ev = getattr(self, "_subbed", None)
            if ev is not None and ev.wait(0.05) and self.connected.is_set():
                return
        raise AssertionError("recorder did not (re)subscribe")

    def _on_message(self, c, u, m):
        with self.lock:
            self.events.append((time.monotonic(), m.topic, bytes(m.payload), bool(m.retain)))
            self.lock.notify_all()

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()

    def dump(self, path):
        """Writes the history as JSON lines (t, topic, payload) for a post-mortem."""
        with self.lock:
            evs = list(self.events)
        with open(path, "w") as f:
            for t, topic, p, retained in evs:
                f.write(json.dumps([round(t, 4), topic, p.decode("utf-8", "replace"), retained]) + "\n")
        return path

    # ---- views ------------------------------------------------------------

    def _kind(self, topic):
        rest = topic[len(self.prefix) + 1:]
        kind, _, arg = rest.partition("/")
        return kind, arg

    def records(self, kind):
        """[(t, arg, json)] of one kind: req, grant, outcome, state, node."""
        out = []
        with self.lock:
            evs = list(self.events)
        for t, topic, p, retained in evs:
            k, arg = self._kind(topic)
            if k != kind or not p:
                continue
            try:
                out.append((t, arg, json.loads(p)))
            except ValueError:
                out.append((t, arg, {"_raw": p}))
        return out

    def wait(self, pred, timeout=30, what="event"):
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("recorder: timed out waiting for %s" % what)
                self.lock.wait(left)

    def answers_by_request(self):
        """{(node, id): [(t, answer)]}"""
        out = {}
        for t, node, a in self.records("grant"):
            out.setdefault((node, a.get("id")), []).append((t, a))
        return out

    def revoke_times(self):
        """{token: first time the recorder saw it end other than by a release}."""
        out = {}
        for t, node, a in self.records("grant"):
            if a.get("status") == "revoked":
                out.setdefault(a["token"], t)
        for t, res, e in self.records("outcome"):
            if e.get("reason") != "released":
                out.setdefault(e["token"], t)
        return out

    # ---- checks -----------------------------------------------------------

    def unanswered(self, since=0.0, until=None, ops=None, exclude_nodes=()):
        """Requests seen at or after `since` that have no answer at all."""
        answered = self.answers_by_request()
        # A renew the coordinator lost (killed after the broker had its
        # PUBACK, before its commit) is not re-sent once the holder has
        # released: the answered release settles it.
        released = {(node, r.get("token")) for _, node, r in self.records("req")
                    if r.get("op") == "release" and answered.get((node, r.get("id")))}
        missing = []
        for t, node, r in self.records("req"):
            if t < since or (until is not None and t > until) or "_raw" in r or node in exclude_nodes:
                continue
            if ops is not None and r.get("op") not in ops:
                continue
            if r.get("op") == "renew" and (node, r.get("token")) in released:
                continue
            if not answered.get((node, r.get("id"))):
                missing.append((t, node, r))
        return missing

    def check_all_answered(self, since=0.0, until=None, timeout=60, ops=None, exclude_nodes=()):
        end = time.monotonic() + timeout
        while True:
            missing = self.unanswered(since, until, ops, exclude_nodes)
            if not missing:
                return
            if time.monotonic() > end:
                raise AssertionError("%d request(s) never answered, e.g. %r" % (len(missing), missing[:5]))
            time.sleep(0.1)

    def check_answers_consistent(self):
        """No answer contradicts an earlier answer to the same request.

        A node declared offline (its Will) has its holdings revoked and its
        request ids forgotten (coordinator/table.h, table_step_presence), so
        after a `revoked` with reason node_offline the same id starts a new
        epoch; such re-grants are counted in self.regrants_after_offline."""
        self.regrants_after_offline = []
        for (node, rid), seq in self.answers_by_request().items():
            granted = None
            final = None
            before = None  # the token of the epoch a node_offline revocation ended
            for t, a in seq:
                st = a.get("status")
                if st == "revoked" and a.get("reason") == "node_offline":
                    before = granted if granted is not None else before
                    granted, final = None, None
                    continue
                if st == "granted" and before is not None and granted is None and a["token"] != before:
                    self.regrants_after_offline.append((node, rid, before, a["token"]))
                if st == "granted":
                    if granted is not None and a["token"] != granted:
                        raise AssertionError("%s/%s granted %s then %s" % (node, rid, granted, a["token"]))
                    if final in ("done", "busy", "cancelled"):
                        raise AssertionError("%s/%s answered %s then granted" % (node, rid, final))
                    granted = a["token"]
                elif st in ("queued",):
                    if granted is not None or final in ("done", "busy"):
                        raise AssertionError("%s/%s answered %s then queued: %r" % (node, rid, granted or final, seq))
                elif st in ("done", "busy"):
                    if granted is not None:
                        raise AssertionError("%s/%s granted %s then %s: %r" % (node, rid, granted, st, seq))
                    final = st
                elif st == "released":
                    if final not in (None, "released") or (granted is not None and a["token"] != granted):
                        raise AssertionError("%s/%s released inconsistently: %r" % (node, rid, seq))
                    granted, final = a["token"], "released"
        return True

    def new_tokens(self):
        """[(t, resource, token, node)] the first time each token is granted, in publish order."""
        seen, out = {}, []
        for t, node, a in self.records("grant"):
            if a.get("status") != "granted":
                continue
            tok = a["token"]
            if tok in seen:
                if seen[tok] != (a.get("resource"), node):
                    raise AssertionError("token %d granted to %r and to %r" % (tok, seen[tok], (a.get("resource"), node)))
                continue
            seen[tok] = (a.get("resource"), node)
            out.append((t, a.get("resource"), tok, node))
        return out

    def check_tokens_rise(self):
        """Per resource, every new token is higher than the last one (what
        fencing relies on); across resources every token is granted once.

        The global publish order may show a lower token after a higher one
        of another resource: a grant committed by a coordinator killed
        before its answer went out is answered after the restart, when the
        node re-sends its acquire, possibly after newer grants elsewhere."""
        toks = self.new_tokens()
        last = {}
        for t, res, tok, node in toks:
            if res in last and tok <= last[res][0]:
                raise AssertionError("token went back on %s: %d (%s) then %d (%s)"
                                     % (res, last[res][0], last[res][1], tok, node))
            last[res] = (tok, node)
        return toks

    def check_once_success_kept(self):
        """After a once resource's success is recorded, it is never granted again."""
        succeeded = {}  # resource -> time of the released answer to a success release
        reqs = {(node, r.get("id")): r for _, node, r in self.records("req") if "_raw" not in r}
        for t, node, a in self.records("grant"):
            if a.get("status") == "released":
                r = reqs.get((node, a.get("id")))
                if r and r.get("success") is True:
                    succeeded.setdefault(a.get("resource"), t)
        modes = {}
        for _, node, r in self.records("req"):
            if r.get("op") == "acquire":
                modes[r.get("resource")] = r.get("mode", "once")
        resets = [(t, r.get("resource")) for t, _, r in self.records("req") if r.get("op") == "reset"]
        for t, res, tok, node in self.new_tokens():
            if modes.get(res) != "once" or res not in succeeded or t <= succeeded[res]:
                continue
            if any(rt > succeeded[res] and rr == res for rt, rr in resets):
                continue
            raise AssertionError("once resource %s succeeded at %.3f, yet token %d granted to %s at %.3f"
                                 % (res, succeeded[res], tok, node, t))
        return succeeded


# ---- the holders' own log ---------------------------------------------------

def read_holder_log(path):
    """Holdings from holder.py's log: [{res, token, node, pid, start, end, how}],
    end None when neither an end nor a term line was written (killed)."""
    by_tok = {}
    if not os.path.exists(path):
        return []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            h = by_tok.setdefault((rec["res"], rec["token"]), {"res": rec["res"], "token": rec["token"],
                                                                "node": rec["node"], "start": None,
                                                                "end": None, "how": None})
            if rec["ev"] == "start":
                h["pid"] = rec.get("pid")
                if h["start"] is not None:
                    raise AssertionError("token %d started twice: %r" % (rec["token"], rec))
                h["start"] = rec["t"]
            else:
                h["end"], h["how"] = rec["t"], rec["ev"]
                if "t_sig" in rec:
                    h["t_sig"] = rec["t_sig"]  # when the holder was told to stop
    return sorted(by_tok.values(), key=lambda h: h["start"])


def check_holdings(holdings, revoked=None, killed=None, now=None):
    """No overlap of valid holdings per resource; tokens rise per resource.

    revoked: {token: time the coordinator was seen ending it} caps holdings
    whose lock was lost. killed: {token: time the test killed its holder}.
    A holding without an end that was neither is taken as lasting to now."""
    revoked, killed = revoked or {}, killed or {}
    now = now or time.monotonic()
    per = {}
    for h in holdings:
        if h["start"] is None:
            raise AssertionError("holding without a start: %r" % h)
        end = h["end"] if h["end"] is not None else now
        for cap in (revoked.get(h["token"]), killed.get(h["token"])):
            if cap is not None and cap < end:
                end = cap
        per.setdefault(h["res"], []).append((h["start"], end, h["token"], h["node"]))
    for res, hs in per.items():
        hs.sort()
        for (s0, e0, t0, n0), (s1, e1, t1, n1) in zip(hs, hs[1:]):
            if t1 <= t0:
                raise AssertionError("%s: token %d (%s) started after token %d (%s)" % (res, t1, n1, t0, n0))
            if s1 < e0:
                raise AssertionError("%s: holdings overlap: token %d (%s) %.3f-%.3f and token %d (%s) from %.3f"
                                     % (res, t0, n0, s0, e0, t1, n1, s1))
    return per
