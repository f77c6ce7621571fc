"""The SENTINEL stack as the sandbox deploys it: deploy/ with fresh Secret values and kwok readiness delays.

The committed Secret manifests carry no data; here they get freshly generated
sandbox-only values (the Redis password is the one the local Redis uses). The
pods' kwok readiness annotations are set to the configured delay so that a
replaced pod takes measurable time to become Ready.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from harness.platform.client import Obj
from harness.platform.stack import DEPLOY_DIR, stack_in
from harness.sandbox import images
from harness.sandbox.state import NAMESPACE

BRAIN_DEPLOYMENT = "sentinel-brain"
READY_ANNOTATION = "pod-ready.stage.kwok.x-k8s.io/delay"
JITTER_ANNOTATION = "pod-ready.stage.kwok.x-k8s.io/jitter-delay"


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def stack_objects(
    deploy_dir: Path = DEPLOY_DIR,
    *,
    redis_password: str,
    namespace: str = NAMESPACE,
    ready_delay: str = "1s",
    ready_jitter: str = "2s",
    brain_replicas: int | None = None,
) -> list[Obj]:
    """The objects of `deploy_dir`, moved to `namespace`, Secrets filled, readiness delay set.

    `brain_replicas` overrides Brain's replica count (the scale bench: thousands
    of pods); None keeps deploy/'s. Callers that restore Secrets from a backup
    drop the Secret objects from the list.
    """
    objects = with_sandbox_values(stack_in(namespace, deploy_dir), redis_password=redis_password,
                                  ready_delay=ready_delay, ready_jitter=ready_jitter)
    if brain_replicas is not None:
        for obj in objects:
            if obj["kind"] == "Deployment" and obj["metadata"]["name"] == BRAIN_DEPLOYMENT:
                obj["spec"]["replicas"] = brain_replicas
    return objects


def with_sandbox_values(objects: list[Obj], *, redis_password: str = "", ready_delay: str = "1s",
                        ready_jitter: str = "2s") -> list[Obj]:
    """`objects` (whatever the deploy method rendered) with fresh sandbox-only Secret values and kwok readiness
    delays; Secrets already left out stay out."""
    generated = {
        "sentinel-redis": {"password": redis_password},
        "sentinel-auth": {
            "api-keys": ",".join(f"sk-sandbox-{secrets.token_hex(16)}" for _ in range(3)),
            "jwt-secret": secrets.token_urlsafe(48),
        },
    }
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == "Secret" and meta["name"] in generated:
            obj["data"] = {k: _b64(v) for k, v in generated[meta["name"]].items()}
            meta.setdefault("annotations", {})["sentinel-drill/generated"] = "sandbox-only values"
        if obj["kind"] in ("Deployment", "StatefulSet"):
            template = obj.setdefault("spec", {}).setdefault("template", {})
            annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
            annotations[READY_ANNOTATION] = ready_delay
            annotations[JITTER_ANNOTATION] = ready_jitter
    return objects


# what each container runs on real sandbox nodes (by container name): images built on this machine
REAL_IMAGES = {"brain": images.BRAIN, "gateway": images.GATEWAY, "redis": images.REDIS}
SANDBOX_REQUESTS = {"cpu": "50m", "memory": "64Mi"}


def on_real_nodes(objects: list[Obj]) -> list[Obj]:
    """`objects` made runnable on the sandbox's real nodes: local images never pulled, requests a laptop can hold.

    Production's requests (500m CPU per pod) would leave scenario 2's scale-to-10
    Pending on three nodes sharing two cores; limits and probes stay as written.
    """
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in obj["spec"]["template"]["spec"].get("containers", []):
            if container["name"] in REAL_IMAGES:
                container["image"] = REAL_IMAGES[container["name"]]
                container["imagePullPolicy"] = "Never"
            resources = container.setdefault("resources", {})
            resources["requests"] = dict(SANDBOX_REQUESTS)
    return objects
