"""Every data file the code reads ships in the wheel (the Docker image installs the wheel)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("omnicrm", "channels", "conversations", "crm_core", "nlu", "handoff")


def test_package_data_covers_every_non_python_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]
    missing = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(ROOT / package).as_posix()
            if not any(_matches(relative, pattern) for pattern in globs.get(package, [])):
                missing.append(f"{package}/{relative}")
    assert missing == [], "add these to [tool.setuptools.package-data] in pyproject.toml"


def _matches(relative: str, pattern: str) -> bool:
    """Glob as setuptools reads package-data: `*` stays inside one directory."""
    return relative.count("/") == pattern.count("/") and fnmatch(relative, pattern)
