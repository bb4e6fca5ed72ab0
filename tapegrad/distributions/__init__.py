"""``tapegrad.distributions``: probability distributions with PyTorch's names.

Each family is one file, its density, entropy and KL divergences in the docstring:
``Normal``, ``Uniform``, ``Bernoulli``, ``Categorical``, ``Gamma``, ``Beta``,
``MultivariateNormal``. They share ``Distribution``'s interface (``sample``, ``rsample``,
``log_prob``, ``entropy``, ``mean``, ``mode``, ``variance``, ``stddev``, ``batch_shape``,
``event_shape``, ``expand``); ``kl_divergence(p, q)`` looks up the closed form of KL(p ‖ q),
and ``register_kl`` adds one::

    dist = Normal(loc, scale)
    x = dist.rsample((100,))                 # differentiable in loc and scale
    loss = -dist.log_prob(x).mean()
"""
from . import constraints
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical
from .distribution import Distribution
from .gamma import Gamma
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Categorical", "Distribution", "Gamma", "MultivariateNormal",
           "Normal", "Uniform", "constraints", "kl_divergence", "register_kl"]
