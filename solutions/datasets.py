"""Small real data sets used in the course, shipped with the package.

Everything is read from plain CSV files in ``solutions/data/`` (next to this
module, so a clone of the repository has them) or from scikit-learn's bundled
copy of the UCI digits; nothing is downloaded. Sources are listed in
``solutions/data/README.md`` and in each function's docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np

__all__ = [
    "BORTKIEWICZ_EXCLUDED_CORPS",
    "OLD_FAITHFUL_COLUMNS",
    "binarized_digits",
    "hasselblad",
    "hasselblad_counts",
    "horse_kicks",
    "old_faithful",
    "prussian_horse_kicks",
]

OLD_FAITHFUL_COLUMNS = ("eruptions_min", "waiting_min")
"""Columns of :func:`old_faithful`: eruption length and waiting time to the next, in minutes."""

BORTKIEWICZ_EXCLUDED_CORPS = ("G", "I", "VI", "XI")
"""Corps left out of Bortkiewicz's 200 corps-years (they were organised differently)."""


def _read_csv(name: str, dtype: object = float) -> np.ndarray:
    """A numeric CSV with one header line, as a 2-D array."""
    with resources.files(__package__).joinpath("data", name).open("r", encoding="utf-8") as f:
        return np.loadtxt(f, delimiter=",", skiprows=1, dtype=dtype, ndmin=2)


def hasselblad() -> tuple[np.ndarray, np.ndarray]:
    """Hasselblad's (1969) counts as a frequency table.

    Source: Hasselblad (1969), *Journal of the American Statistical Association* 64(328):1459–1471, as used by Varadhan
    & Roland (2008) to illustrate SQUAREM on a two-component Poisson mixture.

    Returns
    -------
    counts : ndarray of shape (10,), int
        The values 0, 1, ..., 9.
    frequencies : ndarray of shape (10,), int
        How often each value was observed (1,096 observations in all).
    """
    table = _read_csv("hasselblad_1969.csv", dtype=np.int64)
    return table[:, 0], table[:, 1]


def hasselblad_counts() -> np.ndarray:
    """The 1,096 raw counts of :func:`hasselblad`, in increasing order (int)."""
    counts, freq = hasselblad()
    return np.repeat(counts, freq)


def old_faithful() -> np.ndarray:
    """Old Faithful geyser: 272 eruptions.

    Source: R ``datasets::faithful``, from Härdle (1991), *Smoothing
    Techniques with Implementation in S*, Springer (Azzalini & Bowman 1990,
    *Applied Statistics* 39:357–365, analyse a longer 299-eruption series).

    Returns
    -------
    ndarray of shape (272, 2), float
        Columns :data:`OLD_FAITHFUL_COLUMNS`: eruption length and waiting time
        to the next eruption, both in minutes.
    """
    return _read_csv("old_faithful.csv")


def horse_kicks() -> np.ndarray:
    """Deaths by horse kick in the Prussian army: one count per corps-year (200, int).

    Bortkiewicz's (1898) classic Poisson example: 10 army corps over the 20
    years 1875–1894 (the corps in :data:`BORTKIEWICZ_EXCLUDED_CORPS` left out),
    122 deaths in all. Source: Bortkiewicz (1898), *Das Gesetz der kleinen
    Zahlen*, via R ``vcd::HorseKicks`` (a frequency table, expanded here in
    increasing order).
    """
    table = _read_csv("horse_kicks.csv", dtype=np.int64)
    return np.repeat(table[:, 0], table[:, 1])


def prussian_horse_kicks() -> np.ndarray:
    """Deaths by horse kick, one record per corps and year (280 records).

    All 14 corps over 1875–1894. Source: R ``pscl::prussian`` (from Bortkiewicz
    1898). Restricting to the corps not in :data:`BORTKIEWICZ_EXCLUDED_CORPS`
    gives :func:`horse_kicks`.

    Returns
    -------
    ndarray of shape (280,), structured
        Fields ``deaths`` (int), ``year`` (int) and ``corps`` (str, Roman
        numerals and ``"G"`` for the Guard), e.g.
        ``rec["deaths"][rec["corps"] == "II"]``.
    """
    dtype = np.dtype([("deaths", np.int64), ("year", np.int64), ("corps", "U4")])
    path = resources.files(__package__).joinpath("data", "prussian_horse_kicks.csv")
    with path.open("r", encoding="utf-8") as f:
        header = f.readline().strip().split(",")
        if tuple(header) != dtype.names:
            raise ValueError(f"unexpected columns {header} in {path}")
        rows = [tuple(line.strip().split(",")) for line in f if line.strip()]
    return np.array([(int(d), int(y), c) for d, y, c in rows], dtype=dtype)


def binarized_digits(
    threshold: float = 8.0, digits: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 handwritten digits, binarised.

    Source: the UCI optical recognition of handwritten digits test set
    (Alpaydin & Kaynak 1998) as bundled with scikit-learn
    (:func:`sklearn.datasets.load_digits`: 1,797 images, grey levels 0–16).
    A pixel is 1 when its grey level exceeds ``threshold``.

    Parameters
    ----------
    threshold : float
        Grey level (0–16 scale) above which a pixel is set to 1.
    digits : sequence of int, optional
        Keep only these classes (e.g. ``[0, 1, 7]``); all ten by default.

    Returns
    -------
    X : ndarray of shape (n, 64), uint8
        Binary images, row-major 8×8.
    y : ndarray of shape (n,), int
        The digit each image shows.
    """
    from sklearn.datasets import load_digits

    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    data = load_digits()
    X = (data.data > threshold).astype(np.uint8)
    y = data.target.astype(np.int64)
    if digits is not None:
        keep = np.asarray(digits)
        if keep.ndim != 1 or keep.size == 0:
            raise ValueError(f"digits must be a non-empty sequence of classes, got {digits!r}")
        if not np.all(np.isin(keep, np.arange(10))):
            raise ValueError(f"digits must be classes among 0..9, got {digits!r}")
        mask = np.isin(y, keep)
        X, y = X[mask], y[mask]
    return X, y
