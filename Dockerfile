# sentinel-drill as a container: the harness CLI plus Debian's redis-tools (redis-check-rdb,
# redis-cli) and redis-server (scratch servers for verification and network restores).
# Used by deploy/cronjobs (hourly backup, daily verification) and deploy/drill-job (the drill as a Job).
# Runs as uid 10001, never root.
#
#   docker build -t sentinel-drill:0.1.0 .      (or `make images`, which builds the base first)
#   docker run --rm -e REDIS_PASSWORD -e DRILL_STORE_URL=s3://sentinel-backups/ sentinel-drill:0.1.0 verify --latest
#
# No registry is reachable where the sandbox runs, so both stages start from the local debootstrap
# base `local/debian:bookworm` (tools/build-images.sh) with Debian's python3 (3.11).

FROM local/debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# the system trust store (with the base's local CAs), not pip's bundled one
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
WORKDIR /src
# the dependencies first, from the metadata and an empty package, so that layer is reused while
# only harness/ changes (a rebuild then takes seconds instead of minutes)
COPY pyproject.toml README.md ./
RUN python3 -m venv /opt/sentinel-drill \
 && /opt/sentinel-drill/bin/pip install --upgrade pip \
 && mkdir harness && touch harness/__init__.py \
 && /opt/sentinel-drill/bin/pip install . \
 && /opt/sentinel-drill/bin/pip uninstall -y sentinel-drill \
 && rm -rf harness build
COPY harness ./harness
RUN /opt/sentinel-drill/bin/pip install --no-deps .

FROM local/debian:bookworm
# The venv's python is Debian's /usr/bin/python3 (3.11), installed again here.
# bookworm ships Redis 7.0.15: redis-server for scratch loads, redis-tools for redis-check-rdb.
# The package's service is never started in a container; the harness starts its own processes.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 redis-server redis-tools ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 drill \
 && useradd --system --uid 10001 --gid drill --home-dir /home/drill --create-home --shell /usr/sbin/nologin drill
COPY --from=build /opt/sentinel-drill /opt/sentinel-drill
# the drills themselves, for `sentinel-drill drill` as an in-cluster Job (deploy/drill-job/): read-only here;
# the drill runs in its working directory (a scratch volume) and writes reports/ there
COPY pyproject.toml conftest.py /opt/sentinel-drill/drills/
COPY features /opt/sentinel-drill/drills/features
COPY steps /opt/sentinel-drill/drills/steps
COPY experiments /opt/sentinel-drill/drills/experiments
ENV PATH=/opt/sentinel-drill/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DRILL_HOME=/opt/sentinel-drill/drills \
    HOME=/home/drill
WORKDIR /home/drill
USER 10001:10001
ENTRYPOINT ["sentinel-drill"]
CMD ["--help"]
