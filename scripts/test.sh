#!/usr/bin/env bash
# The README's second command: installs everything, makes sure PostgreSQL and Redis answer,
# then runs lint, typecheck, every Vitest test, a card-number scan of what the Vitest suite
# left behind, and the chaos suite (real processes killed under load, then the invariant checker
# and the card-number scan; `CTP_SKIP_CHAOS=1` leaves it out). Prints "N passed, N failed" last —
# Vitest's JSON report, with lint, typecheck, the suite's scan and the chaos suite counted as one
# test each — and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh || exit 1
pnpm install --frozen-lockfile || exit 1
bash scripts/services.sh || exit 1

status=0
lint=passed
pnpm lint || { echo "test: lint failed" >&2; lint=failed; status=1; }
typecheck=passed
pnpm typecheck || { echo "test: typecheck failed" >&2; typecheck=failed; status=1; }

# The test databases of this run are named ctp_test_<tag>_* and kept by their drop() (see
# packages/db/src/testing.ts) so the scan below reads what every test wrote; they are dropped
# when this script ends, however it ends. The tag keeps other runs' databases out of it. The
# log lines the tests' api, worker and dashboard wrote go to reports/logs for the same scan.
mkdir -p reports
report=reports/vitest.json
log="$PWD/reports/vitest.log"
logs="$PWD/reports/logs"
rm -rf "$report" "$log" "$logs"
mkdir -p "$logs"
tag="run$(date +%s)$$"
pg_url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/ctp}"
maintenance_url=$(node -e 'const u=new URL(process.argv[1]);u.pathname="/postgres";console.log(u.href)' "$pg_url")
drop_kept_databases() {
  psql "$maintenance_url" -Atc "select datname from pg_database where datname like 'ctp_test_${tag}_%'" |
    while read -r name; do psql "$maintenance_url" -qc "drop database if exists \"$name\" with (force)"; done
}
trap drop_kept_databases EXIT
CTP_TEST_KEEP_DATABASES="$tag" CTP_TEST_LOG_DIR="$logs" pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" 2>&1 |
  tee "$log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

# What the suite left: its databases, the keys in Redis, its output and logs. A test that puts a
# card number there on purpose must take it away again.
pan_scan=passed
pnpm ctp security scan-pans --databases "ctp_test_${tag}_%" --logs "$log" --logs "$logs" ||
  { echo "test: card numbers found after the test suite" >&2; pan_scan=failed; status=1; }
drop_kept_databases

chaos=skipped
if [ "${CTP_SKIP_CHAOS:-0}" != 1 ]; then
  if pnpm test:chaos; then chaos=passed; else chaos=failed; status=1; fi
fi
node scripts/test-summary.ts "$report" "lint=$lint" "typecheck=$typecheck" "pan-scan=$pan_scan" "chaos=$chaos" ||
  status=1
exit "$status"
