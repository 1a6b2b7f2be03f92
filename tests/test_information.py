"""Louis's formula against finite-difference Hessians of the log-likelihood."""

import numpy as np
import pytest

from solutions import exponential, information


def _exponential_parts(x, phi):
    """t_ik, complete-data scores and Hessians in phi = (pi_1, lam_1, lam_2).

    log p(x_i, z_i = k | phi) = log pi_k + log lam_k - lam_k x_i, pi_2 = 1 - pi_1.
    """
    pi = np.array([phi[0], 1 - phi[0]])
    lam = phi[1:]
    tau = exponential.e_step(x, pi, lam)
    n = x.size
    scores = np.zeros((n, 2, 3))
    hessians = np.zeros((n, 2, 3, 3))
    scores[:, 0, 0], scores[:, 1, 0] = 1 / pi[0], -1 / pi[1]
    scores[:, 0, 1] = 1 / lam[0] - x
    scores[:, 1, 2] = 1 / lam[1] - x
    hessians[:, 0, 0, 0], hessians[:, 1, 0, 0] = -1 / pi[0] ** 2, -1 / pi[1] ** 2
    hessians[:, 0, 1, 1], hessians[:, 1, 2, 2] = -1 / lam[0] ** 2, -1 / lam[1] ** 2
    return tau, scores, hessians


def _loglik(x, phi):
    return exponential.log_likelihood(x, [phi[0], 1 - phi[0]], phi[1:])


def fd_hessian(f, v, h=1e-5):
    p = v.size
    H = np.zeros((p, p))
    for a in range(p):
        for b in range(p):
            ea, eb = h * np.eye(p)[a], h * np.eye(p)[b]
            H[a, b] = (
                f(v + ea + eb) - f(v + ea - eb) - f(v - ea + eb) + f(v - ea - eb)
            ) / (4 * h * h)
    return H


@pytest.fixture(scope="module")
def x():
    return exponential.sample(300, [0.4, 0.6], [2.0, 0.3], random_state=2)[0]


@pytest.mark.parametrize("at_mle", [True, False])
def test_louis_matches_finite_differences(x, at_mle):
    res = exponential.fit(x, [0.5, 0.5], [1.0, 0.5], tol=1e-14, max_iter=20000)
    phi = np.array([res.params.pi[0], *res.params.lam])
    if not at_mle:  # the identity holds at every theta, not only the maximum
        phi = phi * np.array([1.1, 0.9, 1.2])
    I_obs = information.louis(*_exponential_parts(x, phi))
    H = fd_hessian(lambda p: _loglik(x, p), phi)
    np.testing.assert_allclose(I_obs, -H, rtol=1e-4, atol=1e-4 * np.abs(H).max())
    if at_mle:
        se = information.standard_errors(I_obs)
        np.testing.assert_allclose(se, np.sqrt(np.diag(np.linalg.inv(-H))), rtol=1e-4)


def test_no_missing_information_when_labels_are_certain(x):
    tau, scores, hessians = _exponential_parts(x, np.array([0.4, 2.0, 0.3]))
    hard = np.eye(2)[tau.argmax(axis=1)]
    np.testing.assert_allclose(information.missing_information(hard, scores), 0, atol=1e-12)
    I_c = information.complete_information(hard, hessians)
    np.testing.assert_allclose(information.louis(hard, scores, hessians), I_c)
    # With known labels: n_k / lam_k^2 for the rates.
    n_k = hard.sum(axis=0)
    np.testing.assert_allclose(np.diag(I_c)[1:], n_k / np.array([2.0, 0.3]) ** 2)


def test_missing_information_is_a_variance():
    rng = np.random.default_rng(0)
    tau = rng.dirichlet(np.ones(3), size=5)
    scores = rng.normal(size=(5, 3, 2))
    expected = sum(np.cov(scores[i].T, aweights=tau[i], bias=True) for i in range(5))
    np.testing.assert_allclose(information.missing_information(tau, scores), expected)


def test_standard_errors_checks_its_input():
    np.testing.assert_allclose(information.standard_errors([[4.0, 0.0], [0.0, 25.0]]), [0.5, 0.2])
    with pytest.raises(ValueError, match="positive definite"):
        information.standard_errors([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="symmetric"):
        information.standard_errors([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="shape"):
        information.louis(np.ones((3, 2)) / 2, np.zeros((3, 2)), np.zeros((3, 2, 1, 1)))
