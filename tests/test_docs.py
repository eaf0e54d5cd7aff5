"""The docs site: it builds with ``mkdocs build --strict``, every Python example on its pages runs
(each page in a fresh interpreter, top to bottom), and docstrings pass griffe's checks.

A block that cannot run here is preceded by ``<!-- not run: reason -->`` (it needs another
machine, or it is a listing of signatures); the reason shows in the test's output.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(?:<!-- not run: (?P<reason>.*?) -->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "api" not in p.relative_to(DOCS).parts)


def _blocks(page: Path) -> tuple[list[str], list[str]]:
    """(code of the blocks to run, reasons of the blocks not run)."""
    run, skipped = [], []
    for m in BLOCK.finditer(page.read_text(encoding="utf-8")):
        if m.group("reason"):
            skipped.append(m.group("reason"))
        else:
            run.append(m.group("code"))
    return run, skipped


#: pages whose examples a test of their own runs (files written from ``# file:`` blocks, shell lines)
RUN_ELSEWHERE = {"devices.md": "tests/docs/test_devices_guide.py"}
PAGES = [
    p for p in _pages() if _blocks(p)[0] and p.relative_to(DOCS).as_posix() not in RUN_ELSEWHERE
]


def test_pages_run_elsewhere_have_their_test():
    for page, test in RUN_ELSEWHERE.items():
        assert (DOCS / page).is_file() and (ROOT / test).is_file()
        assert page in (ROOT / test).read_text(encoding="utf-8")


def test_the_tutorials_all_have_examples():
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    tutorials = {p.relative_to(DOCS).as_posix() for p in (DOCS / "tutorials").glob("*.md")}
    assert tutorials and tutorials <= names
    skipped = [(p.name, r) for p in _pages() for r in _blocks(p)[1]]
    assert all(reason.strip() for _, reason in skipped)
    assert len(skipped) <= 6, skipped  # a few listings; every other example runs


@pytest.mark.slow
@pytest.mark.parametrize("doc", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_page_examples_run(doc, tmp_path):
    code = "\n".join(_blocks(doc)[0])
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(tmp_path), "LABKIT_RUNTIME_DIR": str(runtime)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert out.returncode == 0, f"{doc.name}:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    site = tmp_path / "site"
    assert (site / "api" / "engine" / "index.html").is_file()
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):  # the notebooks are rendered
        page = site / "notebooks" / notebook.stem / "index.html"
        assert page.is_file(), page
        first_code = next(
            c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"
        )
        assert "".join(first_code["source"]).splitlines()[0].split()[-1] in page.read_text()


def test_docstrings_pass_griffes_checks():
    import griffe

    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("griffe")
    logger.addHandler(handler)
    try:
        package = griffe.load("labkit", search_paths=[str(ROOT)], allow_inspection=False)

        def walk(obj) -> None:
            if obj.docstring:
                obj.docstring.parse("google")
            for member in obj.members.values():
                if not member.is_alias:
                    walk(member)

        walk(package)
    finally:
        logger.removeHandler(handler)
    assert warnings == []
