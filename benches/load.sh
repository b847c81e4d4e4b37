#!/usr/bin/env bash
# Load benchmark: wrk against a release build on a fresh SQLite data directory.
# Usage: benches/load.sh [duration] [connections]   (needs `wrk`: apt-get install wrk)
# With BENCH_PG=postgres://user@host/postgres the server runs on a fresh PostgreSQL database
# (created and dropped here), and with BENCH_REDIS=redis://host:6379 on Redis counters too.
# Send and verification limits are switched off (0) so one load generator on one address is not
# refused by the anti-abuse limits it would otherwise trip at once.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15s}
CONNS=${2:-32}
PORT=${PORT:-13077}
BASE="http://127.0.0.1:$PORT"

SMSAUTH_BIN=${SMSAUTH_BIN:-./target/release/smsauth}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --locked -q
DATA=$(mktemp -d)
BENCH_DB=""
if [ -n "${BENCH_PG:-}" ]; then
  BENCH_DB="smsauth_bench_$(date +%s)"
  psql "$BENCH_PG" -qc "CREATE DATABASE $BENCH_DB"
  export DATABASE_URL="${BENCH_PG%/*}/$BENCH_DB"
fi
[ -z "${BENCH_REDIS:-}" ] || export REDIS_URL="$BENCH_REDIS" SMSAUTH_REDIS_PREFIX="bench-$(date +%s)"
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  sleep 0.5
  rm -rf "$DATA"
  [ -z "$BENCH_DB" ] || psql "$BENCH_PG" -qc "DROP DATABASE IF EXISTS $BENCH_DB"
}
trap cleanup EXIT
SMSAUTH_LISTEN=127.0.0.1:$PORT SMSAUTH_DATA_DIR=$DATA INIT_ROOT_PASSWORD=bench-root-password \
SMSAUTH_LIMITS__SEND_PER_PHONE_HOUR=0 SMSAUTH_LIMITS__SEND_PER_PHONE_DAY=0 \
SMSAUTH_LIMITS__SEND_PER_IP_HOUR=0 SMSAUTH_LIMITS__VERIFY_PER_IP_5MIN=0 RUST_LOG=error \
  "$SMSAUTH_BIN" serve --dev > "$DATA/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -sf "$BASE/healthz" > /dev/null && break; sleep 0.1; done

TOKEN=$(curl -s "$BASE/api/auth:signIn" -d '{"account":"root","password":"bench-root-password"}' \
  | python3 -c 'import sys,json;print(json.load(sys.stdin)["data"]["token"])')

echo "== GET /api/authenticators:publicList (public read)"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$BASE/api/authenticators:publicList"

echo "== GET /api/auth:check (token verification: signature, user, blacklist, policy)"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/auth:check"

echo "== POST /api/smsOTP:publicCreate (issue a code: one write transaction + console provider)"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s benches/send_code.lua "$BASE/api/smsOTP:publicCreate"

echo "== POST /api/auth:signIn with a wrong code (the attacker's path: throttle + code lookup)"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s benches/wrong_code.lua "$BASE/api/auth:signIn"
