"""nbgrader configuration of the course (``autograder/`` is the course root).

``python -m autograder release`` runs nbgrader's ``generate_assignment`` in a
temporary copy of this directory; stock nbgrader commands also work from a copy
(``nbgrader autograde`` writes ``submitted/``, ``autograded/`` and a gradebook,
which do not belong in the repository).
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "em-mixtures"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# The stock autograder runs the notebook in a Jupyter kernel: the venv's python3.
c.ExecutePreprocessor.timeout = 30
c.ExecutePreprocessor.kernel_name = "python3"
c.Execute.interrupt_on_timeout = True

# What replaces the solutions in the release (nbgrader's defaults, stated here
# because the corpus and the release test rely on them).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
