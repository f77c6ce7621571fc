# Containers: the local Docker engine and the locally built images (no registry answers here).
# Included by the Makefile (`-include mk/*.mk`); targets with `## ...` show in `make help`.

.PHONY: docker images node-images

docker: $(SYSTEM_PACKAGES) ## start the local Docker engine (Debian's docker.io, from `make system-packages`) if it does not answer; exit 3 = cannot run here
	tools/docker-engine.sh ensure

images: docker ## build every local image (Debian bases, Redis 7.0/trixie, pause, Brain, Gateway, the project image); reuses unchanged ones
	tools/build-images.sh

node-images: docker ## build the images real sandbox nodes run (bookworm base, Redis 7.0, pause, Brain, Gateway, the project image)
	tools/build-images.sh --nodes
