"""Chaos experiments: run chaostoolkit experiments through chaoslib, and our own activities."""
