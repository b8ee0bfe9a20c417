"""Our `requests/` app shadows the PyPI package `requests`: nothing we run may depend on it."""

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def runtime_requirements() -> list[str]:
    """Names pinned under "# Runtime" in requirements.txt."""
    names, in_runtime = [], False
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("#"):
            in_runtime = line.strip().lower() == "# runtime"
            continue
        if in_runtime and line.strip():
            names.append(Requirement(line).name)
    return names


def closure(names: list[str]) -> dict[str, list[str]]:
    """Every installed distribution reachable from `names`, with what it requires unconditionally."""
    seen: dict[str, list[str]] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        dist = importlib.metadata.distribution(name)
        needs = []
        for raw in dist.requires or []:
            req = Requirement(raw)
            # Extras we do not install (e.g. redis[ocsp]) are not dependencies.
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                needs.append(req.name)
        seen[name] = needs
        todo.extend(needs)
    return seen


def test_runtime_requirements_are_found():
    assert {"django", "celery", "openai", "pandas", "django-htmx"} <= {n.lower() for n in runtime_requirements()}


def test_no_runtime_dependency_requires_the_requests_package():
    offenders = {
        dist: needs
        for dist, needs in closure(runtime_requirements()).items()
        if "requests" in [n.lower() for n in needs]
    }
    assert offenders == {}


def test_import_requests_is_our_app():
    import requests

    assert Path(requests.__file__).resolve().parent == ROOT / "requests"
