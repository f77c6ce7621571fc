"""One redaction layer: secrets by name and by value, URL passwords, registered values, children's environment."""

from __future__ import annotations

import logging

import pytest

from harness.config import load_settings
from harness.redaction import (
    REDACTED,
    RedactingFilter,
    Redactor,
    child_environment,
    is_secret_name,
    redact_tree,
    register_secret,
)

SECRETS = {
    "REDIS_PASSWORD": "prod-redis-pw-1111",
    "DR_REDIS_PASSWORD": "dr-redis-pw-2222",
    "DRILL_CONFIG_KEY": "fernet-key-3333",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-4444",
    "AWS_SESSION_TOKEN": "aws-session-5555",
    "DRILL_EVIDENCE_SIGNING_KEY": "signing-key-6666",
}


@pytest.mark.parametrize("name", [*SECRETS, "redis_password", "dr_redis_password", "token", "REDISCLI_AUTH",
                                  "apiKey", "x-auth-token", "requirepass", "DB_PASS"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["key_count", "rdb_key", "manifest_key", "hosted_zone_id", "AWS_ACCESS_KEY_ID",
                                  "pinned_kube_system_uid", "redis_password_file", "old_password_reply",
                                  "password_proof", "secrets_rotated", "KUBECONFIG", "PATH", "store_lock_mode",
                                  "passed", "author", "bypass", "compass", "SSH_AUTH_SOCK"])
def test_harmless_names(name: str) -> None:
    assert not is_secret_name(name)


def test_settings_redacted_hide_every_secret_and_url_password() -> None:
    env = {**SECRETS, "DRILL_TARGET": "staging", "DRILL_REDIS_URL": "redis://:inline-pw-7777@redis:6379/0",
           "DRILL_DR_REDIS_URL": "redis://default:dr-inline-8888@dr-redis:6379/0",
           "DRILL_HEALTH_URL": "https://sentinel.example.com/health?password=health-pw-9999&x=1",
           "DRILL_DR_HEALTH_URL": "https://user:dr-health-0000@dr.example.com/health"}
    text = repr(Redactor.from_env(env=env).data(load_settings(env=env).redacted()))
    for secret in [*SECRETS.values(), "inline-pw-7777", "dr-inline-8888", "health-pw-9999", "dr-health-0000"]:
        assert secret not in text, secret
    assert "https://sentinel.example.com/health?password=***&x=1" in text


def test_nested_data_keeps_harmless_fields() -> None:
    redactor = Redactor(("s3cr3t-value",))
    data = {"key_count": 10, "rdb_key": "redis/x.rdb", "password": "whatever", "nested": [{"note": "s3cr3t-value"}],
            "password_proof": {"old_password_reply": "-WRONGPASS"}}
    assert redactor.data(data) == {"key_count": 10, "rdb_key": "redis/x.rdb", "password": REDACTED,
                                   "nested": [{"note": REDACTED}],
                                   "password_proof": {"old_password_reply": "-WRONGPASS"}}


def test_a_registered_value_is_redacted_from_then_on() -> None:
    register_secret("rotated-pw-abcd1234")
    assert "rotated-pw-abcd1234" not in Redactor.from_env(env={}).text("new password rotated-pw-abcd1234 set")


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("logged-pw-zz99")
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "connecting with %s to %s", (
        "logged-pw-zz99", "redis://:url-pw-yy88@h:6379"), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "connecting with *** to redis://:***@h:6379"


def test_child_environment_drops_secrets_unless_handed_over() -> None:
    env = {**SECRETS, "PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "AKIA-not-secret"}
    child = child_environment({"REDISCLI_AUTH": "given-on-purpose"}, env=env)
    assert child == {"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "AKIA-not-secret", "REDISCLI_AUTH": "given-on-purpose"}


@pytest.mark.parametrize(("name", "value"), [
    ("DRILL_NOTIFY_URL", "https://example.com/anything"),
    ("TEAM_WEBHOOK", "https://example.com/x"),
    ("ALERTS_HOOK_URL", "https://example.com/x"),
    ("ONCALL", "https://hooks.slack.com/services/T0/B0/abc"),
    ("ONCALL", "https://discord.com/api/webhooks/1/abc"),
    ("ONCALL", "https://chat.example.com/hooks/abcdef"),
    ("COPY_OF_A_PASSWORD", "prod-redis-pw-1111"),
    ("DRILL_VERIFIER_KEY", "-----BEGIN PRIVATE KEY-----"),
])
def test_a_child_never_gets_webhooks_keys_or_copied_secrets(name: str, value: str) -> None:
    assert name not in child_environment(env={**SECRETS, name: value})


@pytest.mark.parametrize(("value", "child_value"), [
    ("redis://:pw-1234@redis:6379/0", "redis://redis:6379/0"),
    ("rediss://app:pw-1234@redis:6380/1", "rediss://redis:6380/1"),
    ("https://ci:pw-1234@pypi.example.com/simple", "https://pypi.example.com/simple"),
    ("https://tok3n-1234@git.example.com/org/repo.git", "https://git.example.com/org/repo.git"),
    ("https://h.example.com/health?token=pw-1234&x=1", "https://h.example.com/health?x=1"),
    ("https://h.example.com/x?api_key=pw-1234&password=pw-1234&sig=pw-1234&X-Amz-Signature=pw-1234",
     "https://h.example.com/x"),
    ("a=http://u:pw-1234@one,b=https://two/?auth=pw-1234", "a=http://one,b=https://two/"),
    ("http://[::1:pw-1234@broken/?token=pw-1234", "http://broken/"),
    ("s3://bucket/prefix", "s3://bucket/prefix"),
    ("file:///srv/store", "file:///srv/store"),
    ("/usr/local/bin:/usr/bin", "/usr/local/bin:/usr/bin"),
])
def test_a_childs_urls_lose_userinfo_and_credential_parameters(value: str, child_value: str) -> None:
    assert child_environment(env={"SOME_URL": value})["SOME_URL"] == child_value


def test_a_registered_secret_is_not_handed_to_a_child_under_any_name() -> None:
    register_secret("rotated-for-a-child-7788")
    assert child_environment(env={"NOTE": "pw=rotated-for-a-child-7788", "PATH": "/bin"}) == {"PATH": "/bin"}


def test_what_a_caller_hands_over_is_passed_unchanged() -> None:
    given = {"REDIS_PASSWORD": "needed-by-the-child", "DRILL_HEALTH_URL": "https://h/health?token=t0ken-123"}
    assert child_environment(given, env={**SECRETS}) == given


def test_files_written_by_others_are_redacted_in_place(tmp_path) -> None:
    register_secret("in-a-trace-4242")
    (tmp_path / "x-result.json").write_text('{"message": "AUTH in-a-trace-4242 failed"}')
    (tmp_path / "clean.txt").write_text("nothing here")
    assert redact_tree(tmp_path) == 1
    assert "in-a-trace-4242" not in (tmp_path / "x-result.json").read_text()


def test_a_failure_text_pytest_prints_is_redacted() -> None:
    from harness.drills import pytest_plugin

    register_secret("in-a-failure-5353")
    report = pytest.TestReport("t::x", ("t.py", 1, "x"), {}, "failed", "E  ConnectionError: pw in-a-failure-5353", "call")

    hook = pytest_plugin.pytest_runtest_makereport(None, None)  # type: ignore[arg-type]
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(report)
    assert "in-a-failure-5353" not in str(report.longrepr)


def test_every_process_the_harness_starts_is_given_an_environment() -> None:
    """A subprocess call without `env=` hands the child this whole environment: secrets included."""
    import ast
    from pathlib import Path

    bare = []
    for path in sorted((Path(__file__).resolve().parents[2] / "harness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in ("subprocess", "os")
                    and node.func.attr in ("run", "Popen", "call", "check_call", "check_output", "system", "popen",
                                           "execv", "execvp", "spawnv", "spawnvp")
                    and "env" not in {k.arg for k in node.keywords}):
                bare.append(f"{path.name}:{node.lineno}")
    assert bare == []  # sandbox.processes.spawn without env= gives child_environment() itself
