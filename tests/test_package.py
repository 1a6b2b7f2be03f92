"""The course as an installable package (pyproject.toml, distribution ``em-course``).

``import solutions`` and ``import autograder`` work from any directory with no
path edits; a chapter notebook runs outside a clone; a built wheel holds the
data files and the autograder's notebooks, and works installed on its own.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DATA_FILES = sorted(p.name for p in (REPO / "solutions" / "data").glob("*.csv"))
NOTEBOOKS = [
    "autograder/source/poisson_mixture/poisson_mixture.ipynb",
    "autograder/release/poisson_mixture/poisson_mixture.ipynb",
]


def _env(**extra: str) -> dict[str, str]:
    """This environment without any Python path setting (as a student's shell)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return env | extra


def _python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=_env(**env), capture_output=True,
        text=True, timeout=300,
    )


def test_packages_import_from_any_directory_without_path_edits(tmp_path):
    code = (
        "import json, autograder, autograder.assignments.poisson_mixture.reference, solutions, solutions.poisson;"
        "print(json.dumps([solutions.__file__, autograder.__file__]))"
    )
    out = _python(code, tmp_path)
    assert out.returncode == 0, out.stderr
    sol, grader = (Path(p).resolve() for p in json.loads(out.stdout))
    # The editable install of `make venv`: the checkout's own code, not a copy.
    assert sol == (REPO / "solutions" / "__init__.py").resolve()
    assert grader == (REPO / "autograder" / "__init__.py").resolve()


PATH_EDIT = re.compile(r"sys\.path\s*(\.\s*(insert|append|extend)\s*\(|\+?=)")


def test_nothing_edits_the_import_path():
    """Chapters, library, autograder, benchmarks and pytest find the packages installed."""
    files = [
        *(REPO / "chapters").glob("*.md"),
        *(REPO / "solutions").glob("*.py"),
        *(REPO / "autograder").glob("*.py"),
        *(REPO / "benchmarks").glob("*.py"),
    ]
    offenders = [str(f.relative_to(REPO)) for f in files if PATH_EDIT.search(f.read_text())]
    # The sandboxed child puts the student's working directory on its path, as
    # Jupyter does (a module written with %%writefile); that finds no course code.
    assert offenders == ["autograder/_driver.py"]
    driver = (REPO / "autograder" / "_driver.py").read_text()
    assert len(PATH_EDIT.findall(driver)) == 1 and "sys.path.insert(0, here)" in driver
    ini = (REPO / "pytest.ini").read_text()
    assert re.search(r"^pythonpath\s*=\s*tests\s*$", ini, re.M), "only tests/ (test helpers)"


def _chapter_notebook(name: str, dest: Path) -> Path:
    """A chapter as the notebook a reader downloads (MyST Markdown -> .ipynb)."""
    import nbformat
    from myst_nb.core.read import read_myst_markdown_notebook

    nb = read_myst_markdown_notebook((REPO / "chapters" / f"{name}.md").read_text())
    path = dest / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


RUN_NOTEBOOK = """
import sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=300, kernel_name="em-course-test",
               resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, "executed.ipynb")
"""


