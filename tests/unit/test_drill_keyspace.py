"""Keys counted by prefix, names only: what a restore must bring back, and how a shortfall is named."""

from __future__ import annotations

from harness.drills.keyspace import NO_PREFIX, KeyCensus, prefix_of, shortfalls


def test_a_prefix_is_the_text_up_to_the_first_colon_and_undecodable_bytes_are_escaped():
    assert prefix_of(b"session:abc:def") == "session:"
    assert prefix_of(b"plain") == NO_PREFIX
    assert prefix_of(b"\xff\xfe:x") == "\\xff\\xfe:"


def test_a_prefix_short_beyond_the_tolerance_or_gone_is_named_worst_first():
    production = KeyCensus({"session:": 100, "cache:": 50, "user:": 10, "ratelimit:": 40})
    restored = KeyCensus({"session:": 95, "cache:": 30, "ratelimit:": 40})
    short = shortfalls(production, restored, tolerance=0.2)
    assert [s.describe() for s in short] == ["user: 0 of 10 key(s)", "cache: 30 of 50 key(s)"]


def test_a_prefix_gone_counts_whatever_the_tolerance():
    short = shortfalls(KeyCensus({"session:": 3}), KeyCensus({}), tolerance=1.0)
    assert [s.prefix for s in short] == ["session:"]
