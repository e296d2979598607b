#!/usr/bin/python3
"""Checks the JSON Schemas in schema/ against what the codec really writes.

Owns: schema conformance. Must never modify the schemas or the fixtures.

Run with Debian's /usr/bin/python3 (python3-jsonschema, Draft 2020-12):
  schema_check.py --schemas schema/ --fixtures DIR

1. Every schema/*.schema.json is itself a valid Draft 2020-12 schema.
2. Every file DIR/<schema>--<case>.json (written by `test_wire --dump-fixtures
   DIR`) is valid against schema/<schema>.schema.json, and every schema has at
   least one such file, so no message kind goes unchecked.
3. The examples of PROTOCOL.md are valid, and a list of hand-written invalid
   messages is rejected by the schema it names.
4. Every answer status and rejection code appears literally in schema/.
"""
import argparse
import json
import os
import sys

from jsonschema import Draft202012Validator

INT_MAX = 2**53 - 1
R = '"resource":"images/nginx:1.25"'

VALID = [
    ("request-acquire", '{"v":1,"op":"acquire","id":"r1",' + R + ',"mode":"once","lease_ms":30000,'
     '"wait_ms":60000,"meta":"docker pull nginx:1.25"}'),
    ("request-renew", '{"v":1,"op":"renew","id":"r2",' + R + ',"token":43}'),
    ("request-release", '{"v":1,"op":"release","id":"r3",' + R + ',"token":43,"success":false,'
     '"error":"exit status 1","result":"...","remember_ms":600000}'),
    ("request-cancel", '{"v":1,"op":"cancel","id":"r4",' + R + '}'),
    ("request-reset", '{"v":1,"op":"reset","id":"r5",' + R + '}'),
    ("outcome", '{"v":1,' + R + ',"mode":"once","node":"n1","token":42,"success":false,'
     '"error":"exit status 1","reason":"released","completed_at":"2026-11-24T10:00:00.123Z"}'),
    ("node", '{"v":1,"node":"n1","online":true}'),
    ("state", '{"v":1,' + R + ',"mode":"once","holder":null,"waiting":[],'
     '"done":{"node":"n1","token":42,"completed_at":"2026-11-24T10:00:00.123Z"}}'),
    ("request-acquire", '{"v":1,"op":"acquire","id":"r1",' + R + ',"mode":"shared"}'),
    ("request-acquire", '{"v":1,"op":"acquire","id":"r1",' + R + ',"mode":"mutex","permits":3}'),
    ("request-acquire", '{"v":1,"op":"acquire","id":"r1",' + R + ',"max_failures":3}'),
    ("answer-failed", '{"v":1,"status":"failed","id":"r1",' + R + ',"failures":3,"last":{"node":"n4",'
     '"token":47,"error":"manifest unknown","reason":"released",'
     '"completed_at":"2026-11-24T10:00:00.123Z"}}'),
]

