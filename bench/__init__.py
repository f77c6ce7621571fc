"""Benchmarks of backup, verify and restore, each beside its floor measured in the same run (`make bench`).

Not part of the harness package: it drives the harness the way a drill does and
measures it against the plain tools (redis-cli, redis-server, boto3).
"""
