# Containers: the local Docker engine and the locally built images (no registry answers here).
# Included by the Makefile (`-include mk/*.mk`); targets with `## ...` show in `make help`.

.PHONY: docker images

docker: ## install (apt docker.io) and start the local Docker engine if it is not answering; exit 3 = cannot run here
	tools/docker-engine.sh ensure

images: docker ## build the local images (Debian bases, Redis 7.0/trixie, pause, Brain, Gateway, the project image); reuses unchanged ones
	tools/build-images.sh
