#!/usr/bin/env bash
# `make test`: the same setup as the run command, then pytest with any arguments given
# (`make test ARGS="-m 'not slow'"`, or scripts/test.sh -k gateway).
#
# Each run isolates itself: HSDT_TEST_RUN_ID (a random short id, unless already set) names
# the run's databases, RabbitMQ vhost, Redis key prefix and buckets in the test fixtures.
# pytest's exit code 5 (no test collected) is a failure: CI must have run tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:$HOME/.local/bin:$HOME/.local/share/hsdt-uv/bin"

bash "$ROOT/scripts/setup.sh"

HSDT_TEST_RUN_ID="${HSDT_TEST_RUN_ID:-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')}"
export HSDT_TEST_RUN_ID
printf '[test] HSDT_TEST_RUN_ID=%s\n' "$HSDT_TEST_RUN_ID"

set +e
uv run --no-sync pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    printf '[test] ERROR: pytest collected no tests (exit 5); a test run must run tests\n' >&2
fi
exit "$rc"
