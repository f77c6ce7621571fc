"""Typed drill settings: YAML file < DRILL_* environment < command-line flags.

Secrets never come from the file: the Redis password is read from
`REDIS_PASSWORD` (or the userinfo of the Redis URL) and kept as a `SecretStr`,
so printing the settings cannot leak it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.dns import same_record
from harness.errors import ConfigError
from harness.redaction import register_secret
from harness.retention import LOG_TYPES, RUNBOOK_RETENTION, RetentionPolicy

ENV_PREFIX = "DRILL_"
CONTACTS_FORM = ("give 'contacts' in the config file (or DRILL_CONTACTS) as a list of mappings "
                 "with role, responsibility and contact, e.g. - {role: Backup Owner, contact: platform-team@}")
CONFIG_ENV = "DRILL_CONFIG"
#: the runbook's "Configuration Backup": Secrets sentinel-auth and sentinel-redis, ConfigMap sentinel-config
CONFIG_SECRETS = ("sentinel-auth", "sentinel-redis")
CONFIG_MAPS = ("sentinel-config",)


class Contact(BaseModel):
    """One row of the runbook's contacts table: who is told, and who the evidence names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str = Field(min_length=1)
    responsibility: str = ""
    contact: str = Field(min_length=1)


#: the runbook's "Contacts" table (sentinel-backup-and-dr.md)
DEFAULT_CONTACTS = (
    Contact(role="Backup Owner", responsibility="Backup procedures", contact="platform-team@"),
    Contact(role="DR Coordinator", responsibility="DR drills, planning", contact="sre-lead@"),
    Contact(role="Security", responsibility="Incident response", contact="security@"),
)


