# Real sandbox nodes: containerd, runc, kubelet, kube-proxy, kube-network-policies from Go modules,
# plus the engine and images. `make test`/`make drill` run `real-node-parts` first; a machine
# that cannot run real nodes gets one line saying why and a kwok-only sandbox.

.PHONY: real-node-parts

# The images real-node-parts builds: the ones the nodes run (a drill), or every image (`make test`: its
# container tests also use the trixie Redis, and run on cgroup v2 too, where real nodes cannot).
REAL_NODE_IMAGES ?= node-images
test: REAL_NODE_IMAGES = images

# The Debian packages come first ($(SYSTEM_PACKAGES), one apt run); only then the two builds side by side.
# Their lines interleave (each script prefixes its own): --output-sync would lock make's stdout, and with
# stdout on /dev/null (cron) that lock waits forever on the one dockerd holds on its stdin, /dev/null.
real-node-parts: $(SYSTEM_PACKAGES) ## what real sandbox nodes need (engine, images, node binaries); says why and carries on when this machine cannot
	@if [ -z "$(DRY_RUN)" ] && [ "$$(id -u)" != 0 ]; then echo "real nodes: skipped (not root); the sandbox will be kwok-only"; exit 0; fi; \
	if [ -z "$(DRY_RUN)" ] && [ $(REAL_NODE_IMAGES) = node-images ] && [ ! -d /sys/fs/cgroup/freezer ]; then \
	  echo "real nodes: skipped (no cgroup v1 freezer hierarchy under /sys/fs/cgroup); the sandbox will be kwok-only"; exit 0; fi; \
	why=$$($(DRY)tools/install-system-packages.sh --check real-nodes) || { echo "real nodes: skipped, $$why; the sandbox will be kwok-only"; exit 0; }; \
	rc=0; $(DRY)tools/docker-engine.sh ensure || rc=$$?; \
	if [ $$rc = 3 ]; then echo "real nodes: no Docker engine here; the sandbox will be kwok-only"; exit 0; fi; \
	[ $$rc = 0 ] || exit $$rc; \
	$(MAKE) --no-print-directory -j2 node-bin $(REAL_NODE_IMAGES) SYSTEM_PACKAGES=  # Go builds beside image builds (CPU vs network)
