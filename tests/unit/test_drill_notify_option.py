"""`drill --notify`: shown redacted by --dry-run, documented in --help."""

from __future__ import annotations

URL = "https://hooks.slack.com/services/T000/B000/dry-run-token-value"


def test_the_dry_run_shows_the_webhook_redacted(cli, clean_env):
    clean_env.setenv("DRILL_NOTIFY_URL", URL)

    code, out, err = cli("drill", "daily", "--dry-run")

    assert code == 0, err
    assert "notify      https://hooks.slack.com/*** on FAIL, INVALID or ERROR" in out.splitlines()
    assert "dry-run-token-value" not in out + err


def test_the_flag_wins_over_the_environment_and_is_checked(cli, clean_env):
    clean_env.setenv("DRILL_NOTIFY_URL", URL)

    code, out, _ = cli("drill", "daily", "--dry-run", "--notify", "http://127.0.0.1:9/hook/flag-token")
    assert code == 0 and "notify      http://127.0.0.1:9/*** on FAIL, INVALID or ERROR" in out.splitlines()

    code, _, err = cli("drill", "daily", "--dry-run", "--notify", "ftp://example.com/x")
    assert code == 2 and "invalid setting notify_url" in err


def test_help_says_a_passing_run_posts_nothing(cli):
    code, out, _ = cli("drill", "--help")
    assert code == 0
    assert "a run that passes posts nothing" in " ".join(out.split()) and "DRILL_NOTIFY_URL" in out
