"""Settings: file < DRILL_* environment < flags; bad fields named; secrets never from the file."""

from __future__ import annotations

import pytest

from harness.config import load_settings, redact_url, split_redis_url
from harness.errors import ConfigError


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "drill.yaml"
    path.write_text(
        "target: staging\n"
        "rpo_seconds: 1800\n"
        "redis_url: redis://file-host:6379/0\n"
        "store_url: s3://from-file/prefix\n"
        "min_keys: 10\n"
    )
    return path


def test_defaults_without_file_or_env():
    s = load_settings(env={})
    assert (s.target, s.rpo_seconds, s.rto_seconds, s.min_keys) == ("sandbox", 3600, 900, 100)
    assert s.redis_password is None and s.store_retention_days is None


def test_file_then_env_then_flags(config_file):
    env = {"DRILL_STORE_URL": "file:///env/dir", "DRILL_MIN_KEYS": "20", "DRILL_RPO_SECONDS": "60"}
    s = load_settings(config_file, env=env, overrides={"min_keys": 30, "store_url": None})
    assert s.target == "staging"  # file only
    assert s.redis_url == "redis://file-host:6379/0"  # file only
    assert s.store_url == "file:///env/dir"  # env beats file; a None flag does not override
    assert s.rpo_seconds == 60  # env beats file
    assert s.min_keys == 30  # flag beats env


def test_config_file_from_drill_config(config_file):
    assert load_settings(env={"DRILL_CONFIG": str(config_file)}).target == "staging"


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"DRILL_RPO_SECONDS": "soon"}, "rpo_seconds"),
        ({"DRILL_MIN_KEYS": "-1"}, "min_keys"),
        ({"DRILL_STORE_URL": "ftp://x"}, "store_url"),
        ({"DRILL_REDIS_URL": "http://x"}, "redis_url"),
        ({"DRILL_STORE_RETENTION_DAYS": "0"}, "store_retention_days"),
        ({"DRILL_STORE_LOCK_MODE": "forever"}, "store_lock_mode"),
    ],
)
def test_a_bad_field_is_named(env, field):
    with pytest.raises(ConfigError, match=f"invalid setting {field}") as exc:
        load_settings(env=env)
    assert f"DRILL_{field.upper()}" in (exc.value.fix or "")


def test_a_password_in_the_file_is_refused(tmp_path):
    path = tmp_path / "drill.yaml"
    path.write_text("redis_password: hunter2\n")
    with pytest.raises(ConfigError, match="contains redis_password") as exc:
        load_settings(path, env={})
    assert "REDIS_PASSWORD" in (exc.value.fix or "") and "hunter2" not in exc.value.one_line()


def test_password_from_env_or_url_never_shown(tmp_path):
    s = load_settings(env={"REDIS_PASSWORD": "hunter2", "DRILL_REDIS_URL": "redis://h:1/0"})
    assert s.redis_password is not None and s.redis_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.redacted())
    s = load_settings(env={"DRILL_REDIS_URL": "redis://:p%40ss@h:1/0"})
    assert s.redis_url == "redis://h:1/0" and s.redis_password.get_secret_value() == "p@ss"  # type: ignore[union-attr]


def test_unknown_keys_warn_and_are_ignored(tmp_path):
    path = tmp_path / "drill.yaml"
    path.write_text("target: x\ncolour: blue\n")
    with pytest.warns(UserWarning, match="unknown key 'colour'"):
        assert load_settings(path, env={}).target == "x"


@pytest.mark.parametrize(
    ("text", "message"), [("target: [unclosed\n", "not valid YAML at line"), ("- a\n- b\n", "must be a mapping")]
)
def test_broken_files_are_config_errors(tmp_path, text, message):
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, env={})


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_url_helpers_hide_the_password():
    assert redact_url("redis://:secret@h:6379/0") == "redis://:***@h:6379/0"
    assert redact_url("redis://user:secret@h:6379/0") == "redis://user:***@h:6379/0"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"
    assert split_redis_url("redis://default:secret@h:6379/2") == ("redis://h:6379/2", "secret")
    assert split_redis_url("redis://app:secret@h:6379/2") == ("redis://app@h:6379/2", "secret")


def test_the_runbook_contacts_are_the_default_and_the_file_can_replace_them(tmp_path):
    assert [(c.role, c.contact) for c in load_settings(env={}).contacts] == [
        ("Backup Owner", "platform-team@"), ("DR Coordinator", "sre-lead@"), ("Security", "security@")]
    path = tmp_path / "drill.yaml"
    path.write_text("contacts:\n"
                    "  - {role: Backup Owner, responsibility: Backups, contact: storage@example.com}\n"
                    "  - {role: DR Coordinator, contact: dr@example.com}\n")
    s = load_settings(path, env={})
    assert s.contact("backup owner").contact == "storage@example.com"
    assert s.contact("DR Coordinator").contact == "dr@example.com" and s.contact("Security") is None


@pytest.mark.parametrize("text", [
    "contacts: {role: Backup Owner}\n",  # a mapping, not a list
    "contacts:\n  - {role: Backup Owner}\n",  # no contact
    "contacts:\n  - {role: X, contact: a}\n  - {role: X, contact: b}\n",  # the same role twice
    "contacts:\n  - {role: X, contact: a, phone: 1}\n",  # an unknown column
])
def test_a_malformed_contacts_table_is_a_config_error_naming_it(tmp_path, text):
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="invalid setting contacts") as exc:
        load_settings(path, env={})
    assert "role, responsibility and contact" in (exc.value.fix or "")


def test_the_webhook_url_is_a_secret_shown_redacted():
    from harness.redaction import redact_text

    url = "https://hooks.slack.com/services/T000/B000/notify-token-in-path"
    s = load_settings(env={"DRILL_NOTIFY_URL": url})
    assert s.notify_url == url
    assert s.redacted()["notify_url"] == "https://hooks.slack.com/***"
    assert "notify-token-in-path" not in repr(s)
    # registered with the redaction layer: gone from logs and reports, whole or as its path
    assert "notify-token-in-path" not in redact_text(f"posting to {url} and /services/T000/B000/notify-token-in-path")


def test_a_webhook_url_must_be_http():
    with pytest.raises(ConfigError, match="invalid setting notify_url"):
        load_settings(env={"DRILL_NOTIFY_URL": "file:///etc/passwd"})


def test_a_webhook_url_in_the_file_is_refused_like_a_password(tmp_path):
    path = tmp_path / "drill.yaml"
    path.write_text("notify_url: https://hooks.slack.com/services/T/B/file-token\n")
    with pytest.raises(ConfigError, match="contains notify_url") as exc:
        load_settings(path, env={})
    assert "DRILL_NOTIFY_URL" in (exc.value.fix or "")
