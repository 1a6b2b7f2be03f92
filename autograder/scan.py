"""Static scan of a student's code for things an instructor should look at.

Nothing found here changes a grade (the grade depends only on what the
functions return); it lands in ``flags.csv``. Each finding is
``"<category>: <what> (<cell>, line <n>)"`` with these categories:

``course files``
    imports or names ``solutions``, ``autograder``, ``nbgrader``, or a string
    that looks like a path to a notebook or to the course's folders;
``file access``
    ``open``, ``pathlib``, ``glob``, ``os.listdir`` / ``walk`` / ``scandir``,
    ``np.load*`` and the like (the notebook needs no file);
``monkeypatch``
    assigning to an attribute of ``numpy``, ``scipy``, ``math``, ``sys``
    (``sys.displayhook``, ``sys.excepthook``, ``sys.modules``), ``builtins``,
    IPython, or calling ``setattr`` on them, or IPython hooks such as
    ``set_custom_exc``;
``sys.path``
    changing the module search path;
``process control``
    ``os._exit``, ``os.kill``, ``os.system``, ``subprocess``, ``ctypes``,
    ``signal``, ``multiprocessing``, ``socket``, shell commands (``!cmd``);
``dynamic code``
    ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``.
"""

from __future__ import annotations

import ast
import re

COURSE_MODULES = {"solutions", "autograder", "nbgrader"}
PROCESS_MODULES = {"subprocess", "ctypes", "signal", "multiprocessing", "socket", "pty", "cffi"}
FILE_MODULES = {"pathlib", "glob", "shutil", "fnmatch"}
PATCHED_MODULES = {"numpy", "scipy", "math", "sys", "builtins", "IPython", "warnings"}
OS_PROCESS = {"_exit", "kill", "killpg", "system", "popen", "fork", "forkpty", "execv", "execve",
              "execl", "execvp", "spawnv", "spawnl", "abort", "setsid", "posix_spawn"}
OS_FILES = {"listdir", "scandir", "walk", "open", "fdopen", "chdir", "getcwd", "readlink"}
NUMPY_FILES = {"load", "loadtxt", "genfromtxt", "fromfile", "memmap"}
IPYTHON_HOOKS = {"set_custom_exc", "register_magic_function", "events", "displayhook",
                 "display_pub", "run_cell", "ex", "user_ns", "push"}
DYNAMIC = {"exec", "eval", "compile", "__import__", "globals", "vars"}
NOTEBOOK_PATH = re.compile(r"\.ipynb|gradebook\.db", re.IGNORECASE)
PATH_WORDS = re.compile(r"solutions|autograder|nbgrader|source|release|submitted|autograded|"
                        r"work|home|root|\.\.", re.IGNORECASE)


