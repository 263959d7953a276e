#!/usr/bin/env bash
# Crash test of the fleet server's ingest: an acknowledged batch is stored, whatever happens
# to the server after it answered, and a batch sent again is counted once.
#
# A client (crates/server/examples/loadgen.rs) sends heartbeat batches and logs every batch the
# server acknowledged; the server is killed with SIGKILL while batches are in flight and
# started again on the same data, KILLS times. Then the client sends the whole plan again,
# acknowledged or not, and checks through the API that
#   - every batch acknowledged before a kill comes back as all duplicates (it was committed),
#   - every batch is stored whole or not at all (no batch comes back partly new),
#   - every room exists once and holds exactly the plan's records (`records` of
#     GET /api/v1/rooms/{id}): nothing lost, nothing counted twice.
# On SQLite the database's integrity check must pass too (when python3 is there).
#
# Usage: scripts/fleet-kill9.sh              DB=postgres for PostgreSQL (a database made for
# the run, dropped after). KILLS (2), REQUESTS (1200), BATCH (100), ROOMS (40) change the
# size; NO_BUILD=1 uses the binaries already built. Exit 0 when every check holds.
source "$(dirname "$0")/fleet-lib.sh"

KILLS=${KILLS:-2}
REQUESTS=${REQUESTS:-1200}
BATCH=${BATCH:-100}
ROOMS=${ROOMS:-40}
started=$(date +%s)
build

new_db
DATA=$WORK/data
start_server kill9 "$DATA" "$DB_URL"
ADMIN=$(cat "$DATA/admin.tok")
DEVICE=$(device_token "$SERVER_URL" "$ADMIN")
plan=(--batch "$BATCH" --rooms "$ROOMS" --max-requests "$REQUESTS" --duration 300 --start 2025-05-01T00:00:00Z)
ACKED=$WORK/acked.jsonl
: >"$ACKED"

for k in $(seq 1 "$KILLS"); do
  # Each round sends the plan from the start: earlier rounds' batches come back as duplicates,
  # and the kill lands among batches that are new.
  log "round $k: sending, SIGKILL to the server mid-ingest"
  : >"$WORK/acked-$k.jsonl"
  "$LOADGEN" --url "$SERVER_URL" --token "$DEVICE" --clients 4 --stop-on-error --ack-log "$WORK/acked-$k.jsonl" \
    "${plan[@]}" >"$WORK/round-$k.json" &
  client=$!
  BG_PIDS+=("$client")
  # Kill once this round has acknowledged a share of the plan beyond what earlier rounds did.
  want=$(((REQUESTS * k) / (KILLS + 1)))
  for _ in $(seq 1 600); do
    n=$(wc -l <"$WORK/acked-$k.jsonl" 2>/dev/null || echo 0)
    [ "$n" -ge "$want" ] && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$client" 2>/dev/null || die "round $k: the client ended before the kill: $(cat "$WORK/round-$k.json")"
  stop_server "$SERVER_PID" KILL
  wait "$client" || true
  n=$(wc -l <"$WORK/acked-$k.jsonl")
  cat "$WORK/acked-$k.jsonl" >>"$ACKED"
  log "round $k: killed after $n acknowledged batches; $(json_num errors <"$WORK/round-$k.json") requests failed"
  [ "$(json_num partial_batches <"$WORK/round-$k.json")" = 0 ] || die "round $k: a batch was stored in part"
  start_server "kill9-$k" "$DATA" "$DB_URL"
  if grep -q "admin token" "$WORK/kill9-$k.out"; then die "a restart made a new admin token"; fi
done

log "final: the whole plan again, acknowledged or not, then every room checked"
final=$("$LOADGEN" --url "$SERVER_URL" --token "$DEVICE" --clients 4 --check-acked "$ACKED" --verify "$ADMIN" "${plan[@]}") \
  || status=$?
echo "$final"
acked=$(grep -o '"i":[0-9]*' "$ACKED" | sort -u | wc -l)
[ "${status:-0}" = 0 ] || die "the final run found a problem (acked_missing, partial_batches, errors or verify above)"
if [ "$DB" = sqlite ] && command -v python3 >/dev/null; then
  stop_server "$SERVER_PID"
  check=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])" "$DATA/fleet.db")
  [ "$check" = ok ] || die "SQLite integrity check: $check"
  log "SQLite integrity check: ok"
fi
log "PASS ($DB): $KILLS kills, $acked batches acknowledged before a kill all stored once;" \
  "$(json_num records_found <<<"$final") records in $ROOMS rooms as planned; $(($(date +%s) - started)) s"
