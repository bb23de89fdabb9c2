#!/usr/bin/env bash
# `make run`: the whole platform on this machine, behind the nginx gateway.
#   1. scripts/setup.sh: uv and packages, PostgreSQL/RabbitMQ/Redis running, nginx installed;
#   2. scripts/migrate.sh: per-service databases, the RabbitMQ vhost, Alembic migrations; the
#      dev PKI and SoftHSM2 token of signing (hsdt-signing-dev setup);
#   3. the demo province: `python -m <svc>.demo` for each service that has a demo.py;
#   4. a Procfile and the gateway config under $HSDT_RUN_DIR (default .run/), then honcho runs
#      every service's API and worker and nginx in the foreground;
#   5. waits until each service's /healthz answers through the gateway and prints the URLs.
# Ctrl-C (or SIGTERM) stops honcho and everything under it, then the servers that setup.sh
# started (the ones it found running are left running). Knobs: see scripts/env.sh and
# docs/running.md (HSDT_GATEWAY_PORT, HSDT_PORT_BASE, HSDT_DB_PREFIX, HSDT_VHOST, ...).
# shellcheck disable=SC2317 # functions called from traps are reachable
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:$HOME/.local/bin:$HOME/.local/share/hsdt-uv/bin"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
mkdir -p "$HSDT_RUN_DIR"
HSDT_RUN_DIR="$(cd "$HSDT_RUN_DIR" && pwd)"
export HSDT_RUN_DIR

START_TIMEOUT="${HSDT_START_TIMEOUT:-120}"
STOP_TIMEOUT="${HSDT_STOP_TIMEOUT:-30}"

