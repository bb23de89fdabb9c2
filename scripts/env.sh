# shellcheck shell=bash
# Sourced by scripts/run.sh and scripts/migrate.sh: the one place that turns the HSDT_* knobs
# into each service's environment (<SVC>_DATABASE_URL and so on). Not executable on its own.
#
# Knobs (all optional):
#   HSDT_GATEWAY_PORT  8080      nginx gateway on 127.0.0.1
#   HSDT_PORT_BASE     8100      identity 8101, records 8102, attendance 8103, signing 8104, archive 8105;
#                                the dev PKI's TSA, OCSP and CRLs on base + 90 (8190), archive's
#                                S3 server (a one-node Ceph RGW) on base + 91 (8191)
#   HSDT_DB_PREFIX     hsdt_     databases hsdt_identity, hsdt_records, ...
#   HSDT_VHOST         hsdt      RabbitMQ virtual host
#   HSDT_REDIS_PREFIX  hsdt:     Redis key prefix (shared by the services, which namespace inside it)
#   HSDT_RUN_DIR       .run      generated Procfile, nginx config, logs, pid files

HSDT_ROOT="${HSDT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
HSDT_SERVICES=(identity records attendance signing archive)

HSDT_GATEWAY_PORT="${HSDT_GATEWAY_PORT:-8080}"
HSDT_PORT_BASE="${HSDT_PORT_BASE:-8100}"
HSDT_DB_PREFIX="${HSDT_DB_PREFIX:-hsdt_}"
HSDT_VHOST="${HSDT_VHOST:-hsdt}"
HSDT_REDIS_PREFIX="${HSDT_REDIS_PREFIX:-hsdt:}"
HSDT_RUN_DIR="${HSDT_RUN_DIR:-$HSDT_ROOT/.run}"
export HSDT_GATEWAY_PORT HSDT_PORT_BASE HSDT_DB_PREFIX HSDT_VHOST HSDT_REDIS_PREFIX HSDT_RUN_DIR

_hsdt_check() {
    local name="$1" value="$2" pattern="$3"
    if ! [[ "$value" =~ $pattern ]]; then
        printf 'ERROR: %s=%q is not allowed (must match %s)\n' "$name" "$value" "$pattern" >&2
        return 1
    fi
}
_hsdt_check HSDT_GATEWAY_PORT "$HSDT_GATEWAY_PORT" '^[0-9]{2,5}$'
_hsdt_check HSDT_PORT_BASE "$HSDT_PORT_BASE" '^[0-9]{2,5}$'
# Names go into SQL identifiers and URLs unquoted: keep them plain.
_hsdt_check HSDT_DB_PREFIX "$HSDT_DB_PREFIX" '^[a-z_][a-z0-9_]{0,40}$'
_hsdt_check HSDT_VHOST "$HSDT_VHOST" '^[A-Za-z0-9_.-]{1,64}$'

# hsdt_port SERVICE -> its API port
hsdt_port() {
    local i
    for i in "${!HSDT_SERVICES[@]}"; do
        if [ "${HSDT_SERVICES[$i]}" = "$1" ]; then
            echo $((HSDT_PORT_BASE + i + 1))
            return 0
        fi
    done
    return 1
}

# hsdt_db SERVICE -> its database name
hsdt_db() { echo "${HSDT_DB_PREFIX}$1"; }

hsdt_export_service_env() {
    local svc p identity_port
    identity_port="$(hsdt_port identity)"
    for svc in "${HSDT_SERVICES[@]}"; do
        p="${svc^^}"
        export "${p}_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/$(hsdt_db "$svc")"
        # The vhost is checked above to need no URL encoding.
        export "${p}_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/${HSDT_VHOST}"
        export "${p}_REDIS_URL=redis://127.0.0.1:6379/0"
        export "${p}_REDIS_PREFIX=${HSDT_REDIS_PREFIX}"
        export "${p}_ROOT_PATH=/${svc}"
        # Straight to identity, not through the gateway, so the rate limit never applies.
        export "${p}_JWKS_URL=http://127.0.0.1:${identity_port}/api/v1/.well-known/jwks.json"
        # honcho sends SIGKILL 5 s after SIGTERM: in-flight messages get 4 s to finish, and
        # whatever is left returns to its queue when the connection drops.
        export "${p}_SHUTDOWN_GRACE_SECONDS=4"
        # The worker's Prometheus metrics: API port + 100 (identity 8201, records 8202, ...).
        export "${p}_METRICS_PORT=$(($(hsdt_port "$svc") + 100))"
    done
}

# The services' secrets for this machine: made once, kept in $HSDT_RUN_DIR (git-ignored), never
# in the repository. Identity's key passphrase encrypts the token-signing keys at rest and its
# data key the second-factor secrets; losing them means signing in again. Records' data key
# encrypts students' national ID numbers: losing it loses those numbers (back it up).
hsdt_random_key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'; }

hsdt_export_identity_secrets() {
    local file="$HSDT_RUN_DIR/identity-secrets.env"
    if [ ! -s "$file" ]; then
        mkdir -p "$HSDT_RUN_DIR"
        (
            umask 077
            printf 'IDENTITY_KEY_PASSPHRASE=%s\n' "$(hsdt_random_key)"
            printf 'IDENTITY_DATA_KEY=%s\n' "$(hsdt_random_key)"
        ) >"$file"
    fi
    if ! grep -q '^RECORDS_DATA_KEY=' "$file"; then
        (umask 077 && printf 'RECORDS_DATA_KEY=%s\n' "$(hsdt_random_key)" >>"$file")
    fi
    set -a
    # shellcheck disable=SC1090
    . "$file"
    set +a
}

