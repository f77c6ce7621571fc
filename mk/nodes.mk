# Real sandbox nodes: containerd, runc, kubelet, kube-proxy, kube-network-policies from Go modules,
# plus the host packages they need. `make test`/`make drill` run `real-node-parts` first; a machine
# that cannot run real nodes gets one line saying why and a kwok-only sandbox.

.PHONY: real-node-parts

real-node-parts: ## what real sandbox nodes need (engine, images, node binaries); says why and carries on when this machine cannot
	@if [ "$$(id -u)" != 0 ]; then echo "real nodes: skipped (not root); the sandbox will be kwok-only"; exit 0; fi; \
	rc=0; tools/docker-engine.sh ensure || rc=$$?; \
	if [ $$rc = 3 ]; then echo "real nodes: no Docker engine here; the sandbox will be kwok-only"; exit 0; fi; \
	[ $$rc = 0 ] || exit $$rc; \
	$(MAKE) --no-print-directory -j2 --output-sync=target node-bin images  # Go builds beside image builds (CPU vs network)
