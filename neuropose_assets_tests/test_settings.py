"""The settings object is the only reader of environment variables, and it reads them with the meaning they had."""

import ast

import pytest

from neuropose_assets.settings import Settings, env_name, settings
from neuropose_assets_tests import REPO

PACKAGE = REPO / "neuropose_assets"


def _environment_reads(tree: ast.AST) -> list[int]:
    """Lines that read ``os.environ`` (``os.environ[...]`` loaded, ``.get``, ``in os.environ``, ``os.getenv``);
    passing the whole environment on (``{**os.environ, ...}``) and writing to it are not reads of a variable."""

    def is_environ(node) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", "") == "os"

    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
            out.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (
                (node.func.attr == "get" and is_environ(node.func.value))
                or (node.func.attr == "getenv" and getattr(node.func.value, "id", "") == "os")
            )
        ):
            out.append(node.lineno)
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            out.append(node.lineno)
    return out


def test_only_the_settings_object_reads_the_environment():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py":
            continue
        lines = _environment_reads(ast.parse(path.read_text(), str(path)))
        if lines:
            found[str(path.relative_to(PACKAGE))] = lines
    assert found == {}


def test_the_reader_check_sees_every_kind_of_read():
    code = (
        "import os\na = os.environ['X']\nb = os.environ.get('Y')\nc = 'Z' in os.environ\nd = os.getenv('W')\n"
        "os.environ['V'] = '1'\ne = {**os.environ, 'U': '2'}\n"
    )
    assert _environment_reads(ast.parse(code)) == [2, 3, 4, 5]


def test_settings_keep_the_meaning_of_every_variable(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)
    s = settings()
    assert (s.pose_backend, s.intake_interval_seconds, s.intake_stable_seconds, s.cohort_interval_seconds) == (
        "blazepose",
        30,
        30.0,
        60,
    )
    assert s.data_root is None and s.cuda_visible_devices is None and s.intake_link_roots == ""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # empty: no GPU — not the same as unset
    monkeypatch.setenv("NEUROPOSE_INTAKE_INTERVAL_SECONDS", "5")
    monkeypatch.setenv("NEUROPOSE_DATA_ROOT", "/srv/np")
    s = settings()
    assert s.cuda_visible_devices == "" and s.intake_interval_seconds == 5 and s.data_root == "/srv/np"
    monkeypatch.setenv("NEUROPOSE_INTAKE_INTERVAL_SECONDS", "soon")
    with pytest.raises(ValueError, match="intake_interval_seconds"):
        settings()
