"""End-to-end corpora of submissions for ``python -m autograder grade``, one per assignment.

``autograder_corpus/<name>/build.py`` has ``build(dest)``, which writes the
submissions of assignment ``<name>`` into a folder and returns what each one
must get (:class:`Expected`); ``tests/test_autograder_corpus.py`` grades them
and compares.
"""