# hsdt_pki_port -> the port of the dev PKI's TSA/OCSP/CRL server (certomancer's animator)
hsdt_pki_port() { echo $((HSDT_PORT_BASE + 90)); }

# Signing's throwaway keys and trust for this machine: a test PKI, a SoftHSM2 token with the demo
# signers' keys, the trust files and random PINs, all in $HSDT_RUN_DIR/signing (git-ignored).
# Production imports real certificates and points SIGNING_PKCS11_* at its HSM instead.
hsdt_export_signing_dev() {
    local dir="$HSDT_RUN_DIR/signing"
    uv run --no-sync hsdt-signing-dev setup --dir "$dir" --port "$(hsdt_pki_port)" >&2
    set -a
    # shellcheck disable=SC1091
    . "$dir/signing.env"
    set +a
}

# hsdt_s3_port -> the port of archive's S3 server (Ceph's RADOS gateway, object lock)
hsdt_s3_port() { echo $((HSDT_PORT_BASE + 91)); }

# Archive's object store for this machine: a one-node Ceph RGW with a persistent (bluestore on a
# file) object store in $HSDT_RUN_DIR/s3, made once; its S3 user's keys land in s3.env. It is
# started here to make the cluster and stopped again: the Procfile's `s3` process serves it.
hsdt_export_archive_store() {
    local dir="$HSDT_RUN_DIR/s3"
    uv run --no-sync hsdt-archive-rgw start --dir "$dir" --port "$(hsdt_s3_port)" --persistent >&2
    uv run --no-sync hsdt-archive-rgw stop --dir "$dir" >&2
    set -a
    # shellcheck disable=SC1091
    . "$dir/s3.env"
    set +a
}

# Archive's platform client at identity (role archivist at the province): it reads snapshots
# from records and opens signing requests acting for the leader who locked. Made once; the
# secret is kept in $HSDT_RUN_DIR/archive-client.env (mode 600) and rotated if that file is lost.
hsdt_export_archive_client() {
    local file="$HSDT_RUN_DIR/archive-client.env" out province="${1:-BL}"
    if [ ! -s "$file" ]; then
        out="$(uv run --no-sync python -m identity.cli platform-client --name archive \
            --province-code "$province" --scopes archivist)"
        if ! grep -q '^client_secret=' <<<"$out"; then
            out="$(uv run --no-sync python -m identity.cli platform-client --name archive \
                --province-code "$province" --scopes archivist --rotate)"
        fi
        (
            umask 077
            printf 'ARCHIVE_CLIENT_ID=%s\n' "$(sed -n 's/^client_id=//p' <<<"$out")"
            printf 'ARCHIVE_CLIENT_SECRET=%s\n' "$(sed -n 's/^client_secret=//p' <<<"$out")"
        ) >"$file"
    fi
    set -a
    # shellcheck disable=SC1090
    . "$file"
    set +a
}

# Writes the service environment as KEY=VALUE lines (for honcho's -e and for people debugging).
hsdt_write_env_file() {
    local out="$1" svc p var
    : >"$out"
    for svc in "${HSDT_SERVICES[@]}"; do
        p="${svc^^}"
        for var in DATABASE_URL AMQP_URL REDIS_URL REDIS_PREFIX ROOT_PATH JWKS_URL \
            SHUTDOWN_GRACE_SECONDS METRICS_PORT; do
            printf '%s_%s=%s\n' "$p" "$var" "$(printenv "${p}_${var}")" >>"$out"
        done
    done
    # honcho starts every process with this file: identity needs its secrets too, signing its
    # token and trust.
    cat "$HSDT_RUN_DIR/identity-secrets.env" >>"$out"
    if [ -f "$HSDT_RUN_DIR/signing/signing.env" ]; then
        cat "$HSDT_RUN_DIR/signing/signing.env" >>"$out"
    fi
    # Archive: its S3 server's keys, its platform client, and where the other services are.
    for file in "$HSDT_RUN_DIR/s3/s3.env" "$HSDT_RUN_DIR/archive-client.env"; do
        if [ -f "$file" ]; then
            cat "$file" >>"$out"
        fi
    done
    {
        printf 'ARCHIVE_RECORDS_URL=http://127.0.0.1:%s/api/v1\n' "$(hsdt_port records)"
        printf 'ARCHIVE_SIGNING_URL=http://127.0.0.1:%s/api/v1\n' "$(hsdt_port signing)"
        printf 'ARCHIVE_IDENTITY_TOKEN_URL=http://127.0.0.1:%s/api/v1/oauth/token\n' \
            "$(hsdt_port identity)"
        printf 'ARCHIVE_PUBLIC_VALIDATION_URL=http://127.0.0.1:%s/signing/api/v1/validation\n' \
            "$HSDT_GATEWAY_PORT"
    } >>"$out"
}

# psql as the role setup.sh checked, never prompting for a password.
hsdt_psql() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -w -X -v ON_ERROR_STOP=1 -q "$@"; }
