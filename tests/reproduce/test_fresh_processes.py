"""Same seed, same numbers: two fresh `ipmix train` processes end with bit-identical weights.

The second run also changes the loader workers (2 -> 0), which must not matter either. Across
machines the numbers do move (other vector kernels, other thread counts): that is measured by
benchmarks/determinism.py, not here.
"""

import hashlib
import json
import os
import subprocess
import sys

import torch


def _train(data, out, workers):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    command = [sys.executable, "-m", "ipmix", "train", "--data", str(data), "--model", "small",
               "--aug", "augmix", "--no-jsd", "--subset", "128", "--test-subset", "32", "--epochs", "2",
               "--workers", str(workers), "--seed", "3", "--no-progress", "--out", str(out)]
    subprocess.run(command, check=True, env=env, capture_output=True)
    state = torch.load(out / "final.pt", map_location="cpu", weights_only=True)["model_state"]
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(state[name].contiguous().numpy().tobytes())
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return digest.hexdigest(), [(e["train_loss"], e["test_acc"]) for e in log]


def test_two_fresh_processes_give_the_same_weights(tiny_cifar, tmp_path):
    first = _train(tiny_cifar, tmp_path / "a", workers=2)
    second = _train(tiny_cifar, tmp_path / "b", workers=0)
    assert first == second
