# The sandbox at scale (issue 13, item 3): 300 kwok nodes in 3 zones, ~3,000 Brain pods; a pod kill and a
# zone drain, with recovery seconds, the harness's Kubernetes API requests by verb and its CPU seconds.
# Not part of `make test` (minutes, most of the machine). Included by the Makefile (`-include mk/*.mk`).

SCALE_ARGS ?=

.PHONY: bench-scale

bench-scale: setup sandbox-bin ## the sandbox at 300 kwok nodes / 3,000 Brain pods: pod kill + zone drain, API requests and CPU (reports/bench/scale-*.json)
	$(PY) bench/scale.py $(SCALE_ARGS)
