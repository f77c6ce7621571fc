"""harness/platform/ is Kubernetes only: it never imports the sandbox (the sandbox builds on it, not the reverse)."""

from __future__ import annotations

import ast
from pathlib import Path

import harness.platform

PLATFORM_DIR = Path(harness.platform.__file__).parent


def sandbox_imports(source: str) -> list[str]:
    """Every `harness.sandbox` module named by an import statement anywhere in `source` (lazy ones too)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [name for name in names if name == "harness.sandbox" or name.startswith("harness.sandbox.")]
    return found


def test_the_check_sees_top_level_lazy_and_from_imports_of_the_sandbox():
    source = ("import harness.sandbox.state\nfrom harness import sandbox\n"
              "def f():\n    from harness.sandbox.state import load_state\n")
    assert sandbox_imports(source) == ["harness.sandbox.state", "harness.sandbox",
                                       "harness.sandbox.state", "harness.sandbox.state.load_state"]
    assert sandbox_imports("from harness.platform import client\nimport harness.sandboxes_elsewhere\n") == []


def test_no_platform_module_imports_the_sandbox():
    modules = sorted(PLATFORM_DIR.glob("*.py"))
    assert len(modules) > 5, f"found no platform modules in {PLATFORM_DIR}"
    offenders = {path.name: names for path in modules if (names := sandbox_imports(path.read_text()))}
    assert offenders == {}, f"harness/platform must not import harness.sandbox: {offenders}"
