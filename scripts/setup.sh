#!/usr/bin/env bash
# Brings a Debian 12 machine to the point where the platform can run and be tested:
# uv and the workspace's locked packages, and PostgreSQL, RabbitMQ, Redis (running) and nginx
# (installed; the run command starts it); SoftHSM2 and DejaVu fonts for the signing service.
# Idempotent: a second run changes nothing.
#
# Used by scripts/run.sh and scripts/test.sh. It writes the names of the servers that THIS
# invocation started to "$HSDT_RUN_DIR/started-servers" (default .run/), one a line, so that the
# run command can stop exactly those on exit and leave alone the ones it found running.
#
# Assumptions it checks (and says so when they do not hold):
#   * PostgreSQL listens on 127.0.0.1:5432 and lets the role "postgres" in without a password
#     (trust authentication for host connections from 127.0.0.1). When this script installs
#     PostgreSQL itself it configures exactly that; an existing server is never reconfigured.
#   * RabbitMQ on 127.0.0.1:5672 with its default guest/guest user (loopback only).
#   * Redis on 127.0.0.1:6379, no password.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN_DIR="${HSDT_RUN_DIR:-$ROOT/.run}"
STARTED_FILE="$RUN_DIR/started-servers"
UV_VENV="${HOME}/.local/share/hsdt-uv"
WAIT_SECONDS="${HSDT_SERVER_WAIT_SECONDS:-90}"

# Server binaries live in sbin, which a non-root PATH may lack; uv may live in the user's dirs.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:$HOME/.local/bin:$UV_VENV/bin"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "not root and no sudo: installing and starting servers needs one of them"
fi

mkdir -p "$RUN_DIR"
# Nothing under the run directory belongs in git.
[ -f "$RUN_DIR/.gitignore" ] || printf '*\n' >"$RUN_DIR/.gitignore"
: >"$STARTED_FILE"

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        "${SUDO[@]}" apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Waits until "$@" succeeds, at most WAIT_SECONDS.
wait_for() {
    local what="$1"; shift
    local deadline=$((SECONDS + WAIT_SECONDS))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "$what did not answer within ${WAIT_SECONDS}s"
        fi
        sleep 1
    done
}

# --- uv ----------------------------------------------------------------------------------------
ensure_uv() {
    if command -v uv >/dev/null 2>&1; then
        return
    fi
    say "uv not found; installing it with pip"
    local out=""
    if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
        if out="$(python3 -m pip install --quiet uv 2>&1)"; then
            hash -r
            command -v uv >/dev/null 2>&1 && return
        fi
    fi
    # pip absent, or refused because the system Python is externally managed (PEP 668):
    # a venv of our own that holds only uv.
    case "$out" in *externally-managed*) say "system pip is externally managed; using a venv" ;; esac
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_install python3-venv python3-pip
    if [ ! -x "$UV_VENV/bin/uv" ]; then
        python3 -m venv "$UV_VENV"
        "$UV_VENV/bin/python" -m pip install --quiet uv
    fi
    hash -r
    command -v uv >/dev/null 2>&1 || die "uv was installed but is not on PATH"
}

# --- Debian packages ---------------------------------------------------------------------------
ensure_packages() {
    local missing=()
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        missing+=(postgresql)
    fi
    command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v nginx >/dev/null 2>&1 || missing+=(nginx)
    command -v envsubst >/dev/null 2>&1 || missing+=(gettext-base) # renders the gateway template
    command -v setsid >/dev/null 2>&1 || missing+=(util-linux)
    # Signing: SoftHSM2 holds the keys (PKCS#11) in development and tests; DejaVu Sans draws
    # the Vietnamese text of visible signature stamps.
    command -v softhsm2-util >/dev/null 2>&1 && [ -e /usr/lib/softhsm/libsofthsm2.so ] \
        || missing+=(softhsm2)
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    # Archive: a one-node Ceph RADOS gateway is the S3 server with object lock of the tests and
    # the run command (archive.storage.rgw); ceph-common and ceph-base come as dependencies.
    command -v ceph-mon >/dev/null 2>&1 || missing+=(ceph-mon)
    command -v ceph-osd >/dev/null 2>&1 || missing+=(ceph-osd)
    command -v radosgw >/dev/null 2>&1 || missing+=(radosgw)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
        case " ${missing[*]} " in *" postgresql "*) PG_INSTALLED_NOW=1 ;; esac
    fi
}

