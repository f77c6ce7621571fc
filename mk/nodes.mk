# Real sandbox nodes: containerd, runc, kubelet, kube-proxy, kube-network-policies from Go modules,
# plus the host packages they need. `make test`/`make drill` run `real-node-parts` first; a machine
# that cannot run real nodes gets one line saying why and a kwok-only sandbox.

.PHONY: node-bin real-node-parts

NODE_APT := libseccomp-dev containernetworking-plugins iptables nftables conntrack iproute2

node-bin: ## build the real-node binaries (containerd, runc, kubelet, kube-proxy, network policy) from Go modules, cached per version
	@missing=$$(for p in $(NODE_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing $$missing (apt)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; fi
	tools/build-node-bin.sh

real-node-parts: ## what real sandbox nodes need (engine, images, node binaries); says why and carries on when this machine cannot
	@if [ "$$(id -u)" != 0 ]; then echo "real nodes: skipped (not root); the sandbox will be kwok-only"; exit 0; fi; \
	rc=0; tools/docker-engine.sh ensure || rc=$$?; \
	if [ $$rc = 3 ]; then echo "real nodes: no Docker engine here; the sandbox will be kwok-only"; exit 0; fi; \
	[ $$rc = 0 ] || exit $$rc; \
	$(MAKE) --no-print-directory node-bin images
