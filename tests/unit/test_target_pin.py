"""`sentinel-drill target pin` writes the pinned identity into the config file and leaves every other line alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli.target_commands import pin_fields, write_fields
from harness.config import load_settings
from harness.errors import UsageError

FIELDS = {"pinned_api_server": "https://10.0.0.1:6443", "pinned_kube_system_uid": "uid-1"}


def test_the_pin_is_appended_and_comments_survive(tmp_path: Path):
    config = tmp_path / "staging.yaml"
    config.write_text("# staging drill target\ntarget: staging\nallowed_targets: [staging]\n")
    write_fields(config, FIELDS)
    text = config.read_text()
    assert text.startswith("# staging drill target\ntarget: staging\n")
    settings = load_settings(config, env={})
    assert (settings.pinned_api_server, settings.pinned_kube_system_uid) == ("https://10.0.0.1:6443", "uid-1")


def test_re_pinning_replaces_the_old_pin(tmp_path: Path):
    config = tmp_path / "staging.yaml"
    config.write_text("target: staging\npinned_api_server: https://old:6443\npinned_kube_system_uid: old-uid\n")
    write_fields(config, FIELDS)
    assert config.read_text().count("pinned_kube_system_uid") == 1
    assert load_settings(config, env={}).pinned_kube_system_uid == "uid-1"


def test_the_sandbox_is_never_pinned():
    with pytest.raises(UsageError, match="the sandbox needs no pin"):
        pin_fields(load_settings(env={}))