# --- PostgreSQL --------------------------------------------------------------------------------
# shellcheck disable=SC2012 # cluster versions are plain numbers
pg_version() { ls /etc/postgresql | sort -V | tail -n 1; }

pg_answers() { pg_isready -q -h 127.0.0.1 -p 5432; }

pg_login_works() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -w -X -tAc 'SELECT 1' >/dev/null 2>&1; }

# Only for a cluster this script has just installed: trust the loopback addresses, as the
# project's tests and run command assume. An existing server's configuration is left alone.
pg_configure_trust() {
    local ver hba
    ver="$(pg_version)"
    hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if ! "${SUDO[@]}" grep -q 'hsdt: loopback trust' "$hba"; then
        say "PostgreSQL $ver was installed just now: trusting 127.0.0.1 and ::1 in $hba"
        "${SUDO[@]}" sed -i '1i # hsdt: loopback trust for local development (scripts/setup.sh)\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        if pg_answers; then
            "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
        fi
    fi
}

ensure_postgres() {
    if [ "${PG_INSTALLED_NOW:-0}" -eq 1 ]; then
        pg_configure_trust
    fi
    if ! pg_answers; then
        local ver
        ver="$(pg_version)"
        [ -n "$ver" ] || die "PostgreSQL is installed but /etc/postgresql holds no cluster"
        say "starting PostgreSQL $ver"
        "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main start
        echo postgresql >>"$STARTED_FILE"
        wait_for "PostgreSQL on 127.0.0.1:5432" pg_answers
    fi
    if ! pg_login_works; then
        die "PostgreSQL on 127.0.0.1:5432 answers but does not let the role 'postgres' in without a
        password. The platform's run and test commands connect as
        postgresql://postgres@127.0.0.1:5432/... and need trust authentication for loopback
        host connections. Add this line at the top of pg_hba.conf and reload PostgreSQL:
            host all all 127.0.0.1/32 trust"
    fi
    say "PostgreSQL ready (postgres@127.0.0.1:5432, trust)"
}

# --- Redis -------------------------------------------------------------------------------------
redis_answers() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

ensure_redis() {
    if ! redis_answers; then
        say "starting Redis"
        "${SUDO[@]}" mkdir -p /var/lib/redis /var/log/redis
        "${SUDO[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
        echo redis >>"$STARTED_FILE"
        wait_for "Redis on 127.0.0.1:6379" redis_answers
    fi
    say "Redis ready (127.0.0.1:6379)"
}

# --- RabbitMQ ----------------------------------------------------------------------------------
rabbit_answers() { timeout 30 "${SUDO[@]}" rabbitmqctl -q await_startup --timeout 10; }

ensure_rabbitmq() {
    if ! rabbit_answers >/dev/null 2>&1; then
        say "starting RabbitMQ (takes a few seconds)"
        "${SUDO[@]}" rabbitmq-server -detached
        echo rabbitmq >>"$STARTED_FILE"
        wait_for "RabbitMQ on 127.0.0.1:5672" rabbit_answers
    fi
    say "RabbitMQ ready (guest@127.0.0.1:5672)"
}

# --- main --------------------------------------------------------------------------------------
ensure_uv
say "uv sync --frozen --all-packages"
uv sync --frozen --all-packages --quiet
PG_INSTALLED_NOW=0
ensure_packages
ensure_postgres
ensure_redis
ensure_rabbitmq
command -v nginx >/dev/null 2>&1 || die "nginx is not on PATH after installing it"
if [ -s "$STARTED_FILE" ]; then
    say "started here: $(tr '\n' ' ' <"$STARTED_FILE")(listed in $STARTED_FILE)"
fi
say "done"
