"""`drill --notify`: a failed drill posts its summary to a webhook; a failing webhook changes nothing.

The receiver is a real HTTP server on loopback; the drill is the real CLI
against the module's kwok sandbox, made to FAIL cheaply by asking the daily
check for more keys than the sandbox's backup holds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.evidence.bundle import build_bundle
from harness.evidence.verify import verify_bundle

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

#: a fake Slack-style token in the webhook's path: it must appear nowhere in reports/ or on stderr
TOKEN = "T0NOTIFY/B0NOTIFY/xoxb-fake-webhook-token-4242"
FAIL_CHEAPLY = {"DRILL_MIN_KEYS": "1000000000", "DRILL_SANDBOX_NODES": "kwok"}
#: a breached target (not only a failed check): any backup is older than an RPO of 0 s + a schedule slack of 0 s
BREACH_RPO = {"DRILL_RPO_SECONDS": "0", "DRILL_BACKUP_SCHEDULE_SLACK_SECONDS": "0", "DRILL_SANDBOX_NODES": "kwok"}


@dataclass
class Receiver:
    """A webhook stand-in: records every POST and answers with `status`."""

    status: int = 200
    posts: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.paths.append(self.path)
            state.posts.append(json.loads(body))
            self.send_response(state.status)
            self.end_headers()
            self.wfile.write(b"ok" if state.status == 200 else b"boom")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/services/{TOKEN}"
    yield state
    server.shutdown()
    server.server_close()


def _assert_no_leak(run: Any) -> None:
    reports = run.allure_dir.parent
    leaks = [str(p) for p in reports.rglob("*") if p.is_file() and b"xoxb-fake-webhook-token" in p.read_bytes()]
    assert not leaks
    assert "xoxb-fake-webhook-token" not in run.output


def test_a_failed_drill_posts_its_verdicts_to_the_webhook(run_drill, receiver: Receiver):
    run = run_drill("daily", "--notify", receiver.url, **FAIL_CHEAPLY)

    assert run.code == 1, run.output[-3000:]
    assert run.verdicts() and set(run.verdicts().values()) == {"FAIL"}
    assert len(receiver.posts) == 1 and receiver.paths == [f"/services/{TOKEN}"]
    payload = receiver.posts[0]
    assert payload["verdict"] == "FAIL" and payload["selection"] == "daily" and payload["target"] == "sandbox"
    assert {s["name"]: s["verdict"] for s in payload["scenarios"]} == run.verdicts()
    assert all(s["reason"] for s in payload["scenarios"])
    assert [c["role"] for c in payload["contacts"]] == ["Backup Owner", "DR Coordinator"]
    assert payload["report"].endswith("allure-report/index.html")
    assert payload["text"].startswith("DR drill daily on target sandbox: FAIL\n")
    assert "Backup Owner: platform-team@" in payload["text"]
    assert "notify: FAIL: notification delivered to http://127.0.0.1:" in run.stderr and "(HTTP 200)" in run.stderr
    _assert_no_leak(run)


def test_the_evidence_of_a_drill_names_the_backup_owner_and_dr_coordinator(run_drill, tmp_path):
    run = run_drill("daily", **FAIL_CHEAPLY)  # no --notify: the evidence names them all the same

    assert [c["role"] for c in run.results["meta"]["contacts"]][:2] == ["Backup Owner", "DR Coordinator"]
    bundle = build_bundle(run.allure_dir.parent / "drill-results.json", out_root=tmp_path / "evidence")
    assert "| Backup Owner | Backup procedures | platform-team@ |" in (bundle / "summary.md").read_text()
    assert "| DR Coordinator | DR drills, planning | sre-lead@ |" in (bundle / "summary.md").read_text()
    assert verify_bundle(bundle).ok
    assert "notify:" not in run.stderr


def test_a_webhook_answering_500_is_reported_and_the_exit_code_stands(run_drill, receiver: Receiver):
    receiver.status = 500

    run = run_drill("daily", DRILL_NOTIFY_URL=receiver.url, **BREACH_RPO)  # through the environment this time

    assert run.code == 1, run.output[-3000:]
    assert len(receiver.posts) == 1 and receiver.posts[0]["verdict"] == "FAIL"
    breach = next(b for b in receiver.posts[0]["breaches"] if b["measure"] == "age of the newest pipeline backup")
    assert breach["target"] == 0 and breach["measured"] > 0
    assert "breach: age of the newest pipeline backup" in receiver.posts[0]["text"]
    line = next(x for x in run.stderr.splitlines() if x.startswith("notify:"))
    assert "NOT delivered" in line and "HTTP 500" in line and "/***" in line
    _assert_no_leak(run)


def test_a_passing_drill_whose_evidence_fails_exits_1_and_is_reported(run_drill, receiver: Receiver):
    """The evidence is written before the notification: a pass without evidence is no proof, and says so."""
    run = run_drill("daily", "--notify", receiver.url, "--evidence", DRILL_EVIDENCE_SIGNING_KEY="not a PEM key",
                    DRILL_SANDBOX_NODES="kwok")

    assert run.code == 1, run.output[-3000:]
    assert run.verdicts() and set(run.verdicts().values()) == {"PASS"}
    assert "error: evidence not written" in run.stderr
    assert len(receiver.posts) == 1 and receiver.posts[0]["verdict"] == "ERROR", receiver.posts
    assert "notify: every scenario passed" not in run.stderr
    _assert_no_leak(run)
