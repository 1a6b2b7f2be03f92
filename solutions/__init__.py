"""Reference implementations of EM for mixture models.

Part of the distribution ``em-course`` (``pip install "em-course @ git+<repository URL>"``,
or ``make venv`` in a clone). One model per module, each describing itself to
the EM skeleton of :mod:`solutions.em` (the loop, SQUAREM, ``fit``):

* :mod:`solutions.poisson` — univariate Poisson mixtures;
* :mod:`solutions.gaussian` — univariate and multivariate Gaussian mixtures;
* :mod:`solutions.bernoulli` — mixtures of multivariate Bernoullis;
* :mod:`solutions.exponential` — mixtures of exponentials (the EM chapter's example);
* :mod:`solutions.mvn_missing` — a multivariate normal with values missing at random;
* :mod:`solutions.information` — standard errors by Louis's missing-information principle;
* :mod:`solutions.datasets` — the small real data sets used in the course.
"""

from .em import EMResult

__all__ = ["EMResult"]