ACQ = '{"v":1,"op":"acquire","id":"r1",'
INVALID = [
    ("request-acquire", ACQ + '"resource":"a","extra":1}'),
    ("request-acquire", '{"v":1,"op":"acquire",' + R + '}'),
    ("request-acquire", '{"v":2,"op":"acquire","id":"r1",' + R + '}'),
    ("request-acquire", '{"v":1,"op":"renew","id":"r1",' + R + '}'),
    ("request-acquire", '{"v":1,"op":"acquire","id":"r 1",' + R + '}'),
    ("request-acquire", '{"v":1,"op":"acquire","id":"r1\\n",' + R + '}'),
    ("request-acquire", '{"v":1,"op":"acquire","id":"' + 'x' * 65 + '",' + R + '}'),
    ("request-acquire", ACQ + '"resource":""}'),
    ("request-acquire", ACQ + '"resource":"/a"}'),
    ("request-acquire", ACQ + '"resource":"$SYS/a"}'),
    ("request-acquire", ACQ + '"resource":"a/"}'),
    ("request-acquire", ACQ + '"resource":"a//b"}'),
    ("request-acquire", ACQ + '"resource":"a+b"}'),
    ("request-acquire", ACQ + '"resource":"a#"}'),
    ("request-acquire", ACQ + '"resource":"a\\u0001"}'),
    ("request-acquire", ACQ + '"resource":"a\\u0085"}'),
    ("request-acquire", ACQ + '"resource":"a\\n"}'),
    ("request-acquire", ACQ + '"resource":"' + 'r' * 201 + '"}'),
    ("request-acquire", ACQ + R + ',"mode":"exclusive"}'),
    ("request-acquire", ACQ + R + ',"mode":"shared","permits":2}'),
    ("request-acquire", ACQ + R + ',"permits":2}'),
    ("request-acquire", ACQ + R + ',"mode":"mutex","permits":1025}'),
    ("request-acquire", ACQ + R + ',"mode":"mutex","max_failures":2}'),
    ("request-acquire", ACQ + R + ',"max_failures":0}'),
    ("answer-failed", '{"v":1,"status":"failed","id":"r1",' + R + ',"failures":3}'),
    ("answer-failed", '{"v":1,"status":"failed","id":"r1",' + R + ',"failures":0,"last":{"node":"n1",'
     '"token":3,"reason":"released","completed_at":"2026-11-24T10:00:00.123Z"}}'),
    ("answer-failed", '{"v":1,"status":"failed","id":"r1",' + R + ',"failures":1,"last":{"node":"n1",'
     '"token":3,"reason":"released"}}'),
    ("state", '{"v":1,' + R + ',"mode":"once","holder":null,"waiting":[],"done":null,"failures":2}'),
    ("state", '{"v":1,' + R + ',"mode":"mutex","holder":null,"waiting":[],"done":null,"permits":1}'),
    ("state", '{"v":1,' + R + ',"mode":"shared","holder":null,"waiting":[],"done":null,'
     '"queue":[{"node":"n1"}]}'),
    ("request-acquire", ACQ + R + ',"lease_ms":999}'),
    ("request-acquire", ACQ + R + ',"lease_ms":3600001}'),
    ("request-acquire", ACQ + R + ',"lease_ms":1000.5}'),
    ("request-acquire", ACQ + R + ',"lease_ms":"30000"}'),
    ("request-acquire", ACQ + R + ',"wait_ms":-1}'),
    ("request-acquire", ACQ + R + ',"wait_ms":%d}' % (INT_MAX + 1)),
    ("request-acquire", ACQ + R + ',"meta":"' + 'm' * 257 + '"}'),
    ("request-renew", '{"v":1,"op":"renew","id":"r2",' + R + ',"token":0}'),
    ("request-renew", '{"v":1,"op":"renew","id":"r2",' + R + ',"token":%d}' % (INT_MAX + 1)),
    ("request-renew", '{"v":1,"op":"renew","id":"r2",' + R + '}'),
    ("request-release", '{"v":1,"op":"release","id":"r3",' + R + ',"token":4}'),
    ("request-release", '{"v":1,"op":"release","id":"r3",' + R + ',"token":4,"success":"true"}'),
    ("request-release", '{"v":1,"op":"release","id":"r3",' + R + ',"token":4,"success":true,'
     '"error":"' + 'e' * 1025 + '"}'),
    ("request-cancel", '{"v":1,"op":"cancel","id":"r4",' + R + ',"token":4}'),
    ("answer-granted", '{"v":1,"status":"granted","id":"r1",' + R + ',"token":4}'),
    ("answer-granted", '{"v":1,"status":"granted","id":"r1",' + R + ',"token":4,"lease_ms":30000,'
     '"previous":{"node":"n1","token":3}}'),
    ("answer-granted", '{"v":1,"status":"granted","id":"r1",' + R + ',"token":4,"lease_ms":30000,'
     '"previous":{"node":"n1","token":3,"reason":"bogus"}}'),
    ("answer-granted", '{"v":1,"status":"granted","id":"r1",' + R + ',"token":4,"lease_ms":30000,"x":1}'),
    ("answer-queued", '{"v":1,"status":"queued","id":"r1",' + R + ',"position":0,"holder":"n1"}'),
    ("answer-done", '{"v":1,"status":"done","id":"r1",' + R + ',"outcome":null}'),
    ("answer-busy", '{"v":1,"status":"busy","id":"r1",' + R + '}'),
    ("answer-renewed", '{"v":1,"status":"renewed","id":"r1",' + R + ',"token":4,"lease_ms":1.5}'),
    ("answer-released", '{"v":1,"status":"released","id":"r1",' + R + ',"token":"4"}'),
    ("answer-cancelled", '{"v":1,"status":"canceled","id":"r1",' + R + '}'),
    ("answer-reset", '{"v":1,"status":"reset",' + R + '}'),
    ("answer-revoked", '{"v":1,"status":"revoked","id":"r1",' + R + ',"token":4,"reason":"released"}'),
    ("answer-rejected", '{"v":1,"status":"rejected","code":"nomem","message":"m"}'),
    ("answer-rejected", '{"v":1,"status":"rejected","code":"bad_json"}'),
    ("outcome", '{"v":1,' + R + ',"mode":"once","node":"n1","token":42,"success":false,'
     '"reason":"released","completed_at":"2026-11-24T10:00:00Z"}'),
    ("outcome", '{"v":1,' + R + ',"mode":"once","node":"n1","token":42,"success":false,'
     '"reason":"released","completed_at":"2026-11-24T10:00:00.123Z\\n"}'),
    ("outcome", '{"v":1,' + R + ',"mode":"once","node":"n1","token":42,"success":0,'
     '"reason":"released","completed_at":"2026-11-24T10:00:00.123Z"}'),
    ("state", '{"v":1,' + R + ',"mode":"once","holder":null,"token":4,"waiting":[],"done":null}'),
    ("state", '{"v":1,' + R + ',"mode":"once","holder":"n2","token":4,"waiting":[],"done":null}'),
    ("state", '{"v":1,' + R + ',"mode":"once","holder":null,"waiting":["a b"],"done":null}'),
    ("state", '{"v":1,' + R + ',"mode":"once","holder":null,"waiting":[]}'),
    ("node", '{"v":1,"online":true}'),
    ("node", '{"v":1,"node":"n1","online":"yes"}'),
    ("coordinator", '{"v":1,"online":true,"node":"n1"}'),
    ("coordinator", '{"v":1,"online":true,"started_at":"yesterday"}'),
    ("stats", '{"v":1,"at":"2026-11-24T10:00:00.123Z","uptime_ms":-1,"requests":0,"grants":0,'
     '"handoffs":0,"rejections":0,"held":0,"waiters":0,"remembered":0,"backlog":0,"next_token":1}'),
    ("stats", '{"v":1,"at":"2026-11-24T10:00:00.123Z","uptime_ms":1,"requests":0,"grants":0,'
     '"handoffs":0,"rejections":0,"held":0,"waiters":0,"remembered":0,"backlog":0}'),
    # membership requests and answers (docs/protocol.md, "Membership of a replicated group")
    ("admin-request", '{"v":1,"op":"remove","id":"a","member":2,"address":"10.0.0.2:7001"}'),
    ("admin-request", '{"v":1,"op":"add","id":"a","member":2}'),
    ("admin-request", '{"v":1,"op":"add","id":"a","member":0,"address":"10.0.0.2:7001"}'),
    ("admin-answer", '{"v":1,"id":"a","status":"done","message":"","by":1,"members":[]}'),
    ("admin-answer", '{"v":1,"id":"a","status":"refused","changed":false,"reason":"failed","message":"",'
     '"by":1,"members":[]}'),
    ("admin-answer", '{"v":1,"id":"a","status":"refused","reason":"nope","message":"","by":1,"members":[]}'),
    ("member", '{"v":1,"member":1,"online":true,"role":"leader","term":1,"applied":1,'
     '"at":"2026-11-24T10:00:00.123Z","members":[{"id":1,"address":"x","role":"boss"}]}'),
]

