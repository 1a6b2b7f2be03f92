"""The shared EM machinery: stopping rule, iteration counting, SQUAREM fallback,
the one log-sum-exp normaliser, the fit skeleton and its option checks."""

import dataclasses
import inspect

import numpy as np
import pytest
from scipy.special import logsumexp

from solutions import bernoulli, em, gaussian, poisson
from solutions.em import EMResult, Model, run_em

X = np.repeat(np.arange(10), [162, 267, 271, 185, 111, 61, 27, 8, 3, 1])
START = ([0.3, 0.7], [1.0, 2.5])


def relative_changes(trace: np.ndarray) -> np.ndarray:
    """|l(theta^q) - l(theta^(q-1))| / |l(theta^q)| for q = 1, 2, ..."""
    return np.abs(np.diff(trace)) / np.abs(trace[1:])


# --------------------------------------------------------------------------
# stopping rule: stop after iteration q when tol > 0 and
# |l(theta^q) - l(theta^(q-1))| <= tol |l(theta^q)|


def test_stopping_rule_is_relative_to_the_new_value_and_inclusive():
    # |new - old| = 2; tol |new| = 2.1 with the new value, 0.7 with the old one.
    assert em.stops(-3.0, -1.0, 0.7)
    assert not em.stops(-1.0, -3.0, 0.7)  # |new| = 1: 2 > 0.7
    # Equality stops (exact in binary: 1 = 2^-10 * 1024).
    assert em.stops(-1024.0, -1025.0, 2.0**-10)
    assert not em.stops(-1024.0, -1025.0, 2.0**-10 * (1 - 1e-15))
    # tol = 0 never stops, not even on an exactly repeated value.
    assert not em.stops(-5.0, -5.0, 0.0)
    assert em.stops(-5.0, -5.0, 1e-300)
    # Non-finite objectives never stop the run.
    assert not em.stops(-1.0, -np.inf, 1.0)
    assert not em.stops(np.nan, -1.0, 1.0)


@pytest.mark.parametrize("accelerate", [False, True])
def test_fit_stops_at_the_first_iteration_meeting_the_rule(accelerate):
    tol = 1e-7
    res = poisson.fit(X, *START, tol=tol, max_iter=10_000, accelerate=accelerate)
    assert res.converged and len(res.loglik) == res.n_iter + 1
    rel = relative_changes(res.loglik)
    assert rel[-1] <= tol and np.all(rel[:-1] > tol)


def test_rule_applies_to_the_map_objective_with_a_prior():
    """Bernoulli smoothing: EM increases the log-posterior; the rule reads that trace."""
    rng = np.random.default_rng(3)
    mu = np.array([[0.9, 0.8, 0.1, 0.2, 0.7], [0.1, 0.3, 0.9, 0.8, 0.2]])
    data, _ = bernoulli.sample(300, [0.4, 0.6], mu, random_state=rng)
    tol = 1e-9
    res = bernoulli.fit(data, [0.5, 0.5], [[0.6] * 5, [0.4] * 5], smoothing=1.0, tol=tol)
    assert res.converged
    rel = relative_changes(res.objective)
    assert rel[-1] <= tol and np.all(rel[:-1] > tol)
    # The log-likelihood trace is a different sequence (it is not what stopped the run).
    assert not np.allclose(res.loglik, res.objective)


def test_tol_zero_runs_exactly_max_iter():
    res = poisson.fit(X, *START, max_iter=17, tol=0)
    assert res.n_iter == 17 and len(res.loglik) == 18 and not res.converged
    fast = poisson.fit(X, *START, max_iter=17, tol=0, accelerate=True)
    assert fast.n_iter == 17 and len(fast.loglik) == 18 and not fast.converged


def test_tol_zero_keeps_going_at_a_fixed_point():
    """One component: the first M-step lands on the MLE, then the trace is constant."""
    counts = np.array([0, 1, 1, 2, 3, 5, 8])
    fixed = poisson.fit(counts, [1.0], [1.0], max_iter=6, tol=0)
    assert fixed.n_iter == 6 and not fixed.converged
    assert np.all(fixed.loglik[1:] == fixed.loglik[1])  # the MLE lam = mean, reached at once
    assert fixed.params.lam[0] == pytest.approx(counts.mean(), rel=1e-15)
    # Any tol > 0 stops at the first repeated value: iteration 2.
    stopped = poisson.fit(counts, [1.0], [1.0], max_iter=6, tol=1e-300)
    assert stopped.n_iter == 2 and stopped.converged


def test_max_iter_zero_returns_the_start():
    res = poisson.fit(X, *START, max_iter=0)
    np.testing.assert_array_equal(res.params.pi, START[0])
    assert res.loglik[0] == pytest.approx(poisson.log_likelihood(X, *START), rel=1e-14)
    assert res.n_iter == 0 and res.n_em_steps == 0 and not res.converged
    np.testing.assert_allclose(res.tau, poisson.e_step(X, *START), rtol=1e-14)