say() { printf '[run] %s\n' "$*"; }
die() { printf '[run] ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

STARTED_SERVERS=()
SETUP_RAN=0
HONCHO_PID=""
WAITER_PID=""
# Every process under honcho inherits this, so that none can outlive the run unnoticed.
RUN_TOKEN="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

# Pids of processes (other than this shell) that carry this run's token.
run_token_pids() {
    local f pid
    for f in /proc/[0-9]*/environ; do
        pid="${f#/proc/}"
        pid="${pid%/environ}"
        [ "$pid" = "$$" ] && continue
        if grep -qzx "HSDT_RUN_TOKEN=$RUN_TOKEN" "$f" 2>/dev/null; then
            echo "$pid"
        fi
    done
}

stop_honcho() {
    [ -n "$HONCHO_PID" ] || return 0
    if kill -0 "$HONCHO_PID" 2>/dev/null; then
        say "stopping the services and the gateway"
        # honcho (and uv in front of it) lead their own process group; honcho passes SIGTERM to
        # each process's group and SIGKILLs what is left after 5 s.
        kill -TERM -- "-$HONCHO_PID" 2>/dev/null || true
        local deadline=$((SECONDS + STOP_TIMEOUT))
        while kill -0 "$HONCHO_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.2
        done
        kill -KILL -- "-$HONCHO_PID" 2>/dev/null || true
    fi
    wait "$HONCHO_PID" 2>/dev/null || true
    HONCHO_PID=""
    # Anything that escaped (a child that ignored SIGTERM after honcho died) goes by pid.
    local pids
    pids="$(run_token_pids)"
    if [ -n "$pids" ]; then
        say "terminating leftover processes: $(echo "$pids" | tr '\n' ' ')"
        # shellcheck disable=SC2086 # one pid a word
        kill -TERM $pids 2>/dev/null || true
        sleep 2
        pids="$(run_token_pids)"
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    fi
}

stop_servers() {
    local i server ver
    # In the reverse order of starting.
    for ((i = ${#STARTED_SERVERS[@]} - 1; i >= 0; i--)); do
        server="${STARTED_SERVERS[$i]}"
        say "stopping $server (setup.sh started it)"
        case "$server" in
            postgresql)
                # shellcheck disable=SC2012 # cluster versions are plain numbers
                ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
                "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main stop || true
                ;;
            redis) redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true ;;
            rabbitmq) "${SUDO[@]}" rabbitmqctl -q stop >/dev/null 2>&1 || true ;;
        esac
    done
    STARTED_SERVERS=()
}

CLEANED=0
cleanup() {
    [ "$CLEANED" -eq 0 ] || return 0
    CLEANED=1
    if [ -n "$WAITER_PID" ]; then
        kill -TERM "$WAITER_PID" 2>/dev/null || true
    fi
    if [ "$SETUP_RAN" -eq 1 ] && [ "${#STARTED_SERVERS[@]}" -eq 0 ]; then
        read_started_servers
    fi
    stop_honcho
    stop_servers
    if [ -f "$HSDT_RUN_DIR/nginx/temp-dir" ]; then
        rm -rf "$(cat "$HSDT_RUN_DIR/nginx/temp-dir")"
    fi
    say "stopped"
}
read_started_servers() {
    if [ -s "$HSDT_RUN_DIR/started-servers" ]; then
        mapfile -t STARTED_SERVERS <"$HSDT_RUN_DIR/started-servers"
    fi
}
on_signal() {
    trap - INT TERM
    cleanup
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap cleanup EXIT

# --- 1. setup ----------------------------------------------------------------------------------
SETUP_RAN=1
bash "$ROOT/scripts/setup.sh"
read_started_servers

for svc in "${HSDT_SERVICES[@]}"; do
    [ -f "services/$svc/src/$svc/app.py" ] || die "services/$svc/src/$svc/app.py is missing"
done

# --- 2. databases, vhost, migrations -----------------------------------------------------------
bash "$ROOT/scripts/migrate.sh"
hsdt_export_service_env
hsdt_export_identity_secrets
hsdt_export_signing_dev
hsdt_export_archive_store

# --- 3. demo province --------------------------------------------------------------------------
demo=0
for svc in "${HSDT_SERVICES[@]}"; do
    if [ -f "services/$svc/src/$svc/demo.py" ]; then
        say "$svc: loading the demo province (python -m $svc.demo)"
        uv run --no-sync python -m "$svc.demo"
        demo=1
    fi
done
if [ "$demo" -eq 0 ]; then
    say "demo province: no service has a demo.py yet (services/<svc>/src/<svc>/demo.py); skipped"
fi
# After identity's demo: the province the archive's platform client belongs to exists now.
hsdt_export_archive_client

# --- 4. Procfile and gateway -------------------------------------------------------------------
NGINX_CONF="$(bash "$ROOT/scripts/render-gateway.sh" "$HSDT_RUN_DIR/nginx")"
NGINX_DIR="$(dirname "$NGINX_CONF")"
nginx -t -q -p "$NGINX_DIR/" -c "$NGINX_CONF" -e stderr || die "nginx rejected $NGINX_CONF"

PROCFILE="$HSDT_RUN_DIR/Procfile"
ENV_FILE="$HSDT_RUN_DIR/services.env"
hsdt_write_env_file "$ENV_FILE"
{
    echo "# Generated by scripts/run.sh; the environment is in services.env."
    for svc in "${HSDT_SERVICES[@]}"; do
        port="$(hsdt_port "$svc")"
        echo "$svc-api: exec env OTEL_SERVICE_NAME=$svc uv run --no-sync uvicorn --factory $svc.app:create_app --host 127.0.0.1 --port $port"
        if [ -f "services/$svc/src/$svc/worker.py" ]; then
            echo "$svc-worker: exec env OTEL_SERVICE_NAME=$svc uv run --no-sync python -m $svc.worker"
        else
            say "$svc: no worker.py yet; running its API only" >&2
        fi
    done
    # The dev PKI's RFC 3161 timestamps, OCSP and CRLs, which signing needs for every signature.
    printf 'pki: exec uv run --no-sync hsdt-signing-pki serve --dir %q\n' "$HSDT_RUN_DIR/signing/pki"
    # Archive's S3 server (object lock, retention, legal holds): Ceph's RADOS gateway.
    printf 's3: exec uv run --no-sync hsdt-archive-rgw serve --dir %q --port %s --persistent\n' \
        "$HSDT_RUN_DIR/s3" "$(hsdt_s3_port)"
    printf 'gateway: exec nginx -p %q -c %q -e stderr -g %q\n' "$NGINX_DIR/" "$NGINX_CONF" 'daemon off;'
} >"$PROCFILE"

# --- 5. start, wait, report --------------------------------------------------------------------
say "starting $(grep -c '^[a-z]' "$PROCFILE") processes under honcho ($PROCFILE)"
HSDT_RUN_TOKEN="$RUN_TOKEN" setsid uv run --no-sync honcho --no-colour \
    -d "$ROOT" -f "$PROCFILE" -e "$ENV_FILE" start &
HONCHO_PID=$!

GATEWAY="http://127.0.0.1:${HSDT_GATEWAY_PORT}"
# Each service directly first, then through the gateway (so the gateway's error log is not
# filled with refused connections while the services import). In the background, so that a
# signal is handled at once rather than after the wait.
targets=()
for svc in "${HSDT_SERVICES[@]}"; do
    targets+=("$svc=$(hsdt_port "$svc")")
done
uv run --no-sync python - "$GATEWAY" "$START_TIMEOUT" "$HONCHO_PID" "${targets[@]}" <<'PY' &
import os, sys, time, urllib.error, urllib.request

gateway, timeout, honcho_pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ports = dict(arg.split("=", 1) for arg in sys.argv[4:])
deadline = time.monotonic() + timeout


def healthy(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


for stage, url_of in (
    ("directly", lambda svc: f"http://127.0.0.1:{ports[svc]}/healthz"),
    ("through the gateway", lambda svc: f"{gateway}/{svc}/healthz"),
):
    waiting = list(ports)
    while waiting:
        try:
            os.kill(honcho_pid, 0)
        except ProcessLookupError:
            sys.exit("[run] honcho stopped before the services were up (see its output above)")
        waiting = [svc for svc in waiting if not healthy(url_of(svc))]
        if waiting:
            if time.monotonic() > deadline:
                sys.exit(f"[run] not healthy {stage} within {timeout:.0f} s: {', '.join(waiting)}")
            time.sleep(0.5)
PY
WAITER_PID=$!
if ! wait "$WAITER_PID"; then
    WAITER_PID=""
    die "the platform did not come up"
fi
WAITER_PID=""

say "HSĐT is up."
echo "Gateway: ${GATEWAY}/"
for svc in "${HSDT_SERVICES[@]}"; do
    printf '  %-11s %s/%s/docs   (direct: http://127.0.0.1:%s)\n' "$svc" "$GATEWAY" "$svc" "$(hsdt_port "$svc")"
done
say "logs: this terminal; gateway access log: $NGINX_DIR/logs/access.log. Ctrl-C stops everything."

set +e
wait "$HONCHO_PID"
rc=$?
set -e
HONCHO_PID=""
say "honcho exited (rc=$rc): a process stopped, so all were stopped"
exit "$rc"
