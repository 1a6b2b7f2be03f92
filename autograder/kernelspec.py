"""The Jupyter kernel that stock nbgrader runs: this virtual environment's ``python3``.

The ipykernel wheel installs ``share/jupyter/kernels/python3`` into the
environment (``jupyter kernelspec list`` shows it under ``.venv/``), and
jupyter_client starts its ``python`` as the interpreter that runs nbgrader.
:func:`ensure_python3_kernel` installs it with ``--sys-prefix`` if it is missing.
Our own grader does not use Jupyter kernels.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def ensure_python3_kernel() -> Path:
    """The environment's ``python3`` kernel spec directory, installed if needed."""
    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3"
    if not (spec / "kernel.json").is_file():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"],
                       check=True, capture_output=True)
    return spec
