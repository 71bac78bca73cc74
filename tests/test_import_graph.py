"""The packages' imports point one way and never round in a circle.

The layers and the forbidden imports are import-linter contracts in pyproject.toml;
circles are found here over the same graph (grimp's, which counts an import inside a
function like any other), so a lazy import cannot hide one. Each check also runs on
a copy of the code with a planted fault, to show that it would catch one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("survey_engine", "workers", "exports")

# Run in a fresh interpreter: grimp finds the packages by importing their specs from
# the path given, so a copy of the tree is read instead of the real one.
CIRCLES = textwrap.dedent("""
    import sys
    import grimp

    graph = grimp.build_graph(*sys.argv[1:], include_external_packages=False,
                              cache_dir=None)
    imports = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    # Tarjan's strongly connected components: any with two or more modules is a circle.
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in imports[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            part = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                part.append(other)
                if other == module:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    sys.setrecursionlimit(10_000)
    for module in sorted(imports):
        if module not in index:
            visit(module)
    for circle in circles:
        print("circle: " + " <-> ".join(circle))
""")


def _circles(tree: Path) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", CIRCLES, *PACKAGES],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return [line for line in run.stdout.splitlines() if line.startswith("circle:")]


def _contracts(tree: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(lint), str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tree / package,
            symlinks=True,
            ignore=shutil.ignore_patterns("__pycache__", "translations", "static", "migrations"),
        )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_there_is_no_import_circle():
    assert _circles(ROOT) == []


def test_the_layer_contracts_hold():
    run = _contracts(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_a_planted_circle_is_found_even_behind_a_lazy_import(tmp_path):
    tree = _copy(tmp_path)
    models = tree / "survey_engine" / "models.py"
    # The domain reaching back up into a view, the way lazy imports used to hide it.
    models.write_text(
        models.read_text()
        + textwrap.dedent("""

        def _planted():
            from survey_engine.admin import results  # noqa: F401
    """)
    )
    circles = _circles(tree)
    assert circles and any(
        "survey_engine.models" in c and "survey_engine.admin.results" in c for c in circles
    ), circles


def test_a_service_importing_the_web_breaks_a_contract(tmp_path):
    tree = _copy(tmp_path)
    service = tree / "survey_engine" / "intake" / "persist.py"
    service.write_text(service.read_text() + "\nfrom survey_engine.public import routes  # noqa\n")
    run = _contracts(tree)
    assert run.returncode != 0
    assert "BROKEN" in run.stdout and "survey_engine.intake.persist" in run.stdout