def magic_bodies(node: ast.AST) -> list[ast.AST]:
    """The code of a ``%%writefile`` / ``%%time`` cell (the string argument of
    ``get_ipython().run_cell_magic``), which runs or is imported too."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "run_cell_magic" and len(node.args) == 3):
        return []
    body = node.args[2]
    if not (isinstance(body, ast.Constant) and isinstance(body.value, str)):
        return []
    try:
        return [ast.parse(body.value)]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []


class _Visitor:
    """Visits every node in source order (pre-order, as ``ast.NodeVisitor``),
    with an explicit stack: a 500-branch ``elif`` or a 500-term sum nests
    deeper than Python's recursion limit allows a recursive visitor to go."""

    def __init__(self, where: str, aliases: dict[str, str]) -> None:
        self.where = where
        self.aliases = aliases
        self.found: list[tuple[str, str, int]] = []
        self.code_strings: set[int] = set()  # cell-magic bodies: scanned as code instead

    def visit(self, tree: ast.AST) -> None:
        stack = [tree]
        while stack:
            node = stack.pop()
            bodies = magic_bodies(node)
            if bodies:
                self.code_strings.add(id(node.args[2]))
            handler = getattr(self, "visit_" + type(node).__name__, None)
            if handler is not None:
                try:
                    handler(node)
                except RecursionError:  # e.g. f()()()...: nothing to report there
                    pass
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
            stack.extend(reversed(bodies))

    def add(self, category: str, what: str, node: ast.AST) -> None:
        self.found.append((category, what, getattr(node, "lineno", 0)))

    def _module(self, name: str, node: ast.AST) -> None:
        top = name.split(".")[0]
        if top in COURSE_MODULES:
            self.add("course files", f"imports {name}", node)
        elif top in PROCESS_MODULES:
            self.add("process control", f"imports {name}", node)
        elif top in FILE_MODULES:
            self.add("file access", f"imports {name}", node)
        elif top == "importlib":
            self.add("dynamic code", f"imports {name}", node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(alias.name, node)
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.add("course files", f"relative import from {'.' * node.level}{module}", node)
        self._module(module, node)
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            self.aliases[alias.asname or alias.name] = full

    def dotted(self, node: ast.AST) -> str | None:
        """``np.testing.assert_allclose`` -> ``numpy.testing.assert_allclose``."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Call):
            inner = self.dotted(node.func)
            if inner is None:
                return None
            parts.append(inner + "()")
        elif isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
        elif isinstance(node, ast.Subscript):
            inner = self.dotted(node.value)
            if inner is None:
                return None
            parts.append(inner + "[]")
        else:
            return None
        return ".".join(reversed(parts))

    def _patched(self, target: ast.AST, node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            if target.id == "__builtins__":
                self.add("monkeypatch", "assigns __builtins__", node)
            return
        name = self.dotted(target)
        if name is None:
            return
        top = name.split(".")[0].removesuffix("[]").removesuffix("()")
        if name.startswith("sys.path"):
            self.add("sys.path", f"changes {name}", node)
        elif top in PATCHED_MODULES or top in ("__builtins__", "get_ipython"):
            self.add("monkeypatch", f"assigns {name}", node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # `ip = get_ipython()` or `n = np`: later `ip.displayhook = ...` is a patch too.
        source = self.dotted(node.value) if isinstance(
            node.value, (ast.Name, ast.Attribute, ast.Call)) else None
        if source and (source == "get_ipython()" or (
                "(" not in source and source.split(".")[0] in PATCHED_MODULES)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.aliases[target.id] = source
        for target in node.targets:
            for t in ast.walk(target) if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                if isinstance(t, (ast.Attribute, ast.Subscript, ast.Name)):
                    self._patched(t, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._patched(node.target, node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._patched(target, node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        top = name.split(".")[0]
        if isinstance(node.func, ast.Name) and node.func.id in ("open",):
            self.add("file access", "calls open()", node)
        elif isinstance(node.func, ast.Name) and node.func.id in DYNAMIC:
            self.add("dynamic code", f"calls {node.func.id}()", node)
        elif isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") and node.args:
            obj = self.dotted(node.args[0]) or ""
            if obj.split(".")[0] in PATCHED_MODULES | {"get_ipython()"}:
                self.add("monkeypatch", f"calls {node.func.id}({obj}, ...)", node)
        if top == "os" and last in OS_PROCESS:
            self.add("process control", f"calls {name}()", node)
        elif top == "os" and last in OS_FILES:
            self.add("file access", f"calls {name}()", node)
        elif top == "numpy" and last in NUMPY_FILES:
            self.add("file access", f"calls {name}()", node)
        elif top in ("io", "codecs") and last == "open":
            self.add("file access", f"calls {name}()", node)
        elif name.startswith("sys.path.") or top == "site":
            self.add("sys.path", f"calls {name}()", node)
        elif name.startswith("get_ipython().") and name != "get_ipython().run_line_magic":
            what = name.split(".", 1)[1]
            if what.split(".")[0] in IPYTHON_HOOKS:
                self.add("monkeypatch", f"calls {name}()", node)
            elif what == "system" or what == "getoutput":
                self.add("process control", "runs a shell command (!)", node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, str) and id(node) not in self.code_strings:
            pathlike = ("/" in value or "\\" in value) and PATH_WORDS.search(value)
            if NOTEBOOK_PATH.search(value) or pathlike or value.strip() in COURSE_MODULES:
                text = node.value if len(node.value) <= 60 else node.value[:57] + "..."
                self.add("course files", f"string {text!r}", node)


def scan(cells: list[tuple[str, str]]) -> list[str]:
    """Findings for the student's code cells, given as ``(label, python source)``.

    Imports are tracked across cells (``import numpy as np`` in one cell makes
    ``np.allclose = ...`` in a later one a numpy monkeypatch), and the code of
    cell magics such as ``%%writefile helper.py`` is scanned too. Cells that do
    not parse are skipped: running them reports the syntax error.
    """
    aliases = {"np": "numpy", "math": "math"}
    findings: list[str] = []
    seen: set[str] = set()
    for label, source in cells:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        visitor = _Visitor(label, aliases)
        visitor.visit(tree)
        for category, what, line in visitor.found:
            text = f"{category}: {what} ({label}, line {line})"
            if text not in seen:
                seen.add(text)
                findings.append(text)
    return findings
