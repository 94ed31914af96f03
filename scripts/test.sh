#!/usr/bin/env bash
# The README's second command: installs everything, makes sure PostgreSQL and Redis answer,
# then runs lint, typecheck, every Vitest test, and the chaos suite (real processes killed under
# load, then the invariant checker and the card-number scan; `CTP_SKIP_CHAOS=1` leaves it out).
# Prints "N passed, N failed" last — Vitest's JSON report, with lint, typecheck and the chaos
# suite counted as one test each — and exits non-zero if anything failed.
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

report=reports/vitest.json
rm -f "$report"
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=1

chaos=skipped
if [ "${CTP_SKIP_CHAOS:-0}" != 1 ]; then
  if pnpm test:chaos; then chaos=passed; else chaos=failed; status=1; fi
fi
node scripts/test-summary.ts "$report" "lint=$lint" "typecheck=$typecheck" "chaos=$chaos" || status=1
exit "$status"