class Settings(BaseModel):
    """Everything a drill needs to know about its target and its targets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str = Field("sandbox", description="name of the target; 'sandbox' is the local one")
    rpo_seconds: float = Field(3600, ge=0, description="recovery point objective")
    rto_seconds: float = Field(900, ge=0, description="recovery time objective")
    redis_url: str | None = Field(None, description="redis://host:port/db of the production Redis, or "
                                     "k8s://NAMESPACE/NAME:PORT through a port-forward")
    redis_password: SecretStr | None = Field(None, description="from REDIS_PASSWORD only")
    store_url: str | None = Field(None, description="s3://bucket/prefix or file:///abs/dir")
    store_retention_days: int | None = Field(
        None, ge=1, description="object-lock retention for uploads (S3 buckets with object lock only)"
    )
    store_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "COMPLIANCE"
    config_secrets: tuple[str, ...] = Field(CONFIG_SECRETS, description="Secrets the configuration backup exports")
    config_maps: tuple[str, ...] = Field(CONFIG_MAPS, description="ConfigMaps the configuration backup exports")
    log_store_url: str | None = Field(None, description="s3://bucket/prefix of the daily log archives")
    log_retention: dict[str, RetentionPolicy] = Field(
        default_factory=lambda: dict(RUNBOOK_RETENTION),
        description="retention table per log type (days): hot_days, warm_days, cold_days; the runbook's by default")
    prometheus_config_map: str = Field(
        "prometheus-config", description="ConfigMap holding Prometheus's configuration ([namespace/]name)")
    prometheus_config_key: str = Field("prometheus.yml", description="its key with the YAML")
    coverage_window_hours: float = Field(48, gt=0, description="how far back `coverage` checks backup history")
    verifier_public_keys: tuple[str, ...] = Field(
        (), description="Ed25519 public keys (base64) whose signature makes a verification record trusted; "
                        "when set, restore and the preflight verify again rather than trust an unsigned record")
    evidence_public_keys: tuple[str, ...] = Field(
        (), description="Ed25519 public keys (base64) of the pipeline's evidence signing key: `evidence verify` "
                        "then requires every bundle and chain head to carry a valid signature by one of them")
    evidence_retention_days: int = Field(
        365, ge=1, description="object-lock retention of uploaded evidence bundles and chain heads (days)")
    integration_smoke: bool = Field(
        True, description="send the integration smoke's requests (sessions, rate limit) to the Gateway at the health "
                          "URL; set false where that URL is not SENTINEL's Gateway (the smoke is then NOT RUN)")
    backup_schedule_slack_seconds: float = Field(
        300, ge=0, description="coverage and the daily check: allowance for the hourly CronJob's start jitter and run "
                               "time before a gap counts, or before the newest backup counts as too old")
    request_pipeline_backup: bool = Field(
        True, description="scenarios 3 and 4: before the fault, ask the backup CronJob (backup_cronjob) for a fresh "
                          "backup as `kubectl create job --from=cronjob/…` does, and restore that one; false where a "
                          "drill may not create objects in production: the pipeline's newest backup, as it is")
    backup_cronjob: str = Field("redis-backup", min_length=1,
                                description="the backup pipeline's CronJob in the target's namespace")
    known_good_images: dict[str, str] = Field(
        default_factory=dict, description="scenario 4: image → sha256 digest of every image the clean deploy may "
                                          "run; an image without one, or whose digest differs or cannot be "
                                          "resolved, stops the deploy; empty: not checked (said so)")
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "sentinel"
    health_url: str | None = None
    aws_endpoint_url: str | None = Field(None, description="S3/Route 53 endpoint; unset: boto3's own (AWS_ENDPOINT_URL)")
    hosted_zone_id: str | None = None
    dns_record_name: str | None = None
    dr_kubeconfig: str | None = Field(None, description="kubeconfig of the DR cluster (scenario 3 off-sandbox)")
    dr_context: str | None = Field(None, description="context of the DR cluster (scenario 3 off-sandbox)")
    dr_namespace: str | None = Field(None, description="namespace restores go to off-sandbox")
    dr_redis_url: str | None = Field(None, description="the DR environment's Redis (scenario 3 off-sandbox)")
    dr_redis_password: SecretStr | None = Field(None, description="from DR_REDIS_PASSWORD or dr_redis_url only")
    redis_restore_method: Literal["file", "network"] = Field(
        "file", description="how a drill writes Redis data: file (the runbook's volume copy) or network "
                            "(DUMP/RESTORE, when the harness cannot reach the volume)")
    restore_helper_image: str = Field(
        "redis:7.0.15-alpine", min_length=1,
        description="file restore: the image of the short-lived pod that mounts Redis's volume (any image with sh, "
                    "sha256sum and tar); set a local or mirrored one where nodes cannot pull from Docker Hub")
    restore_helper_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        "IfNotPresent", description="file restore: the helper pod's imagePullPolicy (Never where the image is only "
                                    "on the nodes, as on an air-gapped cluster)")
    dr_health_url: str | None = Field(None, description="the DR environment's health URL")
    dr_dns_record_name: str | None = Field(None, description="the drill's DNS record; production's is never moved")
    load_balancer: str | None = Field(None, description="DNS name the record points at after a restore")
    sandbox_dir: str | None = Field(None, description="state dir of the local sandbox (default .sandbox)")
    sandbox_nodes: Literal["auto", "real", "kwok"] = Field(
        "auto", description="a sandbox the drill starts: real kubelet nodes when this machine can (auto), or kwok")
    isolation_probe_image: str | None = Field(
        None, description="image with sh + nc (e.g. busybox); set where the CNI enforces NetworkPolicy, so "
                          "scenario 4 proves the isolation with a connection attempt, not only by its spec")
    deploy_method: Literal["reference", "helm", "kustomize", "manifests"] = Field(
        "reference", description="how scenarios 3 and 4 deploy SENTINEL into the new environment / clean namespace: "
                                 "reference (this repository's deploy/), helm (helm_chart), kustomize or manifests "
                                 "(deploy_dir); rendered to objects, then server-side applied (docs/deploy-methods.md)")
    helm_chart: str | None = Field(
        None, description="deploy_method helm: a chart directory or archive (relative to the working directory), "
                          "or repo/chart of a repository `helm repo add` knows")
    helm_chart_version: str | None = Field(None, description="deploy_method helm: the chart version (--version)")
    helm_values: tuple[str, ...] = Field((), description="deploy_method helm: values files, in order (-f); "
                                                           "never secret values: Secrets come from the export")
    helm_release: str = Field("sentinel", min_length=1, description="deploy_method helm: the release name")
    deploy_dir: str | None = Field(
        None, description="deploy_method kustomize (a kustomization directory) or manifests (a directory of YAML "
                          "files, or one with a kustomization.yaml resources list)")
    state_dir: str = Field("reports/state", description="the run's state: the undo ledger `recover` replays")
    run_id: str | None = Field(
        None, description="this run's id (DRILL_RUN_ID; set by `drill`, else made when the run starts): the label "
                          "on everything the run creates, the evidence bundle's name, the undo ledger's key")
    min_keys: int = Field(100, ge=0)
    dbsize_tolerance: float = Field(0.05, ge=0, le=1, description="monthly drill: restored keys vs DBSIZE")
    restore_prefix_tolerance: float = Field(
        0.2, ge=0, le=1, description="scenarios 3 and 4: a key prefix the restored data holds fewer than (1 − this) × "
                                     "the keys production held of it when the backup was asked for fails the restore "
                                     "(TTLs expire meanwhile; a prefix missing entirely always fails)")
    kill_share: float = Field(0.5, gt=0, le=1, description="scenario 1: share of Brain pods killed")
    availability_floor: float = Field(0.99, ge=0, le=1)
    probe_interval_seconds: float = Field(0.2, gt=0)
    allowed_targets: tuple[str, ...] = ()
    pinned_api_server: str | None = Field(
        None, description="API server URL of the cluster this target may break (sentinel-drill target pin)")
    pinned_kube_system_uid: str | None = Field(None, description="that cluster's kube-system namespace UID")
    dr_pinned_api_server: str | None = Field(
        None, description="API server URL of the DR cluster, when dr_kubeconfig/dr_context reach another one")
    dr_pinned_kube_system_uid: str | None = Field(None, description="the DR cluster's kube-system namespace UID")
    contacts: tuple[Contact, ...] = Field(
        DEFAULT_CONTACTS, description="the runbook's contacts table (role, responsibility, contact); the evidence "
                                      "names the Backup Owner and the DR Coordinator")
    notify_url: str | None = Field(
        None, description="webhook a failed drill's summary is posted to (Slack-compatible); a secret (its token "
                          "is in the URL): from DRILL_NOTIFY_URL or --notify only, shown redacted")

    @field_validator("run_id")
    @classmethod
    def _label_safe_run_id(cls, v: str | None) -> str | None:
        from harness.ownership import valid_run_id

        if v is not None and not valid_run_id(v):
            raise ValueError("expected at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric")
        return v

    @field_validator("contacts")
    @classmethod
    def _unique_roles(cls, v: tuple[Contact, ...]) -> tuple[Contact, ...]:
        roles = [c.role for c in v]
        duplicated = sorted({r for r in roles if roles.count(r) > 1})
        if duplicated:
            raise ValueError(f"role {duplicated[0]!r} is listed twice")
        return v

    @field_validator("notify_url")
    @classmethod
    def _webhook_scheme(cls, v: str | None) -> str | None:
        if v is not None and (urlsplit(v).scheme not in ("http", "https") or not urlsplit(v).netloc):
            raise ValueError("expected an http(s):// webhook URL")
        return v

    def contact(self, role: str) -> Contact | None:
        """The contacts row for `role` (e.g. "Backup Owner"), if the table has one."""
        return next((c for c in self.contacts if c.role.casefold() == role.casefold()), None)

    @field_validator("redis_url", "dr_redis_url")
    @classmethod
    def _redis_scheme(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme == "k8s":  # reached through a port-forward (platform/port_forward)
            from harness.platform.port_forward import parse_k8s_url

            try:
                parse_k8s_url(v)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        elif v is not None and urlsplit(v).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("expected redis://host:port/db or k8s://NAMESPACE/NAME:PORT")
        return v

    @field_validator("store_url", "log_store_url")
    @classmethod
    def _store_scheme(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme == "s3" and parts.netloc:
            return v
        if parts.scheme == "file" and parts.path.startswith("/"):
            return v
        raise ValueError("expected s3://bucket/prefix or file:///absolute/dir")

    @field_validator("log_retention")
    @classmethod
    def _known_log_types(cls, v: dict[str, RetentionPolicy]) -> dict[str, RetentionPolicy]:
        unknown = sorted(set(v) - set(LOG_TYPES))
        if unknown:
            raise ValueError(f"unknown log type {unknown[0]!r} (known: {', '.join(LOG_TYPES)})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        # ConfigError (not ValueError) so the one-line message names the pair and the fix, not a single field
        for server, uid in (("pinned_api_server", "pinned_kube_system_uid"),
                            ("dr_pinned_api_server", "dr_pinned_kube_system_uid")):
            if bool(getattr(self, server)) != bool(getattr(self, uid)):
                raise ConfigError(f"{server} and {uid} must be set together (a cluster is pinned by both)",
                                  fix="run `sentinel-drill target pin --config FILE` to write them")
        if self.dr_dns_record_name and self.dns_record_name and same_record(
                self.dr_dns_record_name, self.dns_record_name):
            raise ConfigError(f"dr_dns_record_name {self.dr_dns_record_name!r} is production's record",
                              fix="give the drill its own record (e.g. dr-drill.sentinel.example.com)")
        needs = {"helm": "helm_chart", "kustomize": "deploy_dir", "manifests": "deploy_dir"}.get(self.deploy_method)
        if needs and not getattr(self, needs):
            raise ConfigError(f"deploy_method {self.deploy_method} needs {needs}",
                              fix=f"set {needs} in the config file, or deploy_method: reference")
        return self

    def __repr_args__(self) -> Any:
        """repr() (what pytest, Allure step parameters and tracebacks print) shows the redacted values only."""
        return list(self.redacted().items())

    def redacted(self) -> dict[str, Any]:
        """The effective settings with every secret removed (safe for reports): secret fields, URL
        passwords (userinfo and query) and any known secret value, through the one redaction layer."""
        from harness.redaction import Redactor

        data = self.model_dump(mode="json")
        secrets = [v.get_secret_value() for v in (self.redis_password, self.dr_redis_password) if v]
        secrets += webhook_secrets(self.notify_url)
        redacted = dict(Redactor.from_env(secrets).data(data))
        if self.notify_url:
            redacted["notify_url"] = redact_webhook(self.notify_url)
        return redacted


def redact_url(url: str) -> str:
    """Drop the password from a URL's userinfo, keeping the rest readable."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def redact_webhook(url: str) -> str:
    """A webhook URL with its path and query (where Slack and others put the token) replaced by `***`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, "/***" if parts.path.strip("/") or parts.query else "", "", ""))


def webhook_secrets(url: str | None) -> list[str]:
    """The spellings of a webhook URL to redact by value: the whole URL and its path + query (the token)."""
    if not url:
        return []
    parts = urlsplit(url)
    tail = urlunsplit(("", "", parts.path, parts.query, ""))
    return [url, *([tail] if len(tail.strip("/")) >= 8 else [])]


def split_redis_url(url: str) -> tuple[str, str | None]:
    """Return the URL without its password, and that password (if any)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username and parts.username != "default" else ""
    clean = urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
    return clean, unquote(parts.password)


