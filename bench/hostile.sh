#!/usr/bin/env bash
# Honest dashboards alone, then beside attackers sending the worst request of each class of the
# hostile suite; results in bench/RESULTS-hostile.md. Fails when the target is not met.
#
#   bench/hostile.sh                      SQLite, 8 honest clients and 8 attackers, 20 s each
#   BACKEND=postgres bench/hostile.sh     a fresh database on 127.0.0.1:5432
#   SECONDS_PER_RUN=10 HONEST=8 ATTACKERS=16 bench/hostile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_RUN:-20}
port=18795

cargo build --release --quiet -p egov-kpi -p egov-kpi-bench
binary=target/release/egov-kpi
work=$(mktemp -d)
case "${BACKEND:-sqlite}" in
  sqlite) export DATABASE_URL="sqlite://$work/hostile.db?mode=rwc" ;;
  postgres)
    name="egov_kpi_hostile_$$"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $name"
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$name" ;;
  *) echo "BACKEND is sqlite or postgres" >&2; exit 2 ;;
esac
cleanup() {
  kill "${server:-}" 2>/dev/null || true
  wait "${server:-}" 2>/dev/null || true
  if [ "${BACKEND:-sqlite}" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export RUST_LOG=error
"$binary" seed
key=$("$binary" keys create --name hostile-bench-viewer --role viewer 2>/dev/null)
# Every request executed; honest dashboards hold keys with a generous rate, attackers are
# anonymous with the default rate per address.
EGOV_KPI_PORT=$port EGOV_KPI_SEED=false EGOV_KPI_RESPONSE_CACHE_MS=0 \
  EGOV_KPI_RATE_PER_KEY=100000000 "$binary" serve &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

target/release/egov-kpi-bench hostile --url "http://127.0.0.1:$port/graphql" --key "$key" \
  --server-pid "$server" --honest "${HONEST:-8}" --attackers "${ATTACKERS:-8}" \
  --seconds "$seconds" --out bench/RESULTS-hostile.md
