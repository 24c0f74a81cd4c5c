"""The lock files (`make lock`) hold every pin of pyproject.toml at the same version, and agree with
each other, so `make install` and the image install exactly what pyproject.toml names."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# which pyproject groups each lock must hold (the Makefile's LOCK, TEST_LOCK and DEV_LOCK)
LOCKS = {
    "requirements.lock": ("dependencies",),
    "requirements-test.lock": ("dependencies", "test"),
    "requirements-dev.lock": ("dependencies", "test", "fuzz", "bench"),
}
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins(group: str) -> dict[str, str]:
    lines = PROJECT["dependencies"] if group == "dependencies" else PROJECT["optional-dependencies"][group]
    result = {}
    for line in lines:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier  # one exact pin each, nothing looser
        assert specifier.operator == "==", f"pyproject.toml: pin {line!r} exactly (==)"
        result[canonicalize_name(requirement.name)] = specifier.version
    return result


def locked(lock: str) -> dict[str, str]:
    result = {}
    for line in (ROOT / lock).read_text(encoding="utf-8").splitlines():
        match = PINNED.match(line)
        if match:
            result[canonicalize_name(match.group(1))] = match.group(2)
    return result


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_of_pyproject_is_locked_at_its_version(lock):
    versions = locked(lock)
    for group in LOCKS[lock]:
        for name, version in pins(group).items():
            assert versions.get(name) == version, (
                f"{lock}: {name} is locked at {versions.get(name)}, pyproject.toml pins {version}; run make lock"
            )


def test_each_lock_holds_the_one_before_it_at_the_same_versions():
    locks = [locked(lock) for lock in LOCKS]
    for smaller, larger in zip(locks, locks[1:]):
        assert {name: version for name, version in larger.items() if name in smaller} == smaller


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_carries_its_hashes(lock):
    lines = (ROOT / lock).read_text(encoding="utf-8").splitlines()
    pinned = [i for i, line in enumerate(lines) if PINNED.match(line)]
    assert pinned
    for i in pinned:
        assert lines[i + 1].strip().startswith("--hash=sha256:"), f"{lock}: {lines[i]} has no hash"
