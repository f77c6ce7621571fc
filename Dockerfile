# sentinel-drill as a container: the harness CLI plus Debian's redis-tools (redis-check-rdb,
# redis-cli) and redis-server (scratch servers for verification and network restores).
# Used by deploy/cronjobs (hourly backup, daily verification). Runs as uid 10001, never root.
#
#   docker build -t sentinel-drill:0.1.0 .
#   docker run --rm -e REDIS_PASSWORD -e DRILL_STORE_URL=s3://sentinel-backups/ sentinel-drill:0.1.0 verify --latest

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# the package metadata first, so the dependency layer is reused while only harness/ changes
COPY pyproject.toml README.md ./
COPY harness ./harness
RUN python -m venv /opt/sentinel-drill \
 && /opt/sentinel-drill/bin/pip install --upgrade pip \
 && /opt/sentinel-drill/bin/pip install .

FROM python:3.11-slim-bookworm
# bookworm ships Redis 7.0.15: redis-server for scratch loads, redis-tools for redis-check-rdb.
# The package's service is never started in a container; the harness starts its own processes.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      redis-server redis-tools ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 drill \
 && useradd --system --uid 10001 --gid drill --home-dir /home/drill --create-home --shell /usr/sbin/nologin drill
COPY --from=build /opt/sentinel-drill /opt/sentinel-drill
ENV PATH=/opt/sentinel-drill/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/drill
WORKDIR /home/drill
USER 10001:10001
ENTRYPOINT ["sentinel-drill"]
CMD ["--help"]
