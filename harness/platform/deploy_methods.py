"""How a clean deploy gets SENTINEL's objects: the reference stack, a manifests dir, kustomize or a Helm chart.

Every method only *renders* objects (`helm template`, `kustomize build`, reading
YAML); the target then applies them through the one server-side apply path
(harness.platform.stack.deploy_stack), so Secret handling, readiness waits and
the safety checks are the same whichever method the team uses. Nothing secret
goes on a command line: values come from files, and Secrets come from the
encrypted export or the rotation, never from the rendered objects' data.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from harness.config import Settings
from harness.errors import ConfigError
from harness.platform.client import Obj
from harness.platform.stack import DEPLOY_DIR, place_in, stack_in
from harness.platform.tool_bins import helm_command, kustomize_command
from harness.redaction import child_environment, redact_text

MANAGED_BY = "app.kubernetes.io/managed-by"
RENDER_TIMEOUT = 120.0


class StackSource(Protocol):
    """Renders SENTINEL's objects for one namespace (Namespace object included), applying nothing."""

    @property
    def method(self) -> str: ...

    def render(self, namespace: str) -> list[Obj]: ...

    def describe(self) -> dict[str, Any]: ...


def parse_objects(text: str, *, what: str) -> list[Obj]:
    """The Kubernetes objects of a multi-document YAML stream (empty documents and Lists' items flattened)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:  # named by position only: PyYAML's message quotes the line (a Secret's value)
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise ConfigError(f"{what} did not render valid YAML{where}: {problem}",
                          fix="render it by hand to see why") from None
    objects: list[Obj] = []
    for doc in docs:
        if not doc:
            continue
        items = doc.get("items") if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") else [doc]
        for item in items or []:
            if not isinstance(item, dict) or not {"apiVersion", "kind", "metadata"} <= item.keys():
                raise ConfigError(f"{what} rendered a document without apiVersion/kind/metadata",
                                  fix="every rendered document must be a Kubernetes object")
            objects.append(item)
    return objects


def _run(argv: list[str], *, what: str) -> str:
    try:
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=RENDER_TIMEOUT,
                             env=child_environment())  # a chart or kustomization needs no secret of ours
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what} did not finish in {RENDER_TIMEOUT:.0f} s", fix="render it by hand") from None
    if out.returncode != 0:
        tail = redact_text(" ".join(out.stderr.strip().splitlines()[-3:])[-400:])
        raise ConfigError(f"{what} failed: {tail}", fix="fix the chart/kustomization or the deploy settings")
    return out.stdout


@dataclass(frozen=True)
class ManifestsStack:
    """A directory of YAML files (or one with a kustomization.yaml resources list), read as committed;
    `REFERENCE_STACK` is this repository's deploy/ (what the sandbox runs by default)."""

    directory: Path
    method: str = "manifests"

    def render(self, namespace: str) -> list[Obj]:
        return stack_in(namespace, self.directory)

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "source": str(self.directory)}


#: this repository's deploy/, read as committed
REFERENCE_STACK = ManifestsStack(DEPLOY_DIR, method="reference")


@dataclass(frozen=True)
class KustomizeStack:
    """`kustomize build DIR` (or `kubectl kustomize DIR`)."""

    directory: Path
    method: str = "kustomize"

    def render(self, namespace: str) -> list[Obj]:
        text = _run([*kustomize_command(), str(self.directory)], what=f"kustomize build {self.directory}")
        return place_in(parse_objects(text, what=f"kustomize build {self.directory}"), namespace)

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "source": str(self.directory)}


@dataclass(frozen=True)
class HelmStack:
    """`helm template RELEASE CHART --namespace NS [--version V] [-f values]…`, as `helm install` would render."""

    chart: str
    release: str = "sentinel"
    version: str | None = None
    values: tuple[str, ...] = field(default_factory=tuple)
    method: str = "helm"

    def argv(self, namespace: str) -> list[str]:
        argv = [*helm_command(), "template", self.release, self.chart, "--namespace", namespace]
        if self.version:
            argv += ["--version", self.version]
        for values_file in self.values:
            argv += ["--values", values_file]
        return argv

    def render(self, namespace: str) -> list[Obj]:
        for values_file in self.values:
            if not Path(values_file).is_file():
                raise ConfigError(f"helm values file {values_file} does not exist", fix="fix helm_values")
        what = f"helm template {self.release} {self.chart}"
        return place_in(parse_objects(_run(self.argv(namespace), what=what), what=what), namespace)

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "source": self.chart, "release": self.release,
                "version": self.version, "values": list(self.values)}


def stack_source(settings: Settings) -> StackSource:
    """The configured deploy method (settings validation guarantees its chart/dir is set)."""
    if settings.deploy_method == "helm":
        return HelmStack(str(settings.helm_chart), release=settings.helm_release,
                         version=settings.helm_chart_version, values=tuple(settings.helm_values))
    if settings.deploy_method == "kustomize":
        return KustomizeStack(Path(str(settings.deploy_dir)))
    if settings.deploy_method == "manifests":
        return ManifestsStack(Path(str(settings.deploy_dir)))
    return REFERENCE_STACK


def deploy_record(source: StackSource, objects: list[Obj]) -> dict[str, Any]:
    """What a clean deploy applied, for the scenario's record: the method, its source and the objects' owners."""
    managed_by = sorted({str((o["metadata"].get("labels") or {}).get(MANAGED_BY)) for o in objects
                         if (o["metadata"].get("labels") or {}).get(MANAGED_BY)})
    return {**source.describe(), "objects": [f"{o['kind']}/{o['metadata']['name']}" for o in objects],
            "managed_by": managed_by}
