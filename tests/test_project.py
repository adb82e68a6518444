"""Project hygiene: docs that cannot drift, library boundaries, lint."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "aggregator"

# Each third-party library enters through one module (or one package).
BOUNDARIES = {
    "feedparser": ["pipeline/parse.py"],
    "feedgen": ["publish/render.py"],
    "apscheduler": ["scheduler.py"],
    "sqlmodel": ["store/"],
    "sqlalchemy": ["store/"],
    "alembic": ["store/schema.py", "store/migrations/"],
    "ruamel": ["config.py"],
    "aiohttp": ["pipeline/fetch.py"],
    "nh3": ["text/html.py"],
    "uvicorn": ["web/"],
    "py3langid": ["text/language.py"],
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_each_library_enters_through_one_module() -> None:
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        for library in _imports(path) & BOUNDARIES.keys():
            allowed = BOUNDARIES[library]
            assert any(rel == a or (a.endswith("/") and rel.startswith(a)) for a in allowed), \
                f"{rel} imports {library}; only {allowed} may"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_and_is_documented(command: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: aggregator {command}" in capsys.readouterr().out
    assert f"`aggregator {command}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_parser_knows_exactly_the_commands() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = next(line for line in ci.splitlines() if "pytest" in line).strip()
    assert command in readme


def test_python_dash_m_runs(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "aggregator", "--version"],
                            capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0 and result.stdout.startswith("aggregator ")


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    result = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout
