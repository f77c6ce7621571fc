"""Read one value out of a Kubernetes Secret (decoded; the caller registers it for redaction)."""

from __future__ import annotations

import base64
import binascii

from harness.errors import ConfigError
from harness.platform.client import Cluster, namespaced


def secret_value(cluster: Cluster, *, namespace: str, name: str, key: str) -> str:
    """The decoded value of `key` in Secret `namespace/name`.

    Raises ObjectNotFound when the Secret is absent and ConfigError when it has no such key
    (the message names the Secret and the key, never a value).
    """
    secret = cluster.get(namespaced("v1", "secrets", namespace, name), what=f"secret {namespace}/{name}")
    encoded = (secret.get("data") or {}).get(key)
    if not encoded:
        raise ConfigError(f"secret {namespace}/{name} has no key {key!r}",
                          fix=f"add {key} to secret {name} (deploy/secrets.yaml names what it holds)")
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ConfigError(f"secret {namespace}/{name} key {key!r} is not base64-encoded UTF-8",
                          fix=f"rewrite {key} in secret {name}") from None
