#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer at the addresses of DATABASE_URL and REDIS_URL.
# When they do not and this machine has them installed (Debian packages), starts them with the
# machine's own commands; otherwise says what is missing and fails.
set -euo pipefail

pg_url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/ctp}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
# Host and port of each URL, for the probes (defaults as in the platform contract).
pg_host=$(node -e 'const u=new URL(process.argv[1]);console.log(u.hostname||"127.0.0.1")' "$pg_url")
pg_port=$(node -e 'const u=new URL(process.argv[1]);console.log(u.port||5432)' "$pg_url")
redis_host=$(node -e 'const u=new URL(process.argv[1]);console.log(u.hostname||"127.0.0.1")' "$redis_url")
redis_port=$(node -e 'const u=new URL(process.argv[1]);console.log(u.port||6379)' "$redis_url")

pg_up() { pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null; }
redis_up() { [ "$(redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null)" = "PONG" ]; }

wait_for() { # name probe
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "services: $1 did not come up" >&2
  return 1
}

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    wait_for PostgreSQL pg_up
  else
    echo "services: PostgreSQL does not answer at $pg_host:$pg_port (set DATABASE_URL, or start it)" >&2
    exit 1
  fi
fi

if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "services: starting Redis" >&2
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis redis_up
  else
    echo "services: Redis does not answer at $redis_host:$redis_port (set REDIS_URL, or start it)" >&2
    exit 1
  fi
fi

# BullMQ needs Redis to never evict its keys; warn where the server is set otherwise.
policy=$(redis-cli -h "$redis_host" -p "$redis_port" config get maxmemory-policy 2>/dev/null | tail -n 1 || true)
if [ -n "$policy" ] && [ "$policy" != "noeviction" ]; then
  echo "services: warning: Redis maxmemory-policy is $policy; BullMQ needs noeviction" >&2
fi
echo "services: PostgreSQL $pg_host:$pg_port and Redis $redis_host:$redis_port answer" >&2
