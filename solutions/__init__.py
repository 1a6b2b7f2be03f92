"""Reference implementations of EM for mixture models.

One model per module, all sharing the loop in :mod:`solutions.em`:

* :mod:`solutions.poisson` — univariate Poisson mixtures;
* :mod:`solutions.gaussian` — univariate and multivariate Gaussian mixtures;
* :mod:`solutions.bernoulli` — mixtures of multivariate Bernoullis;
* :mod:`solutions.datasets` — the small real data sets used in the course.
"""

from .em import EMResult

__all__ = ["EMResult"]
