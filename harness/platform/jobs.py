"""Run a CronJob now, as `kubectl create job --from=cronjob/NAME` does, and wait for its end.

The drills measure the hourly backup pipeline; on a cluster whose pods really run
(the sandbox's real nodes) the pipeline's backups are written by the CronJob's own
Job, and a test can run the verify CronJob the same way instead of waiting an hour.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.errors import DrillError
from harness.platform.client import Cluster, Obj, namespaced
from harness.polling import wait_until


class JobFailed(DrillError):
    """A Job ended Failed (backoff limit or deadline): its pod's last log lines say why."""


@dataclass(frozen=True)
class JobRun:
    name: str
    namespace: str
    succeeded: bool
    seconds: float
    log_tail: str


def _condition(job: Obj) -> str | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "SuccessCriteriaMet") and cond.get("status") == "True":
            return "Complete"
        if cond.get("type") in ("Failed", "FailureTarget") and cond.get("status") == "True":
            return "Failed"
    return None


def job_log_tail(cluster: Cluster, *, namespace: str, job: str, lines: int = 20) -> str:
    """The last log lines of the Job's newest pod ('' when it has none yet)."""
    pods = cluster.list_items(namespaced("v1", "pods", namespace), labelSelector=f"job-name={job}")
    if not pods:
        return ""
    newest = max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))
    try:
        return cluster.get_text(namespaced("v1", "pods", namespace, newest["metadata"]["name"]) + "/log",
                                what=f"log of pod {newest['metadata']['name']}", tailLines=lines)
    except DrillError as exc:
        return f"(no log: {exc.one_line()})"


def run_cronjob_now(cluster: Cluster, cronjob: str, *, namespace: str, timeout: float = 300.0,
                    labels: Mapping[str, str] | None = None) -> JobRun:
    """Create a Job from CronJob `cronjob`'s template, wait until it completes; JobFailed with its log if not.

    `labels` are added to the Job's own (a drill's run id: what it created is its to clean up).
    """
    source = cluster.get(namespaced("batch/v1", "cronjobs", namespace, cronjob), what=f"cronjob {namespace}/{cronjob}")
    name = f"{cronjob}-manual-{datetime.now(UTC):%H%M%S}-{secrets.token_hex(2)}"
    template = source["spec"]["jobTemplate"]
    job = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {**((template.get("metadata") or {}).get("labels") or {}), **(labels or {})},
                     "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob,
                                          "uid": source["metadata"]["uid"], "controller": True}]},
        "spec": template["spec"],
    }
    start = time.monotonic()
    cluster.request("POST", namespaced("batch/v1", "jobs", namespace), body=job, what=f"job {namespace}/{name}")
    path = namespaced("batch/v1", "jobs", namespace, name)
    ended = wait_until(lambda: _condition(cluster.get(path)), timeout=timeout, interval=0.5,
                       what=f"job {namespace}/{name} to finish",
                       describe=lambda: job_log_tail(cluster, namespace=namespace, job=name)[-500:] or "no pod log yet")
    run = JobRun(name, namespace, ended == "Complete", time.monotonic() - start,
                 job_log_tail(cluster, namespace=namespace, job=name))
    if not run.succeeded:
        raise JobFailed(f"job {namespace}/{name} (from cronjob {cronjob}) failed: {run.log_tail.strip()[-400:]}",
                        fix=f"kubectl -n {namespace} logs job/{name}")
    return run
