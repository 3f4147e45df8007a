"""Unit tests of the scaling model's maths (tools/scaling/scalelib.py), run by ctest as
scaling_model_maths: parameter counts against the published ones, FLOPs and collective costs
against independent brute-force counts, the non-negative fit, leave-one-out and the best split."""
import itertools
import math
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scalelib as sl  # noqa: E402


class Counts(unittest.TestCase):
    def test_published_parameter_counts(self):
        # Hugging Face model cards / safetensors totals.
        self.assertEqual(sl.n_params(sl.SHAPES["smollm2-135m"]), 134_515_008)
        self.assertEqual(sl.n_params(sl.SHAPES["1b"]), 1_235_814_400)  # Llama-3.2-1B
        self.assertEqual(sl.n_params(sl.SHAPES["7b"]), 6_738_415_616)  # Llama-2-7B

    def test_seq_flops_against_a_token_by_token_count(self):
        s = dict(layers=3, dim=16, heads=4, kv_heads=2, ffn_dim=40, vocab=50, tie=True)
        # per token: every weight of a projection or the LM head is one multiply-add (2 FLOPs);
        # attention: q.k and p.v over (position + 1) keys, dim per layer each, 2 FLOPs apiece.
        d, kv, f, V, L = 16, 8, 40, 50, 3
        weights = L * (d * d + d * kv + d * kv + d * d + d * f * 3) + d * V
        for start, n in ((0, 1), (0, 7), (5, 4), (11, 1)):
            brute = sum(2 * weights + L * 2 * (2 * d * (p + 1)) for p in range(start, start + n))
            self.assertAlmostEqual(sl.seq_flops(s, start, n), brute, delta=1e-9 * brute)

    def test_iteration_flops_split(self):
        s = sl.SHAPES["smollm2-135m"]
        pre, dec, train = sl.iteration_flops(s, 10, 20, 30, epochs=2)
        self.assertAlmostEqual(pre + dec, 10 * sl.seq_flops(s, 0, 50), delta=1e-6 * pre)
        self.assertAlmostEqual(train, 2 * 3 * 10 * sl.seq_flops(s, 0, 50), delta=1e-6 * train)


def simulate_ring_allreduce(n_bytes, p, alpha, beta):
    """Reduce-scatter then allgather on a ring, step by step: each step every rank sends one
    chunk of n/p bytes to its neighbour at the same time, costing alpha + chunk / beta."""
    chunk = n_bytes / p
    t = 0.0
    for _phase in ("reduce-scatter", "allgather"):
        for _step in range(p - 1):
            t += alpha + chunk / beta
    return t


class Collectives(unittest.TestCase):
    def test_ring_allreduce_matches_simulation(self):
        for p in (1, 2, 3, 8, 1000):
            for n in (4.0, 1e6, 5.4e8):
                want = simulate_ring_allreduce(n, p, 2e-6, 23e9)
                self.assertAlmostEqual(sl.ring_allreduce(n, p, 2e-6, 23e9), want, delta=1e-12 + 1e-9 * want)

    def test_intercomm_bcast(self):
        a, b, n = 1e-6, 1e9, 1e9
        self.assertEqual(sl.intercomm_bcast(n, 0, a, b), 0.0)
        self.assertAlmostEqual(sl.intercomm_bcast(n, 1, a, b), a + 1.0)  # one hop
        # 4 receivers: hop + scatter (log2 4 = 2 latencies) + ring allgather (3) + 2 * 3/4 of n
        self.assertAlmostEqual(sl.intercomm_bcast(n, 4, a, b), a + 1.0 + 5 * a + 1.5)
        # large p: bandwidth term tends to 3 n / beta (hop + scatter + allgather)
        self.assertAlmostEqual(sl.intercomm_bcast(n, 10**6, 0.0, b), 3.0, places=5)


