"""`sentinel-drill keys generate`: an Ed25519 key pair for signing verification records.

The private key goes to the verification job only (a Secret the backup job never
mounts, exposed as DRILL_VERIFIER_KEY); the public key goes into configuration
(`verifier_public_keys`), where restore and the preflight check signatures with it.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.app import app, emit_json, json_option
from harness.signing import write_keypair


@app.group("keys")
def keys() -> None:
    """Signing keys for verification records."""


@keys.command("generate")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Directory for NAME.key and NAME.pub.")
@click.option("--name", default="verifier", show_default=True, help="File name of the pair.")
@json_option
def generate(out: Path, name: str, as_json: bool) -> None:
    """Write NAME.key (private, 0600, PEM: the verification job's DRILL_VERIFIER_KEY) and NAME.pub (public)."""
    pair = write_keypair(out, name)
    if as_json:
        emit_json({"key_id": pair.key_id, "public_key": pair.public, "private_key_file": str(out / f"{name}.key")})
        return
    click.echo(f"wrote {out / (name + '.key')} (private, 0600: give it to the verification job only, as "
               "DRILL_VERIFIER_KEY)")
    click.echo(f"wrote {out / (name + '.pub')} (key id {pair.key_id}); add to the configuration:")
    click.echo(f"verifier_public_keys: [{pair.public}]")
