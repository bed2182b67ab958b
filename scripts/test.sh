#!/bin/sh
# Run the whole test suite: starts PostgreSQL so the database tests run on it too.
set -eu
PREFIX="${SABAQ_PREFIX:-/opt/sabaq}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"

if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect 15 main start 2>/dev/null || true
    for i in $(seq 1 30); do
        su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
        sleep 1
    done
    su postgres -c "psql -qtAc \"select 1 from pg_roles where rolname='root'\"" | grep -q 1 || \
        su postgres -c "createuser --superuser root"
    export SABAQ_TEST_POSTGRES_URL="postgresql+psycopg:///postgres?host=/var/run/postgresql"
fi
export SABAQ_REQUIRE_POSTGRES="${SABAQ_REQUIRE_POSTGRES:-1}"
cd "$REPO"
# two test files at a time (pytest-xdist; each process takes its stacks' ports from a block of
# its own, sabaq.devtools.ports): 19-21 min here instead of 28; three were not reliably faster
# on 2 cores (18:00 to 21:45 in four runs) and load the machine more; SABAQ_TEST_PROCESSES=0 runs
# them one by one
exec "$PREFIX/venv/bin/pytest" -n "${SABAQ_TEST_PROCESSES:-2}" --dist loadfile --no-loadscope-reorder "$@"
