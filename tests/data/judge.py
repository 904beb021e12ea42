#!/usr/bin/env python3
"""A small external judge for tests: reward = fraction of reference words found in the answer.

The first argument selects a behaviour, so one script exercises every failure mode:
ok, crash (exit 3 on the first request), crash-once MARKER (crash the first time only),
badjson, wrongid, twice, nan, range, hang (never answers), missing."""
import json
import os
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
marker = sys.argv[2] if len(sys.argv) > 2 else None

for line in sys.stdin:
    req = json.loads(line)
    ref = set(req["reference"].lower().split())
    ans = set(req["answer"].lower().split())
    reward = len(ref & ans) / len(ref) if ref else 0.0
    out = {"id": req["id"], "reward": reward}
    if mode == "crash":
        sys.exit(3)
    if mode == "crash-once" and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(4)
    if mode == "hang":
        time.sleep(3600)
    if mode == "badjson":
        sys.stdout.write("{not json\n")
    elif mode == "wrongid":
        out["id"] = "nope"
    elif mode == "twice":
        sys.stdout.write(json.dumps(out) + "\n")
    elif mode == "nan":
        sys.stdout.write('{"id": %s, "reward": NaN}\n' % json.dumps(req["id"]))
        sys.stdout.flush()
        continue
    elif mode == "range":
        out["reward"] = 7.5
    elif mode == "missing":
        del out["reward"]
    if mode != "badjson":
        sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
