"""`python -m harness.cli` runs the command line (same as the `sentinel-drill` script)."""

from harness.cli import entry

entry()