@pytest.mark.parametrize(
    "chapter, printed",
    [
        ("preface", "log-likelihood -1989.946"),  # imports solutions, loads a data set, fits
        # Figures: pyplot without the old hidden cell, no matplotlibrc around.
        pytest.param("latent_variables", None, marks=pytest.mark.slow),
    ],
)
def test_downloaded_chapter_runs_outside_a_clone(tmp_path, chapter, printed):
    # A directory with nothing of the repository: the notebook, and a kernel
    # spec for this environment's Python (a student's Jupyter kernel).
    kernels = tmp_path / "jupyter" / "kernels" / "em-course-test"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "em-course test", "language": "python",
    }))
    work = tmp_path / "downloads"
    work.mkdir()
    notebook = _chapter_notebook(chapter, work)
    run = subprocess.run(
        [sys.executable, "-c", RUN_NOTEBOOK, notebook.name], cwd=work, capture_output=True,
        text=True, timeout=600,
        env=_env(JUPYTER_PATH=str(tmp_path / "jupyter"), MPLBACKEND="Agg"),
    )
    assert "ModuleNotFoundError" not in run.stdout + run.stderr
    assert run.returncode == 0, run.stderr[-3000:]
    import nbformat

    executed = nbformat.read(work / "executed.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    if printed:
        text = "".join(o.get("text", "") for c in code for o in c.outputs)
        assert printed in text


def _source_tree(dest: Path) -> Path:
    """The files a wheel is built from, copied (building writes build/ next to them)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for package in ("solutions", "autograder"):
        shutil.copytree(REPO / package, dest / package,
                        ignore=shutil.ignore_patterns("__pycache__", ".work", "*.pyc"))
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    src = _source_tree(root / "src")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", str(src), "-w", str(root / "dist")],
        capture_output=True, text=True, timeout=300, env=_env(),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (found,) = (root / "dist").glob("em_course-*.whl")
    return found


def test_wheel_holds_the_packages_their_data_and_nothing_else(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for csv in DATA_FILES:
        assert f"solutions/data/{csv}" in names
    assert len(DATA_FILES) >= 4
    for nb in NOTEBOOKS:
        assert nb in names
    assert "autograder/nbgrader_config.py" in names
    for package in ("solutions", "autograder"):
        for module in (REPO / package).rglob("*.py"):  # subpackages too (assignments)
            if "__pycache__" not in module.parts and not module.is_relative_to(
                    REPO / "autograder" / "source"):
                assert module.relative_to(REPO).as_posix() in names
    # No tests, benchmarks, chapters or build leftovers: the two packages and the metadata.
    tops = {n.split("/")[0] for n in names}
    version = PYPROJECT["project"]["version"]
    assert tops == {"solutions", "autograder", f"em_course-{version}.dist-info"}


def test_wheel_installed_alone_finds_its_data(wheel, tmp_path):
    """The student's install: not editable, run from elsewhere; data through the package."""
    site = tmp_path / "site"
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
         str(site), str(wheel)],
        capture_output=True, text=True, timeout=300, env=_env(),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    code = (
        "import json\n"
        "from importlib import resources\n"
        "import solutions, autograder\n"
        "from solutions import datasets, poisson\n"
        "res = poisson.fit(datasets.hasselblad_counts(), [0.3, 0.7], [1.0, 2.5], accelerate=True)\n"
        "nb = resources.files('autograder').joinpath("
        "'release', 'poisson_mixture', 'poisson_mixture.ipynb')\n"
        "print(json.dumps([solutions.__file__, autograder.__file__,"
        " datasets.old_faithful().shape[0], float(res.loglik[-1]), nb.is_file()]))\n"
    )
    run = _python(code, tmp_path, PYTHONPATH=str(site))
    assert run.returncode == 0, run.stderr
    sol, grader, faithful, loglik, notebook = json.loads(run.stdout)
    assert Path(sol).resolve().is_relative_to(site.resolve())
    assert Path(grader).resolve().is_relative_to(site.resolve())
    assert faithful == 272 and notebook
    assert loglik == pytest.approx(-1989.946, abs=1e-3)


def _requirement(line: str) -> tuple[str, str]:
    name, spec = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", line.strip()).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_declared_dependencies_match_requirements_txt():
    """pyproject.toml's ranges are those requirements.txt pins for the whole toolchain."""
    pinned = dict(
        _requirement(line)
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    project = PYPROJECT["project"]
    declared = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        declared += extra
    assert declared
    for line in declared:
        name, spec = _requirement(line)
        assert pinned.get(name) == spec, line
    assert project["name"] == "em-course"
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == [
        "solutions", "autograder", "autograder.*"]


def _imports(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (at the top or inside
    a function: a lazy import is still a dependency)."""
    import ast

    root = REPO / package
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.with_suffix("").relative_to(REPO).parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and ast.unparse(block.test).endswith("TYPE_CHECKING")
                       for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:  # for annotations only, never imported
                continue
            if isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                deps.add(target)
                deps.update(f"{target}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


@pytest.mark.parametrize("package", ["autograder", "solutions"])
def test_no_import_cycles(package):
    """No module imports, even lazily, a module that imports it back (grade and
    report once did: results now live in autograder.results)."""
    graph = _imports(package)
    assert graph[f"{package}.grade" if package == "autograder" else "solutions.em"]
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for dep in sorted(graph[name]):
            if dep == package:  # the package's __init__ only re-exports
                continue
            assert dep not in path, " -> ".join([*path[path.index(dep):], dep])
            if dep not in done:
                visit(dep, [*path, dep])
        done.add(name)

    for name in sorted(graph):
        if name != package:
            visit(name, [name])
