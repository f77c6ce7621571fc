"""The configuration examples the README points newcomers at load as settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_settings

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_the_example_configuration_loads(example: Path) -> None:
    settings = load_settings(str(example), env={})
    assert settings.target != "sandbox" and settings.target in settings.allowed_targets


def test_there_is_an_example() -> None:
    assert EXAMPLES


def test_the_drill_jobs_settings_load(tmp_path: Path) -> None:
    import yaml

    config = yaml.safe_load((EXAMPLES[0].parents[2] / "deploy" / "drill-job" / "config.yaml").read_text())
    (tmp_path / "drill.yaml").write_text(config["data"]["drill.yaml"])
    settings = load_settings(str(tmp_path / "drill.yaml"), env={})
    assert settings.redis_url and settings.redis_url.startswith("redis://redis.sentinel.svc")
