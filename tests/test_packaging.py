"""The environment.yml and pyproject.toml pins must stay identical."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines):
    return {m.group(1).lower(): m.group(2) for m in (re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", l.strip()) for l in lines) if m}


def test_environment_yml_has_the_same_pins_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds])
    env_lines = [l.strip().lstrip("- ").strip() for l in (ROOT / "environment.yml").read_text().splitlines()]
    assert _pins(env_lines) == wanted


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]
    assert all("==" in d for d in deps), [d for d in deps if "==" not in d]


def test_makefile_installs_the_pinned_torch_pair():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins(project["dependencies"])
    make = (ROOT / "Makefile").read_text()
    assert f"torch=={pins['torch']}" in make and f"torchvision=={pins['torchvision']}" in make
