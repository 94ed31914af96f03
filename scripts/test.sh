#!/usr/bin/env bash
# The README's second command: installs everything, makes sure PostgreSQL and Redis answer,
# then runs lint, typecheck and every test. Prints "N passed, N failed" last (from Vitest's
# JSON report) and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh || exit 1
pnpm install --frozen-lockfile || exit 1
bash scripts/services.sh || exit 1

status=0
pnpm lint || { echo "test: lint failed" >&2; status=1; }
pnpm typecheck || { echo "test: typecheck failed" >&2; status=1; }

report=reports/vitest.json
rm -f "$report"
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=1
node scripts/test-summary.ts "$report" || status=1
exit "$status"