#: secrets: from the environment (or a URL's userinfo) only, never from the file or DRILL_*
SECRET_FIELDS = {"redis_password": "REDIS_PASSWORD", "dr_redis_password": "DR_REDIS_PASSWORD"}
#: secrets read through the DRILL_* mechanism (environment or flag), never from the file: a webhook URL holds a token
SECRET_ENV_FIELDS = {"notify_url": "DRILL_NOTIFY_URL"}
_FIELD_NAMES = set(Settings.model_fields) - set(SECRET_FIELDS)
#: settings that describe one run, not a target: from DRILL_* only (a run id in a file would give every run one id)
RUN_ONLY_FIELDS = {"run_id": "DRILL_RUN_ID"}
#: settings given as comma-separated lists in DRILL_* variables
_LIST_FIELDS = {"allowed_targets", "config_secrets", "config_maps", "verifier_public_keys", "evidence_public_keys",
                "helm_values"}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", fix="pass an existing file to --config")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}", fix="fix the YAML syntax")
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must be a mapping of settings", fix="use key: value lines")
    for field, env_name in {**SECRET_FIELDS, **SECRET_ENV_FIELDS}.items():
        if field in raw:
            raise ConfigError(
                f"config file {path} contains {field}",
                fix=f"remove it and set {env_name} in the environment; secrets never live in files",
            )
    for field, env_name in RUN_ONLY_FIELDS.items():
        if field in raw:
            raise ConfigError(f"config file {path} contains {field}, which names one run, not the target",
                              fix=f"remove it; `drill` makes one per run (or set {env_name} for this run)")
    unknown = sorted(set(raw) - _FIELD_NAMES)
    for key in unknown:
        warnings.warn(f"config file {path}: unknown key {key!r} ignored", stacklevel=2)
        raw.pop(key)
    return raw


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELD_NAMES:
        key = ENV_PREFIX + name.upper()
        if key in env and env[key] != "":
            value: Any = env[key]
            if name in _LIST_FIELDS:
                value = tuple(v.strip() for v in value.split(",") if v.strip())
            elif name in ("contacts", "known_good_images"):  # YAML/JSON, as in the file
                try:
                    value = yaml.safe_load(value)
                except yaml.YAMLError:
                    raise ConfigError(f"{key} is not valid YAML", fix=CONTACTS_FORM if name == "contacts" else
                                      "give a mapping, e.g. {\"sentinel/brain:1.4\": \"sha256:…\"}") from None
            out[name] = value
    return out


def load_settings(
    config_file: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings from file, environment and flags (later wins); raise ConfigError naming the field."""
    env = os.environ if env is None else env
    path = config_file or env.get(CONFIG_ENV)
    data: dict[str, Any] = _read_file(Path(path)) if path else {}
    data.update(_read_env(env))
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for url_field, field in (("redis_url", "redis_password"), ("dr_redis_url", "dr_redis_password")):
        password = env.get(SECRET_FIELDS[field]) or None
        if data.get(url_field):
            clean, url_password = split_redis_url(str(data[url_field]))
            data[url_field] = clean
            password = password or url_password
        if password:
            data[field] = password
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        top = str(first["loc"][0]) if first["loc"] else field
        source = f"DRILL_{top.upper()} or '{top}' in the config file"
        raise ConfigError(
            f"invalid setting {field}: {first['msg']}",
            fix=CONTACTS_FORM if top == "contacts" else f"set {source} to the expected form",
        ) from None
    for secret in webhook_secrets(settings.notify_url):  # kept out of every log, record and report from now on
        register_secret(secret)
    return settings

