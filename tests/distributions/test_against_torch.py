"""Every family against torch.distributions (when PyTorch is installed): the same
parameters give the same log_prob, entropy, mean, mode, variance, stddev, shapes, sample
dtypes and KL divergences."""
import numpy as np
import pytest

import tapegrad as tg
import tapegrad.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

COV = [[2.0, 0.6], [0.6, 1.0]]

# name: (parameters as keyword lists, values to score)
FAMILIES = {
    "Normal": (dict(loc=[0.0, 1.5, -2.0], scale=[1.0, 0.3, 2.5]), [0.1, 1.0, 3.0]),
    "Uniform": (dict(low=[0.0, -1.0, 2.0], high=[1.0, 1.0, 2.5]), [0.5, -0.9, 2.2]),
    "Bernoulli": (dict(probs=[0.1, 0.5, 0.97]), [1.0, 0.0, 0.0]),
    "Bernoulli-logits": (dict(logits=[-3.0, 0.0, 12.0]), [1.0, 0.0, 1.0]),
    "Categorical": (dict(probs=[[0.2, 0.3, 0.5], [0.0, 0.9, 0.1]]), [2, 1]),
    "Categorical-logits": (dict(logits=[[0.0, 1.0, -3.0], [5.0, 0.0, 0.0]]), [0, 2]),
    "Gamma": (dict(concentration=[0.5, 1.0, 7.0], rate=[1.0, 3.0, 0.2]), [0.3, 1.0, 40.0]),
    "Beta": (dict(concentration1=[0.5, 2.0, 5.0], concentration0=[0.5, 3.0, 1.2]),
             [0.01, 0.5, 0.9]),
    "MultivariateNormal": (dict(loc=[[0.0, 1.0], [2.0, -1.0]], covariance_matrix=COV),
                           [[0.5, 0.5], [1.0, 1.0]]),
    "MultivariateNormal-precision": (dict(loc=[0.0, 1.0], precision_matrix=COV), [0.3, -0.2]),
    "MultivariateNormal-scale_tril": (dict(loc=[0.0, 1.0], scale_tril=[[1.0, 0.0], [0.5, 2.0]]),
                                      [0.3, -0.2]),
}


def build(name):
    params, values = FAMILIES[name]
    family = name.split("-")[0]
    ours = getattr(D, family)(**{k: tg.tensor(v, dtype=tg.float64) for k, v in params.items()})
    theirs = getattr(TD, family)(**{k: torch.tensor(v, dtype=torch.float64)
                                    for k, v in params.items()})
    return ours, theirs, values


def close(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("name", FAMILIES)
def test_scores_and_summaries_agree(name):
    ours, theirs, values = build(name)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    dtype = tg.int64 if name.startswith("Categorical") else tg.float64
    close(ours.log_prob(tg.tensor(values, dtype=dtype)),
          theirs.log_prob(torch.tensor(values, dtype=torch.int64 if dtype is tg.int64
                                       else torch.float64)))
    close(ours.entropy(), theirs.entropy())
    for summary in ("mean", "mode", "variance", "stddev"):
        close(getattr(ours, summary), getattr(theirs, summary))


@pytest.mark.parametrize("name", FAMILIES)
def test_sample_shapes_and_dtypes_agree(name):
    ours, theirs, _ = build(name)
    ours32 = type(ours)(**{k: v.float() if v.dtype.is_floating_point else v
                           for k, v in ours.__dict__.items()
                           if k in ours.arg_constraints})
    assert tuple(ours.sample((4, 3)).shape) == tuple(theirs.sample((4, 3)).shape)
    assert str(ours.sample().dtype).split(".")[-1] == str(theirs.sample().dtype).split(".")[-1]
    assert ours32.sample().dtype == (tg.int64 if name.startswith("Categorical") else tg.float32)


@pytest.mark.parametrize("family", ["Normal", "Uniform", "Bernoulli", "Categorical", "Gamma",
                                    "Beta", "MultivariateNormal"])
def test_kl_divergences_agree(family):
    p, tp, _ = build(family)
    other = [n for n in FAMILIES if n.startswith(family) and n != family]
    if family == "Uniform":   # a q whose support holds p's
        q = D.Uniform(tg.tensor([-1.0, -2.0, 1.0], dtype=tg.float64),
                      tg.tensor([2.0, 1.5, 3.0], dtype=tg.float64))
        tq = TD.Uniform(torch.tensor([-1.0, -2.0, 1.0], dtype=torch.float64),
                        torch.tensor([2.0, 1.5, 3.0], dtype=torch.float64))
    elif other:
        q, tq, _ = build(other[0])
    else:   # the same family with its parameters reversed
        params, _ = FAMILIES[family]
        flipped = {k: v[::-1] for k, v in params.items()}
        q = getattr(D, family)(**{k: tg.tensor(v, dtype=tg.float64) for k, v in flipped.items()})
        tq = getattr(TD, family)(**{k: torch.tensor(v, dtype=torch.float64)
                                    for k, v in flipped.items()})
    close(D.kl_divergence(p, q), TD.kl_divergence(tp, tq))
    close(D.kl_divergence(q, p), TD.kl_divergence(tq, tp))


def test_cross_family_kl_divergences_agree():
    def make(lib, mod):
        t = (lambda v: lib.tensor(v, dtype=lib.float64))
        return {"Normal": mod.Normal(t([0.3, 0.5]), t([1.0, 0.4])),
                "Uniform": mod.Uniform(t([0.1, 0.0]), t([0.9, 3.0])),
                "Gamma": mod.Gamma(t([2.0, 0.7]), t([1.5, 1.0])),
                "Beta": mod.Beta(t([2.0, 0.7]), t([1.5, 3.0]))}
    ours, theirs = make(tg, D), make(torch, TD)
    for p in ours:
        for q in ours:
            if p != q:
                close(D.kl_divergence(ours[p], ours[q]), TD.kl_divergence(theirs[p], theirs[q]))
