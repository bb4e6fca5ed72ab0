"""Checking sampled moments with tolerances that follow from the sample size.

The mean of n independent draws has standard error σ/√n; the sample variance has
standard error √((μ₄ - σ⁴)/n), μ₄ the fourth central moment (estimated from the draws).
Every check allows 5 standard errors: with a seeded draw it is deterministic anyway, and
an unseeded one would fail about once in 1.7 million runs, while a wrong mean or variance
(off by more than a few per mille at these sizes) fails every time.
"""
import numpy as np

WIDTH = 5.0


def assert_mean(samples, mean, axis=0):
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.shape[axis]
    error = samples.std(axis=axis) / np.sqrt(n)
    gap = np.abs(samples.mean(axis=axis) - mean)
    assert np.all(gap <= WIDTH * error + 1e-12), (
        f"sample mean {samples.mean(axis=axis)} is not within {WIDTH} standard errors "
        f"({error}) of {mean}")


def assert_variance(samples, variance, axis=0):
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.shape[axis]
    centred = samples - samples.mean(axis=axis, keepdims=True)
    m2 = (centred ** 2).mean(axis=axis)
    m4 = (centred ** 4).mean(axis=axis)
    error = np.sqrt(np.maximum(m4 - m2 ** 2, 0) / n)
    gap = np.abs(m2 - variance)
    assert np.all(gap <= WIDTH * error + 1e-12), (
        f"sample variance {m2} is not within {WIDTH} standard errors ({error}) of {variance}")