class Fit(unittest.TestCase):
    def test_nnls_exact_and_constrained(self):
        rng = np.random.default_rng(1)
        A = rng.uniform(0.1, 1, (12, 3))
        x = np.array([2.0, 0.5, 3.0])
        np.testing.assert_allclose(sl.nnls(A, A @ x), x, rtol=1e-9)
        # the unconstrained solution has a negative coefficient; NNLS is the best with x >= 0,
        # checked against a dense grid search
        A = np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
        b = np.array([3.0, 2.0, 1.0])  # lstsq: [4, -1]
        got = sl.nnls(A, b)
        self.assertTrue(np.all(got >= 0))
        grid = np.linspace(0, 4, 201)
        best = min(((np.sum((A @ np.array([u, v]) - b) ** 2), u, v) for u in grid for v in grid))
        self.assertLessEqual(np.sum((A @ got - b) ** 2), best[0] + 1e-12)
        np.testing.assert_allclose(got, [2.0, 0.0], atol=1e-9)

    def synthetic(self, truth, alpha, beta):
        pts = []
        for R, T, k in itertools.product((1, 2, 4), (1, 2), (1, 3)):
            x = dict(R=R, T=T, f_prefill=1e9 * k, f_decode=4e8 * k, f_train=5e9 * k, steps=2 * k,
                     params=1e5, answers=32 * k, ckpt_bytes=1.2e6, grad_bytes=4e5, weight_bytes=4e5)
            pts.append((x, truth))
        data = []
        for x, _ in pts:
            parts = sl.predict_parts(truth, x, alpha, beta)
            data.append((x, {k: v for k, v in parts.items() if k not in sl.COMM_PARTS}))
        return data

    def test_fit_recovers_the_coefficients_and_loo_is_exact(self):
        truth = dict(s_per_flop_rollout=1 / 3e9, gen_fixed_s=0.01, s_per_answer=2e-4, rollout_fixed_s=0.02,
                     s_per_flop_train=1 / 2e9, train_fixed_s=0.03,
                     s_per_ckpt_byte=1 / 4e8, publish_fixed_s=0.0, other_fixed_s=0.005)
        a, b = 1e-6, 5e9
        data = self.synthetic(truth, a, b)
        got = sl.fit(data, a, b)
        for k, v in truth.items():
            self.assertAlmostEqual(got[k], v, delta=1e-6 * max(abs(v), 1e-12) + 1e-12, msg=k)
        totals = [sl.predict(truth, x, a, b) for x, _ in data]
        errs = sl.leave_one_out(data, a, b, totals)
        self.assertLess(max(abs(e) for e in errs), 1e-6)
        # a wrong point is caught: its leave-one-out error is its own deviation
        data[3][1]["gen"] *= 2
        totals[3] += data[3][1]["gen"] / 2
        errs = sl.leave_one_out(data, a, b, totals)
        self.assertGreater(abs(errs[3]), 0.05)


class Cluster(unittest.TestCase):
    def test_best_split_is_the_brute_force_optimum(self):
        s = sl.SHAPES["smollm2-135m"]
        work = dict(answers=4096, prompt_len=256, answer_len=512, steps=4)
        for N in (2, 5, 37, 200):
            R, T, parts = sl.best_split(s, N, work, sl.NODE, sl.MFU, sl.NETWORKS["hdr"])
            self.assertEqual(R + T, N)
            brute = min(sum(sl.cluster_parts(s, r, N - r, work, sl.NODE, sl.MFU, sl.NETWORKS["hdr"]).values())
                        for r in range(1, N))
            self.assertLessEqual(sum(parts.values()), brute * 1.02)  # the grid of 201 splits

    def test_decode_roofline(self):
        s = sl.SHAPES["7b"]
        P = sl.n_params(s)
        # one sequence per node: memory bound, each step reads the bf16 weights (and a tiny cache)
        work = dict(answers=1, prompt_len=1, answer_len=100, steps=1)
        t = sl.cluster_parts(s, 1, 1, work, sl.NODE, sl.MFU, sl.NETWORKS["hdr"])["decode"]
        self.assertAlmostEqual(t, 100 * 2 * P / sl.NODE["mem_bw"], delta=0.02 * t)
        # a huge batch: compute bound, FLOPs at the decode MFU
        work = dict(answers=1e6, prompt_len=1, answer_len=100, steps=1)
        t = sl.cluster_parts(s, 1, 1, work, sl.NODE, sl.MFU, sl.NETWORKS["hdr"])["decode"]
        _, dec, _ = sl.iteration_flops(s, 1e6, 1, 100)
        self.assertAlmostEqual(t, dec / (sl.NODE["flops"] * sl.MFU["decode"]), delta=1e-6 * t)

    def test_strong_scaling_compute_terms_shrink_as_one_over_nodes(self):
        s = sl.SHAPES["1b"]
        work = dict(answers=8192, prompt_len=256, answer_len=1024, steps=4)
        p1 = sl.cluster_parts(s, 10, 10, work, sl.NODE, sl.MFU, sl.NETWORKS["hdr"])
        p2 = sl.cluster_parts(s, 20, 20, work, sl.NODE, sl.MFU, sl.NETWORKS["hdr"])
        self.assertAlmostEqual(p2["prefill"], p1["prefill"] / 2, delta=1e-9)
        self.assertAlmostEqual(p2["train_compute"], p1["train_compute"] / 2, delta=1e-9)
        self.assertGreater(p2["allreduce"], p1["allreduce"])  # more ranks: more latency terms
        self.assertTrue(math.isclose(p2["publish"], p1["publish"]))


if __name__ == "__main__":
    unittest.main()
