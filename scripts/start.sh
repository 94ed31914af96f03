#!/usr/bin/env bash
# The README's first command: installs everything and starts the whole system (api, worker,
# dashboard, SaaS simulator) on this machine's PostgreSQL and Redis, creating and migrating
# the database first.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
pnpm install --frozen-lockfile
bash scripts/services.sh
exec pnpm start
