# shellcheck shell=bash
# Settings of the local canary stack (dockerd + single-node swarm + Traefik + Prometheus).
#
#   source scripts/stack/env.sh
#
# Safe to source from any shell (also under `set -euo pipefail`); it only exports
# variables. Every value can be overridden by exporting it before sourcing / before
# running up.sh. Tests and down.sh must see the same values up.sh used.

# Host ports. All listeners are meant for 127.0.0.1 only (see docs/local-stack.md).
export CANARY_WEB_PORT="${CANARY_WEB_PORT:-38080}"     # Traefik entrypoint "web"
export CANARY_API_PORT="${CANARY_API_PORT:-38082}"     # Traefik entrypoint "traefik": API, /ping, /metrics, dashboard
export CANARY_PROM_PORT="${CANARY_PROM_PORT:-39090}"   # Prometheus (Debian package, run by hand)
export CANARY_SCRAPE_PROXY_PORT="${CANARY_SCRAPE_PROXY_PORT:-39091}"  # Prometheus' way onto canary-net (tools/scrape-proxy)

# State: Traefik static config, file-provider directory, Prometheus config+TSDB, logs, pid files.
export CANARY_STACK_DIR="${CANARY_STACK_DIR:-/var/lib/canary-stack}"
# Host directory bind-mounted into Traefik as its file-provider directory (/etc/traefik/dynamic).
# Write files here atomically: write a dot-file in this directory, then rename it into place.
export CANARY_TRAEFIK_DYNAMIC_DIR="${CANARY_TRAEFIK_DYNAMIC_DIR:-$CANARY_STACK_DIR/dynamic}"
# Traefik's access log (JSON lines, one per request), written through a bind mount: where the
# statistical judge reads its raw samples (canary --traefik-access-log).
export CANARY_TRAEFIK_ACCESS_LOG="${CANARY_TRAEFIK_ACCESS_LOG:-$CANARY_STACK_DIR/traefik/log/access.json}"

# Swarm objects.
export CANARY_NETWORK="${CANARY_NETWORK:-canary-net}"          # attachable overlay, label io.canary.stack=local
export CANARY_TRAEFIK_SERVICE="${CANARY_TRAEFIK_SERVICE:-canary-traefik}"
# Traefik reads the Docker API through a read-only proxy (tools/socket-proxy), the only service
# with the socket mounted, on an internal overlay network only the two of them join.
export CANARY_DOCKER_PROXY_SERVICE="${CANARY_DOCKER_PROXY_SERVICE:-canary-docker-proxy}"
export CANARY_DOCKER_API_NETWORK="${CANARY_DOCKER_API_NETWORK:-canary-docker-api}"   # overlay, internal, label io.canary.stack=local
# Prometheus (on the host) scrapes the apps' tasks on canary-net through this forward proxy.
export CANARY_SCRAPE_PROXY_SERVICE="${CANARY_SCRAPE_PROXY_SERVICE:-canary-scrape-proxy}"
export CANARY_STACK_LABEL="io.canary.stack=local"              # on everything up.sh creates
export CANARY_TEST_LABEL="io.canary.test=1"                    # convention for services tests create

# Images (built locally, never pulled).
export CANARY_TRAEFIK_VERSION="${CANARY_TRAEFIK_VERSION:-3.7.9}"
export CANARY_TRAEFIK_IMAGE="canary-traefik:${CANARY_TRAEFIK_VERSION}"
export CANARY_DEMO_IMAGE="${CANARY_DEMO_IMAGE:-canary-demo:latest}"   # also tagged canary-demo:v1 and :v2
export CANARY_SOCKET_PROXY_REPO="${CANARY_SOCKET_PROXY_REPO:-canary-socket-proxy}"  # tagged with the crate's version
export CANARY_SCRAPE_PROXY_REPO="${CANARY_SCRAPE_PROXY_REPO:-canary-scrape-proxy}"  # tagged with the crate's version

# URLs (loopback only).
export CANARY_WEB_URL="http://127.0.0.1:${CANARY_WEB_PORT}"
export CANARY_TRAEFIK_URL="http://127.0.0.1:${CANARY_API_PORT}"
export CANARY_PROMETHEUS_URL="http://127.0.0.1:${CANARY_PROM_PORT}"
