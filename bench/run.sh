#!/usr/bin/env bash
# The benchmark: egov-kpi against hand-written SQL, a minimal axum handler and a bare COPY, on
# PostgreSQL with generated history; results in bench/RESULTS.md.
#
#   bench/run.sh                 10M generated rows, 8 clients, 10 s per operation
#   ROWS=1000000 DATABASE=egov_kpi_bench_1m OUT=bench/RESULTS-1M.md bench/run.sh
#                                a smaller dataset beside the 10M one, with its own report
#   CLIENTS=16 SECONDS_PER_OPERATION=20 bench/run.sh
#   ONLY="index ranking" OUT=/tmp/try.md bench/run.sh
#                                only the dashboard queries whose name holds the text
#   EGOV_KPI_BINARY=/tmp/egov-kpi-before ONLY=latest OUT=/tmp/before.md bench/run.sh
#                                another build of the server, for a comparison in one session
#
# The data is generated once into the database `egov_kpi_bench` (or DATABASE; 127.0.0.1:5432, user postgres)
# and kept for later runs with the same ROWS; FRESH=1 generates it again.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-10000000}
clients=${CLIENTS:-8}
seconds=${SECONDS_PER_OPERATION:-10}
port=18790
database=${DATABASE:-egov_kpi_bench}
out=${OUT:-bench/RESULTS.md}
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database"
psql=(psql -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1)

cargo build --release --quiet -p egov-kpi -p egov-kpi-bench
binary=${EGOV_KPI_BINARY:-target/release/egov-kpi}

# The synthetic rows, and whether real provinces and ministries have their monthly figures.
generated=$("${psql[@]}" -d "$database" -Atc "SELECT count(*) || ' ' || bool_or(a.code NOT LIKE 'demo-unit-%')
  FROM observation o JOIN agency a ON a.id = o.agency_id WHERE o.synthetic" 2>/dev/null || echo none)
if [ "${FRESH:-0}" = 1 ] || [ "$generated" != "$rows true" ]; then
  echo "generating $rows rows into $database (was: $generated)"
  "${psql[@]}" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"
  RUST_LOG=warn "$binary" seed
  /usr/bin/time -f "generated in %e s, peak memory %M kB" "$binary" demo-data --rows "$rows" --seed 7 --real-units
fi
RUST_LOG=warn "$binary" migrate
"${psql[@]}" -d "$database" -c "VACUUM ANALYZE"

key=$(RUST_LOG=warn "$binary" keys create --name "bench-$(date +%s)" --role admin)
export RUST_LOG=warn EGOV_KPI_SEED=false EGOV_KPI_RATE_PER_KEY=100000000 \
  EGOV_KPI_RATE_PER_ADDRESS=100000000 DATABASE_MAX_CONNECTIONS=16
# As deployed, and a second server with the response cache off: every request executed.
EGOV_KPI_PORT=$port "$binary" serve &
server=$!
EGOV_KPI_PORT=$((port + 2)) EGOV_KPI_RESPONSE_CACHE_MS=0 "$binary" serve &
uncached=$!
trap 'kill $server $uncached 2>/dev/null; wait $server $uncached 2>/dev/null' EXIT
for p in $port $((port + 2)); do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done

target/release/egov-kpi-bench run --url "http://127.0.0.1:$port/graphql" --server-pid "$server" \
  --uncached-url "http://127.0.0.1:$((port + 2))/graphql" --uncached-pid "$uncached" \
  --key "$key" --clients "$clients" --seconds "$seconds" --out "$out"
