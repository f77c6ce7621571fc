"""Restore's small decisions: which database goes where, which password the target gets."""

from __future__ import annotations

import pytest

from harness.cli.backup_commands import target_password
from harness.errors import UsageError
from harness.restore.network import db_mapping


def test_a_one_database_backup_goes_to_the_urls_database():
    assert db_mapping([0], 5, url="redis://h:1/5") == {0: 5}
    assert db_mapping([], 0, url="redis://h:1/0") == {}


def test_several_databases_keep_their_numbers():
    assert db_mapping([0, 3], 0, url="redis://h:1/0") == {0: 0, 3: 3}


def test_several_databases_into_one_is_refused():
    with pytest.raises(UsageError, match="would merge them"):
        db_mapping([0, 3], 2, url="redis://:pw@h:1/2")


def test_target_password_precedence(monkeypatch):
    monkeypatch.setenv("REDIS_PASSWORD", "source")
    monkeypatch.delenv("DRILL_TARGET_REDIS_PASSWORD", raising=False)
    assert target_password("redis://h:1/0") == "source"
    monkeypatch.setenv("DRILL_TARGET_REDIS_PASSWORD", "target")
    assert target_password("redis://h:1/0") == "target"
    assert target_password("redis://:in%40url@h:1/0") == "in@url"
    monkeypatch.delenv("REDIS_PASSWORD")
    monkeypatch.delenv("DRILL_TARGET_REDIS_PASSWORD")
    assert target_password("redis://h:1/0") is None
