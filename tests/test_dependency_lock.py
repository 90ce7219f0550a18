"""The dependency lock: uv.lock and its hash-pinned exports pin every dependency that
pyproject.toml names, for CPython 3.11 to 3.13 on Linux and macOS, and are in step with each
other (``scripts/lock`` writes all three)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as _canonical


def canonicalize_name(name: str) -> str:
    return str(_canonical(name))


ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+))?"
)


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def named(dev: bool) -> list[Requirement]:
    project = pyproject()["project"]
    names = list(project["dependencies"])
    if dev:
        names += project["optional-dependencies"]["dev"]
    return [Requirement(name) for name in names]


def pins(lock: str) -> dict[str, tuple[str, str, list[str]]]:
    """name -> (version, marker, hashes) of a requirements export."""
    text = (ROOT / lock).read_text()
    result: dict[str, tuple[str, str, list[str]]] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = _PIN.match(block)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            result[canonicalize_name(match["name"])] = (
                match["version"],
                (match["marker"] or "").strip(),
                hashes,
            )
    return result


def environments() -> list[dict[str, str]]:
    return [
        {
            "sys_platform": platform,
            "platform_system": system,
            "python_version": minor,
            "python_full_version": f"{minor}.0",
            "platform_python_implementation": "CPython",
            "implementation_name": "cpython",
            "os_name": "posix",
            "platform_machine": machine,
        }
        for platform, system in (("linux", "Linux"), ("darwin", "Darwin"))
        for minor in ("3.11", "3.12", "3.13")
        for machine in ("x86_64", "arm64")
    ]


@pytest.mark.parametrize(
    ("lock", "dev"), [("requirements.lock", False), ("requirements-dev.lock", True)]
)
def test_every_dependency_of_pyproject_is_pinned_with_hashes(lock: str, dev: bool) -> None:
    pinned = pins(lock)
    assert pinned, lock
    for requirement in named(dev):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not in {lock}: run scripts/lock"
        version, marker, hashes = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
        assert hashes, f"{name} has no hash in {lock}"
        for env in environments():
            # Installed on every supported platform and Python, not left out by a marker.
            assert not marker or Marker(marker).evaluate(env), (name, marker, env)
    # Extras are locked too (psycopg[binary] brings psycopg-binary).
    assert "psycopg-binary" in pinned
    # Everything pip installs is pinned and hashed (pip --require-hashes insists anyway).
    assert all(hashes for _version, _marker, hashes in pinned.values())


def test_the_runtime_lock_has_no_dev_tools() -> None:
    runtime = pins("requirements.lock")
    for requirement in named(dev=True)[len(named(dev=False)) :]:
        assert canonicalize_name(requirement.name) not in runtime, requirement.name


def test_uv_lock_was_made_from_this_pyproject() -> None:
    """uv.lock records the requirements it was resolved from; a dependency added to
    pyproject.toml without `scripts/lock` shows here."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    ours = next(package for package in lock["package"] if package["name"] == "dealcycle")
    recorded = {
        (canonicalize_name(entry["name"]), entry.get("specifier", ""), entry.get("marker", ""))
        for entry in ours["metadata"]["requires-dist"]
    }
    wanted: set[tuple[str, str, str]] = set()
    for requirement in named(dev=False):
        wanted.add((canonicalize_name(requirement.name), str(requirement.specifier), ""))
    for requirement in named(dev=True)[len(named(dev=False)) :]:
        wanted.add(
            (canonicalize_name(requirement.name), str(requirement.specifier), "extra == 'dev'")
        )

    def normal(items: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        return {(name, ",".join(sorted(spec.split(","))), marker) for name, spec, marker in items}

    assert normal(recorded) == normal(wanted)
    versions = {canonicalize_name(p["name"]): p["version"] for p in lock["package"]}
    for name, (version, _marker, _hashes) in pins("requirements-dev.lock").items():
        assert versions[name] == version, name


def test_the_exports_are_what_uv_makes_of_uv_lock() -> None:
    for lock, extra in (("requirements.lock", []), ("requirements-dev.lock", ["--extra", "dev"])):
        exported = subprocess.run(
            [
                str(UV),
                "export",
                "--frozen",
                "--offline",
                "--no-emit-project",
                *extra,
                "--format",
                "requirements.txt",
                "--no-header",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        on_file = "".join(
            line for line in (ROOT / lock).read_text().splitlines(True) if not line.startswith("#")
        )
        assert exported.strip() == on_file.strip(), f"{lock} is stale: run scripts/lock"
