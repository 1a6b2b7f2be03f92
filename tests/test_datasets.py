"""The bundled data sets: shapes, dtypes, totals and published summaries."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from solutions import datasets, poisson

DATA = Path(datasets.__file__).parent / "data"


def read_csv(name):
    with open(DATA / name, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_data_files_ship_next_to_the_module():
    for name in (
        "hasselblad_1969.csv",
        "old_faithful.csv",
        "horse_kicks.csv",
        "prussian_horse_kicks.csv",
        "README.md",
    ):
        assert (DATA / name).is_file(), name


def test_loading_does_not_depend_on_the_working_directory(tmp_path):
    # The installed package (make venv: pip install -e .), run from elsewhere
    # with no path set: the data files are found through the package.
    code = (
        "from solutions import datasets as d;"
        "print(d.old_faithful().shape, d.hasselblad_counts().size, d.horse_kicks().sum(),"
        " d.prussian_horse_kicks().size)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["(272,", "2)", "1096", "122", "280"]


def test_hasselblad():
    counts, freq = datasets.hasselblad()
    np.testing.assert_array_equal(counts, np.arange(10))
    # Hasselblad (1969) / Varadhan & Roland (2008), Table 1.
    np.testing.assert_array_equal(freq, [162, 267, 271, 185, 111, 61, 27, 8, 3, 1])
    assert np.issubdtype(counts.dtype, np.integer) and np.issubdtype(freq.dtype, np.integer)
    x = datasets.hasselblad_counts()
    assert x.shape == (1096,) and np.issubdtype(x.dtype, np.integer)
    np.testing.assert_array_equal(np.bincount(x), freq)


def test_hasselblad_reproduces_the_published_poisson_mle():
    # Varadhan & Roland (2008): log-likelihood -1989.946 at the two-component MLE.
    x = datasets.hasselblad_counts()
    res = poisson.fit(x, [0.3, 0.7], [1.0, 2.5], accelerate=True)
    assert res.loglik[-1] == pytest.approx(-1989.946, abs=1e-3)


def test_old_faithful():
    X = datasets.old_faithful()
    assert X.shape == (272, 2) and X.dtype == np.float64
    header, rows = read_csv("old_faithful.csv")
    assert tuple(header) == datasets.OLD_FAITHFUL_COLUMNS
    np.testing.assert_array_equal(X[0], [3.6, 79.0])
    # R: colMeans(faithful) = 3.487783, 70.897059; range(faithful$waiting) = 43, 96.
    np.testing.assert_allclose(X.mean(axis=0), [3.487783, 70.897059], atol=1e-6)
    assert X[:, 1].min() == 43 and X[:, 1].max() == 96
    assert X[:, 0].min() == 1.6 and X[:, 0].max() == 5.1
    assert len(rows) == 272


def test_horse_kicks_totals_from_the_csv():
    header, rows = read_csv("horse_kicks.csv")
    assert header == ["deaths", "corps_years"]
    table = np.array(rows, dtype=int)
    assert table[:, 1].sum() == 200
    assert table[:, 0] @ table[:, 1] == 122

    x = datasets.horse_kicks()
    assert x.shape == (200,) and np.issubdtype(x.dtype, np.integer)
    assert x.sum() == 122
    # Bortkiewicz's table: 109 corps-years with no death, 65 with one, ...
    np.testing.assert_array_equal(np.bincount(x), [109, 65, 22, 3, 1])


def test_prussian_records():
    rec = datasets.prussian_horse_kicks()
    assert rec.shape == (280,)
    assert rec.dtype.names == ("deaths", "year", "corps")
    assert np.issubdtype(rec["deaths"].dtype, np.integer)
    corps = np.unique(rec["corps"])
    assert corps.size == 14 and "G" in corps
    for c in corps:
        years = np.sort(rec["year"][rec["corps"] == c])
        np.testing.assert_array_equal(years, np.arange(1875, 1895))
    _, rows = read_csv("prussian_horse_kicks.csv")
    assert rec["deaths"].sum() == sum(int(r[0]) for r in rows)


def test_horse_kicks_agree_with_the_per_corps_records():
    rec = datasets.prussian_horse_kicks()
    kept = rec[~np.isin(rec["corps"], datasets.BORTKIEWICZ_EXCLUDED_CORPS)]
    assert kept.size == 200
    np.testing.assert_array_equal(np.sort(kept["deaths"]), datasets.horse_kicks())
    # ...and the four excluded corps make the difference.
    assert rec["deaths"].sum() - kept["deaths"].sum() == 16 + 16 + 17 + 25


def test_binarized_digits():
    from sklearn.datasets import load_digits

    X, y = datasets.binarized_digits()
    assert X.shape == (1797, 64) and X.dtype == np.uint8
    assert set(np.unique(X)) == {0, 1}
    assert y.shape == (1797,) and np.issubdtype(y.dtype, np.integer)
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    digits = load_digits()
    np.testing.assert_array_equal(X, digits.data > 8)
    np.testing.assert_array_equal(y, digits.target)

    X4, _ = datasets.binarized_digits(threshold=4)
    assert X4.sum() > X.sum()
    np.testing.assert_array_equal(X4, digits.data > 4)


def test_binarized_digits_subset():
    X, y = datasets.binarized_digits(digits=[0, 7])
    _, y_all = datasets.binarized_digits()
    assert set(np.unique(y)) == {0, 7}
    assert len(y) == np.sum((y_all == 0) | (y_all == 7))
    assert X.shape == (len(y), 64)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"digits": [3, 10]}, "among 0..9"),
        ({"digits": []}, "non-empty"),
        ({"threshold": np.nan}, "threshold must be finite"),
    ],
)
def test_binarized_digits_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.binarized_digits(**kwargs)
