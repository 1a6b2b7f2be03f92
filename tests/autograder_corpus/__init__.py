"""End-to-end corpus of submissions for ``python -m autograder grade``.

:func:`build.build` writes the submissions into a folder and returns what each
one must get; ``tests/test_autograder_corpus.py`` grades them and compares.
"""
