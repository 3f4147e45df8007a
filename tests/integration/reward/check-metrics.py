#!/usr/bin/env python3
# Reads the /reward metrics table k1rl-reward wrote (test-reward-app): one row per iteration,
# 200 answers each (2 clients x 100), half of them correct. Usage: check-metrics.py metrics.h5
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["k1rl_format"] in (b"metrics/1", "metrics/1"), f.attrs["k1rl_format"]
    t = f["reward"]
    it = t["iteration"][:]
    assert list(it) == [0, 1], it
    assert np.all(t["answers"][:] == 200), t["answers"][:]
    assert np.allclose(t["correct_mean"][:], 0.5), t["correct_mean"][:]
    assert np.all(t["requests"][:] == 2), t["requests"][:]
print("check-metrics: /reward ok")