def test_loglik_zero_is_at_the_initial_parameters():
    res = poisson.fit(X, *START, max_iter=5)
    assert res.loglik[0] == pytest.approx(poisson.log_likelihood(X, *START), rel=1e-14)
    assert res.loglik[-1] == pytest.approx(poisson.log_likelihood(X, *res.params), rel=1e-14)


# --------------------------------------------------------------------------
# SQUAREM


def _counting(refuse: bool) -> tuple[Model, list]:
    """The Poisson model, counting its E-steps, optionally refusing every extrapolation."""
    inner = poisson._model(*poisson._compress(X.astype(float)))
    calls = []

    def e(theta):
        calls.append(1)
        return inner.e_step(theta)

    model = dataclasses.replace(
        inner, e_step=e, feasible=(lambda theta: False) if refuse else inner.feasible
    )
    return model, calls


def test_squarem_falls_back_to_plain_em_when_extrapolation_leaves_the_space():
    """If every extrapolated point is refused, SQUAREM must equal two plain EM steps per cycle."""
    model, calls = _counting(refuse=True)
    theta0 = poisson.PoissonParams(np.array(START[0]), np.array(START[1]))
    acc = run_em(model, theta0, max_iter=10, tol=0, accelerate=True)
    plain = poisson.fit(X, *START, max_iter=20, tol=0)
    np.testing.assert_allclose(acc.loglik, plain.loglik[::2], rtol=1e-13)
    np.testing.assert_allclose(acc.params.lam, plain.params.lam, rtol=1e-12)
    assert acc.n_em_steps == 20 and len(calls) == 21  # the start, then two per cycle


def test_squarem_fallback_stops_by_the_same_rule():
    """Refused extrapolations: the cycles are EM steps two by two, and the rule reads them."""
    model, _ = _counting(refuse=True)
    theta0 = poisson.PoissonParams(np.array(START[0]), np.array(START[1]))
    tol = 1e-8
    acc = run_em(model, theta0, max_iter=10_000, tol=tol, accelerate=True)
    assert acc.converged
    rel = relative_changes(acc.loglik)
    assert rel[-1] <= tol and np.all(rel[:-1] > tol)


def test_squarem_trace_never_decreases_from_many_starts():
    rng = np.random.default_rng(0)
    for _ in range(30):
        pi0 = rng.dirichlet(np.ones(3))
        lam0 = rng.uniform(0.1, 8.0, size=3)
        res = poisson.fit(X, pi0, lam0, accelerate=True, max_iter=200)
        assert np.all(np.diff(res.loglik) >= -1e-10 * abs(res.loglik[-1]))


def test_vector_round_trip_keeps_every_field_shape():
    theta = gaussian.GaussianParams(
        np.array([0.2, 0.8]), np.arange(6.0).reshape(2, 3), np.arange(18.0).reshape(2, 3, 3)
    )
    vec = em.to_vector(theta)
    assert vec.shape == (2 + 6 + 18,)
    back = em.from_vector(vec, theta)
    assert type(back) is gaussian.GaussianParams
    for got, want in zip(back, theta, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="26"):
        em.from_vector(np.r_[vec, 1.0], theta)


# --------------------------------------------------------------------------
# the normaliser


