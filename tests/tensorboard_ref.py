"""TensorBoard's readers against restpg's metrics (tests/tensorboard.sh).

  tensorboard_ref.py run RUN_DIR ROUNDS   a `restpg run` with report.tensorboard true
  tensorboard_ref.py train TB_DIR STAGE METRICS.jsonl FILES
                                          a pretrain/sft with --tensorboard (FILES: the number of
                                          events files expected in TB_DIR)
  tensorboard_ref.py truncated TB_DIR     TB_DIR's one file cut inside its last record: every
                                          earlier record is still read

The expected scalars come from the JSON the run wrote (metrics/STAGE.jsonl, estep.json,
eval.json): every number except step and round, as "<stage>/<field>" at the line's step (a
record's round), each value the JSON number rounded to float32 (what TensorBoard stores), equal,
not near. Two readers: the tensorboard package's EventAccumulator must give every line in order
(a resumed trainer's repeated steps included), and TensorBoard itself (`tensorboard --logdir`,
its data server, queried over HTTP) every step once, with the last line of a step winning as in
the run's report.
"""
import glob
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import numpy as np
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def expect_line(want, stage, step, rec):
    for k, v in rec.items():
        if k in ("step", "round") or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        want.setdefault(f"{stage}/{k}", []).append((step, np.float32(v)))


def expect_jsonl(want, stage, path):
    for line in open(path):
        rec = json.loads(line)
        expect_line(want, stage, rec["step"], rec)


def compare_accumulator(tb_dir, want):
    ea = EventAccumulator(tb_dir, size_guidance={"scalars": 0})  # 0: keep every event
    ea.Reload()
    got = {tag: [(e.step, np.float32(e.value)) for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"]}
    assert set(got) == set(want), f"tags: extra {sorted(set(got) - set(want))}, missing {sorted(set(want) - set(got))}"
    for tag, seq in want.items():
        assert got[tag] == seq, f"{tag}: EventAccumulator {got[tag]} != metrics {seq}"
    return sum(len(v) for v in want.values())


def compare_served(tb_dir, want):
    """`tensorboard --logdir` on a free port: its scalars must be the metrics, a step's last line winning."""
    last = {tag: dict(seq) for tag, seq in want.items()}
    proc = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", tb_dir, "--port", "0", "--load_fast=true"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in proc.stdout:
            m = re.search(r"(http://localhost:\d+)/", line)
            if m:
                url = m.group(1)
                break
        assert url, "tensorboard did not start"
        got, deadline = {}, time.time() + 120
        while time.time() < deadline:  # the data server loads the files in the background
            tags = json.load(urllib.request.urlopen(url + "/data/plugin/scalars/tags")).get(".", {})
            got = {}
            for tag in tags:
                q = urllib.parse.urlencode({"run": ".", "tag": tag})
                got[tag] = {s: np.float32(v) for _, s, v in json.load(urllib.request.urlopen(f"{url}/data/plugin/scalars/scalars?{q}"))}
            if set(got) == set(last) and all(len(got[t]) == len(last[t]) for t in last):
                break
            time.sleep(1)
        assert set(got) == set(last), f"served tags: extra {sorted(set(got) - set(last))}, missing {sorted(set(last) - set(got))}"
        for tag, steps in last.items():
            assert got[tag] == steps, f"{tag}: TensorBoard serves {got[tag]}, metrics (last line of a step) {steps}"
    finally:
        proc.kill()
        proc.wait()
    return sum(len(v) for v in last.values())


def events_files(tb_dir):
    files = sorted(glob.glob(os.path.join(tb_dir, "events.out.tfevents.*")))
    assert files and len(files) == len(os.listdir(tb_dir)), os.listdir(tb_dir)
    for f in files:
        first = next(iter(event_file_loader.LegacyEventFileLoader(f).Load()))
        assert first.file_version == "brain.Event:2", (f, first)
    return files


def check_run(run_dir, rounds):
    want = {}
    for st in ["pretrain", "sft"] + [f"mstep_round{t}" for t in range(1, rounds + 1)]:
        expect_jsonl(want, st, f"{run_dir}/metrics/{st}.jsonl")
    for t in range(0, rounds + 1):
        if t > 0:
            expect_line(want, "estep", t, json.load(open(f"{run_dir}/em/round{t}/estep.json")))
        expect_line(want, "val", t, json.load(open(f"{run_dir}/em/round{t}/val/eval.json")))
    expect_line(want, "eval", rounds, json.load(open(f"{run_dir}/eval/eval.json")))
    for t in ("sft/loss", "sft/val_loss", "estep/kept_fraction", "estep/mean_reward", "val/rouge1", "eval/rouge1"):
        assert t in want, t
    tb_dir = f"{run_dir}/tensorboard"
    files = events_files(tb_dir)
    n = compare_accumulator(tb_dir, want)
    m = compare_served(tb_dir, want)
    print(f"run: {len(files)} events file(s), {len(want)} tags, {n} scalars read back equal to the metrics, {m} served")


def check_train(tb_dir, stage, metrics, n_files):
    files = events_files(tb_dir)
    assert len(files) == int(n_files), f"{len(files)} events files, expected {n_files}"
    want = {}
    expect_jsonl(want, stage, metrics)
    n = compare_accumulator(tb_dir, want)
    m = compare_served(tb_dir, want)
    print(f"{stage}: {len(files)} events file(s), {n} scalars read back equal to the metrics lines, {m} served (a step's last)")


def check_truncated(tb_dir):
    (f,) = events_files(tb_dir)
    full = list(event_file_loader.LegacyEventFileLoader(f).Load())
    data = open(f, "rb").read()
    # Cut the last record in its payload: a kill in the middle of its write.
    off = 0
    starts = []
    while off < len(data):
        starts.append(off)
        off += 16 + int.from_bytes(data[off:off + 8], "little")
    assert off == len(data) and len(starts) == len(full)
    last_len = len(data) - starts[-1]
    cut = os.path.join(tb_dir + ".cut", os.path.basename(f))
    os.makedirs(os.path.dirname(cut))
    with open(cut, "wb") as o:
        o.write(data[:starts[-1] + last_len // 2])
    got = list(event_file_loader.LegacyEventFileLoader(cut).Load())
    assert len(got) == len(full) - 1, (len(got), len(full))
    assert [g.SerializeToString() for g in got] == [e.SerializeToString() for e in full[:-1]]
    ea = EventAccumulator(os.path.dirname(cut))
    ea.Reload()
    assert ea.Tags()["scalars"], "no scalars read from the cut file"
    print(f"truncated: {len(got)} of {len(full)} records read before the cut one")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "run":
        check_run(sys.argv[2], int(sys.argv[3]))
    elif cmd == "train":
        check_train(*sys.argv[2:6])
    elif cmd == "truncated":
        check_truncated(sys.argv[2])
    else:
        sys.exit(f"unknown command {cmd}")
