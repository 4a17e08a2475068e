#!/usr/bin/env bash
# The audit benchmark: `egov-kpi audit verify` over every revision of a large history on
# PostgreSQL (every link, every revision against its entry's seal, every checkpoint), and the
# write paths against a bare COPY now that every revision they store is sealed. Results in
# bench/RESULTS-audit.md.
#
#   bench/audit.sh                 10M generated revisions
#   ROWS=1000000 bench/audit.sh    a smaller history
#
# The history is generated once into the database `egov_kpi_bench_audit` (127.0.0.1:5432, user
# postgres) and kept for later runs with the same ROWS; FRESH=1 generates it again.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-10000000}
port=18796
database=egov_kpi_bench_audit
out=bench/RESULTS-audit.md
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database"
psql=(psql -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1)
count() { "${psql[@]}" -d "$database" -Atc "$1"; }

cargo build --release --quiet -p egov-kpi -p egov-kpi-bench
binary=target/release/egov-kpi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$binary" audit keygen --out "$work/signing.key" >/dev/null 2>&1
export EGOV_KPI_AUDIT_SIGNING_KEY="$work/signing.key" RUST_LOG=warn

generated=$(count "SELECT count(*) FROM observation WHERE synthetic" 2>/dev/null || echo none)
generation="kept from an earlier run"
if [ "${FRESH:-0}" = 1 ] || [ "$generated" != "$rows" ]; then
  echo "generating $rows rows into $database (was: $generated)"
  "${psql[@]}" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"
  "$binary" seed
  started=$(date +%s.%N)
  "$binary" demo-data --rows "$rows" --seed 7 >/dev/null
  generation="$(printf '%.0f' "$(echo "$(date +%s.%N) - $started" | bc)") s (\`egov-kpi demo-data\`, every batch sealed)"
fi
"$binary" migrate
"${psql[@]}" -d "$database" -c "VACUUM ANALYZE"
# Checkpoints of earlier runs were signed by their own keys: this run signs with its own.
"${psql[@]}" -d "$database" -c "DELETE FROM audit_checkpoint"
"$binary" audit checkpoint >/dev/null

revisions=$(count "SELECT count(*) FROM observation_revision")
entries=$(count "SELECT count(*) FROM audit_entry")
echo "verifying $revisions revisions and $entries entries"
started=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/memory" "$binary" audit verify >"$work/verify.txt"
seconds=$(echo "$(date +%s.%N) - $started" | bc)
rate=$(echo "$revisions / $seconds" | bc)
memory=$(( $(tail -1 "$work/memory") / 1024 ))
verdict=$(if [ "$(echo "$seconds < 120 * $revisions / 10000000" | bc)" = 1 ]; then echo met; else echo "NOT met"; fi)

cat >"$out" <<REPORT
# egov-kpi audit benchmark

Measured $(date +%Y-%m-%d) with \`bench/audit.sh\` (release build). Machine: $(nproc) cores,
PostgreSQL $(count "SHOW server_version"); the verifier and PostgreSQL share the cores.

History: $revisions revisions, $entries audit entries; generation: $generation.

## \`egov-kpi audit verify\`

Walks every entry (links, hashes), re-reads every revision with its observation and re-derives
the seal of the entry that recorded it, checks that each revision closes the one before it, and
checks the signed checkpoint against the public key.

| revisions | entries | seconds | revisions/s | peak memory |
|---|---|---|---|---|
| $revisions | $entries | $(printf '%.1f' "$seconds") | $rate | $memory MB |

Its report: \`$(cat "$work/verify.txt" | head -1)\`

Target: 10M revisions in under 2 minutes ($verdict at this size, scaled to 10M).
REPORT

echo "measuring the write paths against COPY"
EGOV_KPI_PORT=$port EGOV_KPI_SEED=false EGOV_KPI_RATE_PER_KEY=100000000 "$binary" serve &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
key=$("$binary" keys create --name "bench-$(date +%s)" --role reporter)
printf '\n' >>"$out"
target/release/egov-kpi-bench writes --url "http://127.0.0.1:$port/graphql" --key "$key" --out "$out" >/dev/null
cat "$out"
