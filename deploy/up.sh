#!/usr/bin/env bash
# `make up`: the production shape on one machine: Redis (AOF on), PostgreSQL,
# gunicorn web nodes and a drain worker. Ctrl+C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
REDIS_PORT=${REDIS_PORT:-6380}
WORKERS=${WORKERS:-1}
mkdir -p instance/redis

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -z "${DATABASE_URL:-}" ]; then
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not running on 127.0.0.1:5432; set DATABASE_URL" >&2; exit 1; }
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='survey_engine'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE survey_engine"
  export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/survey_engine
fi
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
# The production shape refuses to start without SECRET_KEY (every process must share
# it): made once, kept in instance/secret-key so staff stay signed in across restarts.
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s instance/secret-key ] || (umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' >instance/secret-key)
  SECRET_KEY=$(cat instance/secret-key)
  export SECRET_KEY
fi

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --appendonly yes --appendfsync everysec \
  --save "" --dir "$PWD/instance/redis" --logfile "$PWD/instance/redis/redis.log" &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

$BIN/survey-engine demo --host "$HOST" --port "$PORT"
for _ in $(seq "$WORKERS"); do $BIN/survey-engine worker & pids+=($!); done
$BIN/gunicorn --workers 2 --threads 4 --bind "$HOST:$PORT" "survey_engine:create_app()" & pids+=($!)
wait -n