STATUSES = ["granted", "queued", "done", "busy", "renewed", "released", "cancelled", "reset",
            "revoked", "rejected", "failed"]
CODES = ["bad_json", "bad_request", "unsupported_version", "unknown_op", "too_large", "not_holder",
         "mode_conflict", "bad_topic"]


def strict_loads(text):
    def no_constant(name):
        raise ValueError("non-JSON constant " + name)
    return json.loads(text, parse_constant=no_constant)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--fixtures", required=True)
    args = ap.parse_args()
    failures = []
    validators, texts = {}, []

    for name in sorted(os.listdir(args.schemas)):
        if not name.endswith(".schema.json"):
            continue
        with open(os.path.join(args.schemas, name), encoding="utf-8") as f:
            text = f.read()
        texts.append(text)
        schema = strict_loads(text)
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as e:  # noqa: BLE001 - report every schema error
            failures.append("%s: not a valid Draft 2020-12 schema: %s" % (name, e))
            continue
        validators[name[: -len(".schema.json")]] = Draft202012Validator(schema)
    if not validators:
        failures.append("no schemas found in " + args.schemas)

    alltext = "\n".join(texts)
    for word in STATUSES + CODES:
        if '"%s"' % word not in alltext:
            failures.append('"%s" does not appear in any schema' % word)

    covered, nfix = set(), 0
    for name in sorted(os.listdir(args.fixtures)):
        if not name.endswith(".json"):
            continue
        kind = name.split("--", 1)[0]
        nfix += 1
        if kind not in validators:
            failures.append("%s: no schema %s.schema.json" % (name, kind))
            continue
        with open(os.path.join(args.fixtures, name), "rb") as f:
            raw = f.read()
        try:
            msg = strict_loads(raw.decode("utf-8"))
        except ValueError as e:
            failures.append("%s: not JSON: %s" % (name, e))
            continue
        for err in validators[kind].iter_errors(msg):
            failures.append("%s: %s at %s" % (name, err.message, list(err.absolute_path)))
        covered.add(kind)
    for kind in sorted(set(validators) - covered):
        failures.append("schema %s has no fixture from the codec" % kind)

    for kind, text in VALID:
        for err in validators[kind].iter_errors(strict_loads(text)):
            failures.append("valid example for %s rejected: %s: %s" % (kind, err.message, text[:120]))
    for kind, text in INVALID:
        if validators[kind].is_valid(strict_loads(text)):
            failures.append("invalid message accepted by %s: %s" % (kind, text[:160]))

    for f in failures:
        print("FAIL " + f)
    print("%d schemas, %d fixtures, %d valid examples, %d invalid examples, %d failures"
          % (len(validators), nfix, len(VALID), len(INVALID), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
