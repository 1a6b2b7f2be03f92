"""Benchmarks of the course's reference implementations, autograder and book.

Run ``python -m benchmarks`` (``make bench``) for the full run, ``--quick``
(``make bench-quick``) for a smoke run on tiny sizes, ``--only NAME`` for one
benchmark. Each benchmark is one small script, ``bench_<name>.py``, with a
``run(cfg) -> list[Row]`` function; :mod:`benchmarks.__main__` runs them and
writes the table to ``benchmarks/results/``.
"""

BENCHMARKS = ("gaussian", "poisson", "bernoulli", "autograde", "book")