def test_normaliser_matches_scipy_logsumexp():
    rng = np.random.default_rng(1)
    log_joint = rng.normal(scale=300.0, size=(4, 50))  # exp() under/overflows
    log_joint[1, :10] = -np.inf  # a component impossible for some samples
    expected_norm = logsumexp(log_joint, axis=0)
    expected_tau = np.exp(log_joint - expected_norm)
    work = log_joint.copy()
    log_norm = em.normalise_log_joint(work)
    np.testing.assert_allclose(log_norm, expected_norm, rtol=1e-14)
    np.testing.assert_allclose(work, expected_tau, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(work.sum(axis=0), 1.0, rtol=1e-14)


def test_normaliser_on_an_impossible_sample_and_on_a_view():
    log_joint = np.array([[0.0, -np.inf, np.log(0.25)], [np.log(3.0), -np.inf, np.log(0.75)]])
    block = log_joint[:, 1:]  # a block of columns, as the Gaussian E-step passes it
    log_norm = em.normalise_log_joint(block)
    assert log_norm[0] == -np.inf and np.all(log_joint[:, 1] == 0.0)
    assert log_norm[1] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(log_joint[:, 2], [0.25, 0.75], rtol=1e-15)
    np.testing.assert_array_equal(log_joint[:, 0], [0.0, np.log(3.0)])  # untouched
    with pytest.raises(ValueError, match="sample 0 has zero probability"):
        em.raise_if_impossible(log_norm, "because")


# --------------------------------------------------------------------------
# the result


def test_result_is_a_plain_frozen_record():
    res = poisson.fit(X, *START, max_iter=3)
    assert isinstance(res, EMResult)
    for f in dataclasses.fields(res):
        assert not callable(getattr(res, f.name)), f.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.n_iter = 0
    # Responsibilities of each sample, expanded from the distinct counts on each access.
    expected = poisson.e_step(X, *res.params)
    assert res.row_tau.shape == (10, 2)
    np.testing.assert_allclose(res.tau, expected, rtol=1e-12)
    np.testing.assert_array_equal(res.tau, res.tau)


# --------------------------------------------------------------------------
# one fit skeleton, one rule for its options

BINARY = np.eye(4)[[0, 1, 2, 3] * 5]
FITS = {
    "poisson": (lambda **kw: poisson.fit(X[150:200], *START, **kw)),
    "gaussian": (
        lambda **kw: gaussian.fit(X[150:200], [0.5, 0.5], [0.0, 2.0], [1.0, 1.0], **kw)
    ),
    "bernoulli": (
        lambda **kw: bernoulli.fit(BINARY, [0.5, 0.5], [[0.5] * 4, [0.3] * 4], **kw)
    ),
}
SAMPLES = {
    "poisson": (lambda n: poisson.sample(n, *START)),
    "gaussian": (lambda n: gaussian.sample(n, [0.5, 0.5], [0.0, 2.0], [1.0, 1.0])),
    "bernoulli": (lambda n: bernoulli.sample(n, [0.5, 0.5], np.full((2, 3), 0.5))),
}
BAD_LOOP_OPTIONS = [
    (dict(max_iter=-1), "max_iter must be a non-negative integer"),
    (dict(max_iter=2.5), "max_iter must be a non-negative integer"),
    (dict(max_iter="10"), "max_iter must be a non-negative integer"),
    (dict(max_iter=True), "max_iter must be a non-negative integer"),
    (dict(tol=-1e-3), "tol must be a finite number >= 0"),
    (dict(tol=np.nan), "tol must be a finite number >= 0"),
    (dict(tol=np.inf), "tol must be a finite number >= 0"),
    (dict(tol="small"), "tol must be a finite number >= 0"),
]


@pytest.mark.parametrize("model", sorted(FITS))
@pytest.mark.parametrize("kwargs, match", BAD_LOOP_OPTIONS)
def test_every_fit_and_run_em_share_one_rule_for_the_loop_options(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        FITS[model](**kwargs)
    theta0 = poisson.PoissonParams(np.array(START[0]), np.array(START[1]))
    with pytest.raises(ValueError, match=match):
        run_em(_counting(refuse=False)[0], theta0, **kwargs)


@pytest.mark.parametrize("model", sorted(FITS))
def test_integral_float_max_iter_is_accepted(model):
    res = FITS[model](max_iter=3.0, tol=0)
    assert res.n_iter == 3 and len(res.loglik) == 4


@pytest.mark.parametrize("model", sorted(SAMPLES))
@pytest.mark.parametrize("n", [2.5, -1, "3", None])
def test_every_sample_validates_n(model, n):
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        SAMPLES[model](n)


@pytest.mark.parametrize("model", sorted(SAMPLES))
def test_sample_accepts_an_integral_float(model):
    drawn, z = SAMPLES[model](4.0)
    assert len(drawn) == 4 and len(z) == 4


@pytest.mark.parametrize("module", [poisson, gaussian, bernoulli])
def test_fit_docstrings_share_one_text(module):
    doc = module.fit.__doc__
    for part in em.FIT_DOCS.values():
        first = part.strip().splitlines()[0]
        assert first in doc
    assert "{start" not in doc and "{returns}" not in doc and "{accelerate}" not in doc
    # Every parameter documented once, in signature order (numpydoc header lines).
    params = doc.split("Parameters\n----------\n")[1].split("\n\nReturns")[0]
    documented = [
        name
        for line in params.splitlines()
        if line and not line.startswith(" ")
        for name in line.split(" : ")[0].split(", ")
    ]
    assert documented == list(inspect.signature(module.fit).parameters)


def test_fit_validates_every_option_before_building_the_model():
    built = []

    def make_model():
        built.append(1)
        return poisson._model(*poisson._compress(X.astype(float)))

    options = dict(n_components=None, n_init=1, init="kmeans++", random_state=None,
                   max_iter=10, tol=0.0, accelerate=False)
    check = poisson._check_params
    for bad, match in [
        (dict(max_iter=-1), "max_iter"),
        (dict(tol=-1.0), "tol"),
        (dict(n_components=2, n_init=0), "n_init"),
        (dict(n_components=2, init="bogus"), "init"),
    ]:
        with pytest.raises(ValueError, match=match):
            em.fit(make_model, (None, None), check, **(options | bad))
    with pytest.raises(ValueError, match="all initial parameters or none"):
        em.fit(make_model, (START[0], None), check, **options)
    assert built == []
    res = em.fit(make_model, START, check, **options)
    assert built == [1] and res.n_iter == 10
    np.testing.assert_allclose(res.loglik, poisson.fit(X, *START, max_iter=10, tol=0).loglik)
