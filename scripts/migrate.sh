#!/usr/bin/env bash
# Creates each service's database when missing, the RabbitMQ vhost, and runs every service's
# Alembic migrations to head. Expects the servers to be up (scripts/setup.sh); `make migrate`
# and scripts/run.sh call it. Same knobs as scripts/env.sh (HSDT_DB_PREFIX, HSDT_VHOST, ...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:$HOME/.local/bin:$HOME/.local/share/hsdt-uv/bin"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
hsdt_export_service_env
hsdt_export_identity_secrets

say() { printf '[migrate] %s\n' "$*"; }
die() { printf '[migrate] ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

for svc in "${HSDT_SERVICES[@]}"; do
    db="$(hsdt_db "$svc")"
    if [ "$(hsdt_psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != "1" ]; then
        say "creating database $db"
        hsdt_psql -c "CREATE DATABASE \"$db\""
    fi
done

say "RabbitMQ vhost $HSDT_VHOST (guest may configure, write, read)"
"${SUDO[@]}" rabbitmqctl -q add_vhost "$HSDT_VHOST" >/dev/null
"${SUDO[@]}" rabbitmqctl -q set_permissions -p "$HSDT_VHOST" guest '.*' '.*' '.*' >/dev/null

for svc in "${HSDT_SERVICES[@]}"; do
    ini="services/$svc/alembic.ini"
    if [ ! -f "$ini" ]; then
        die "$ini is missing: every service keeps its migrations there"
    fi
    say "$svc: alembic upgrade head ($(hsdt_db "$svc"))"
    uv run --no-sync alembic -c "$ini" upgrade head
done

# Queues before producers: an event published before its consumer first starts (the demo's,
# say) would otherwise find no queue and be dropped.
consumers=()
for svc in "${HSDT_SERVICES[@]}"; do
    [ -f "services/$svc/src/$svc/consumers.py" ] && consumers+=("$svc")
done
say "declaring the consumers' queues: ${consumers[*]}"
uv run --no-sync hsdt-declare-queues "${consumers[@]}"
