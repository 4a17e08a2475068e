#!/usr/bin/env bash
# Load test against a local release server on a fresh database.
#
#   bench/load.sh [SECONDS] [CLIENTS]          (default: 20 s, 64 clients)
#   BACKEND=postgres bench/load.sh             (a fresh database on 127.0.0.1:5432)
#   WRITE_SHARE=1 bench/load.sh 20 8           (single-figure writes only, from 8 clients)
#   EGOV_KPI_BINARY=/tmp/egov-kpi-before …      (another build under the same load)
#
# Starts the server with rate limits raised for the test and a signing key, creates a reporter
# key, runs bench/load.py and passes on its verdict: zero errors, and every acknowledged write
# stored once; then `audit verify` walks the chain the writes made and must find it intact.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
clients=${2:-64}

# EGOV_KPI_BINARY=path measures another build (an earlier commit's, say) with the same load.
binary=${EGOV_KPI_BINARY:-target/release/egov-kpi}
[ -n "${EGOV_KPI_BINARY:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
port=18778
case "${BACKEND:-sqlite}" in
  sqlite) export DATABASE_URL="sqlite://$work/load.db?mode=rwc" ;;
  postgres)
    name="egov_kpi_load_$$"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $name"
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$name" ;;
  *) echo "BACKEND is sqlite or postgres" >&2; exit 2 ;;
esac
cleanup() {
  kill "${server:-}" 2>/dev/null || true
  wait "${server:-}" 2>/dev/null || true
  [ "${BACKEND:-sqlite}" = postgres ] && psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)"
  rm -rf "$work"
}
trap cleanup EXIT

"$binary" audit keygen --out "$work/signing.key" >/dev/null 2>&1
export RUST_LOG=warn DATABASE_MAX_CONNECTIONS=16 EGOV_KPI_AUDIT_SIGNING_KEY="$work/signing.key"
"$binary" seed
key=$("$binary" keys create --name load-test --role reporter 2>/dev/null)
EGOV_KPI_PORT=$port EGOV_KPI_SEED=false EGOV_KPI_RATE_PER_KEY=100000000 "$binary" serve &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "backend: ${BACKEND:-sqlite}"
python3 bench/load.py "http://127.0.0.1:$port" "$key" --seconds "$seconds" --clients "$clients" \
  --write-share "${WRITE_SHARE:-0.2}"
"$binary" audit checkpoint >/dev/null
"$binary" audit verify | tail -n 3
