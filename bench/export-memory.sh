#!/usr/bin/env bash
# Peak memory of the server while it streams an export of many revisions.
#
#   bench/export-memory.sh [ROWS...]      (default: 10000 100000)
#
# For each size: a fresh SQLite database, seeded, with ROWS synthetic revisions added; the
# release server serves it; an auditor downloads /export/observations.csv; the server's peak
# resident memory (VmHWM) is read before and after. Flat memory means the peak barely moves
# from 10k to 100k rows.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)

cargo build --release --quiet
binary=target/release/egov-kpi
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18777

printf '| rows exported | CSV size | peak RSS before | peak RSS after export | seconds |\n'
printf '|---:|---:|---:|---:|---:|\n'
for rows in "${sizes[@]}"; do
  database="$work/bench-$rows.db"
  export DATABASE_URL="sqlite://$database?mode=rwc" RUST_LOG=warn
  "$binary" seed
  python3 - "$database" "$rows" <<'PY'
import sqlite3, sys
path, rows = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
metric = db.execute("select id from metric where code = 'public-service-portal.dossiers-filed-online'").fetchone()[0]
source = db.execute("select id from source where code = 'article-001'").fetchone()[0]
start = db.execute("select coalesce(max(id), 0) from observation").fetchone()[0]
db.executemany(
    "insert into observation (id, metric_id, agency_id, observed_at, period_start, synthetic) values (?, ?, null, ?, null, 1)",
    ((start + i + 1, metric, f"2022-01-01 00:00:{i % 60:02d}.{i:06d}+00:00") for i in range(rows)))
db.executemany(
    "insert into observation_revision (observation_id, revision, value, qualifier, denominator, source_id, quote, note, recorded_at, recorded_by, reason, superseded_at, retracted) "
    "values (?, 1, ?, 'exact', null, ?, 'synthetic benchmark row', null, '2026-01-01 00:00:00+00:00', 'bench', null, null, 0)",
    ((start + i + 1, 726000 + i, source) for i in range(rows)))
db.commit()
PY
  key=$("$binary" keys create --name bench --role auditor 2>/dev/null)
  EGOV_KPI_PORT=$port EGOV_KPI_SEED=false "$binary" serve &
  server=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  before=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  started=$(date +%s.%N)
  bytes=$(curl -sf -H "authorization: Bearer $key" "http://127.0.0.1:$port/export/observations.csv" | wc -c)
  finished=$(date +%s.%N)
  after=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  kill "$server"; wait "$server" 2>/dev/null || true
  awk -v rows="$((rows + 10))" -v bytes="$bytes" -v before="$before" -v after="$after" -v s="$started" -v f="$finished" \
    'BEGIN { printf "| %d | %.1f MB | %.1f MB | %.1f MB | %.1f |\n", rows, bytes / 1048576, before / 1024, after / 1024, f - s }'
done
