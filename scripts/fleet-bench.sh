#!/usr/bin/env bash
# Fleet server benchmarks (figures in docs/benchmarks.md, "Fleet server"). Builds the release
# binary and the load generator (crates/server/examples/loadgen.rs), starts `uctriage serve` on
# 127.0.0.1 and drives its ingest with Teams Rooms heartbeats as Get-WinEvent JSON batches.
#
# Usage: scripts/fleet-bench.sh [PART...]        (default: ingest latency)
#   ingest   heartbeats/s at the highest rate: batches of 500 heartbeats of one room each, 500 rooms,
#            4 clients
#   latency  1,000 requests/s of 10-heartbeat batches from 20 clients for 30 s (on the server of
#            `ingest` when both run, so the database already holds its records): p50/p99
#   month    a month of heartbeats of 500 rooms (4.3 M) on a fresh server, memory every 5 s
#   two      two server instances on one PostgreSQL database, the same batches sent through
#            both at once: every record stored once, no room made twice
#   history  500 rooms with 90 days of history (bad episodes on about three days a week, sent
#            through the ingest API with the server's clock set to the end of the 90 days), then
#            GET /api/v1/history?days=90 for the whole fleet HISTORY_REQUESTS (30) times, one at
#            a time: median, p95 and max; and the answer checked against what the plan should
#            give (unhealthy room-days, availability per signal)
# Peak memory (VmHWM) of the server is printed after each part.
#
# Environment: DB=postgres (default sqlite) runs on a database made for the run and dropped
# after; MONTH=1, TWO=1 and HISTORY=1 add those parts; NO_BUILD=1, KEEP=1, PG_URL as in
# fleet-lib.sh. INGEST_REQUESTS (500), LATENCY_SECS (30), HISTORY_ROOMS (500), HISTORY_DAYS (90)
# and HISTORY_REQUESTS (30) change the sizes; LATENCY_RATE (1000) the latency part's requests/s.
source "$(dirname "$0")/fleet-lib.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(ingest latency)
[ "${MONTH:-0}" = 1 ] && parts+=(month)
[ "${TWO:-0}" = 1 ] && parts+=(two)
[ "${HISTORY:-0}" = 1 ] && parts+=(history)
build
log "$(nproc) cores; database $DB; parts: ${parts[*]}"

RESULTS=$WORK/results.txt
: >"$RESULTS"
result() { echo "$*" | tee -a "$RESULTS"; }

# summary NAME JSON: one line from a loadgen answer.
summary() {
  local name=$1 j=$2
  result "$(printf '%-10s %9s req %9s records %7s s  %9s records/s  %7s req/s  p50 %7s ms  p90 %7s ms  p99 %7s ms  max %7s ms  errors %s' \
    "$name" "$(json_num requests <<<"$j")" "$(json_num records <<<"$j")" "$(json_num wall_s <<<"$j")" \
    "$(json_num records_per_s <<<"$j")" "$(json_num requests_per_s <<<"$j")" "$(json_num p50 <<<"$j")" \
    "$(json_num p90 <<<"$j")" "$(json_num p99 <<<"$j")" "$(json_num max <<<"$j")" "$(json_num errors <<<"$j")")"
}

# io_line NAME IO0 JSON: what the server wrote per stored record during the part: bytes through
# write calls (the WAL, checkpoint copies, answers) and bytes sent to the disk. Fewer bytes per
# record is what the latency part's tail follows on SQLite.
io_line() {
  local io records
  io=$(io_process "$MAIN_PID")
  records=$(json_num records <<<"$3")
  result "$(awk -v n="$1" -v a="$2" -v b="$io" -v r="$records" 'BEGIN { split(a, x, " "); split(b, y, " ");
    if (r > 0) printf "%-10s server wrote %.1f KB per record through write calls, %.1f KB per record to the disk", n, (y[1]-x[1])/r/1024, (y[2]-x[2])/r/1024 }')"
}

# cpu_line NAME MACHINE0 SERVER0 JSON: cores busy during the part, the server's and the rest
# (the load generator, and anything else running).
cpu_line() {
  local wall
  wall=$(json_num wall_s <<<"$4")
  result "$(awk -v n="$1" -v m="$(cpu_machine)" -v m0="$2" -v s="$(cpu_process "$MAIN_PID")" -v s0="$3" -v w="$wall" \
    'BEGIN { printf "%-10s cores busy: %.2f of 2 (server %.2f, load generator and the rest %.2f)", n, (m-m0)/w, (s-s0)/w, (m-m0-s+s0)/w }')"
}

MAIN_PID=""
# Every room's heartbeats on the main server go on where the part before left them, five minutes
# apart, as a live fleet's do: a jump of more than 20 minutes would be a silence, an offline
# period the server records for every room at once (`SILENT_FLEET=1` makes the latency part
# start a day later, to measure that).
MAIN_NEXT_S=$(date -u -d 2025-06-01T00:00:00Z +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# advance JSON BATCH: move on by the heartbeats every one of the 500 rooms received.
advance() { MAIN_NEXT_S=$((MAIN_NEXT_S + $(json_num requests <<<"$1") / 500 * $2 * 300)); }
main_server() {
  [ -n "$MAIN_PID" ] && return 0
  new_db
  start_server main "$WORK/main" "$DB_URL"
  MAIN_PID=$SERVER_PID MAIN_URL=$SERVER_URL
  MAIN_ADMIN=$(cat "$WORK/main/admin.tok")
  MAIN_DEVICE=$(device_token "$MAIN_URL" "$MAIN_ADMIN")
  sample_rss "$MAIN_PID" "$WORK/main.rss" 1
  # Rooms are made once in their life; the parts measure rooms the server knows.
  log "warm-up: one heartbeat from each of 500 rooms"
  "$LOADGEN" --url "$MAIN_URL" --token "$MAIN_DEVICE" --clients 4 --batch 1 --rooms 500 --max-requests 500 \
    --start "$(iso $((MAIN_NEXT_S - 300)))" >/dev/null || die "warm-up failed"
}

part_ingest() {
  main_server
  log "ingest: ${INGEST_REQUESTS:-500} batches of 500 heartbeats, 500 rooms, 4 clients, no rate limit"
  wait_quiet
  local j m0 s0 io0
  m0=$(cpu_machine) s0=$(cpu_process "$MAIN_PID") io0=$(io_process "$MAIN_PID")
  j=$("$LOADGEN" --url "$MAIN_URL" --token "$MAIN_DEVICE" --clients 4 --batch 500 --rooms 500 \
    --max-requests "${INGEST_REQUESTS:-500}" --duration 110 --start "$(iso "$MAIN_NEXT_S")") || die "ingest: $j"
  advance "$j" 500
  echo "$j" >"$WORK/ingest.json"
  summary ingest "$j"
  cpu_line ingest "$m0" "$s0" "$j"
  io_line ingest "$io0" "$j"
  result "ingest     server peak RSS $(rss_mb "$MAIN_PID" | cut -d' ' -f1) MB"
}

part_latency() {
  main_server
  local secs=${LATENCY_SECS:-30} rate=${LATENCY_RATE:-1000}
  log "latency: $rate requests/s of 10 heartbeats, 20 clients, 500 rooms, $secs s"
  wait_quiet
  local j m0 s0 io0
  m0=$(cpu_machine) s0=$(cpu_process "$MAIN_PID") io0=$(io_process "$MAIN_PID")
  j=$(nice -n 10 "$LOADGEN" --url "$MAIN_URL" --token "$MAIN_DEVICE" --clients 20 --rate "$rate" --batch 10 --rooms 500 \
    --timeline "$WORK/latency.timeline" \
    --max-requests $((secs * rate)) --duration "$secs" --start "$(iso $((MAIN_NEXT_S + ${SILENT_FLEET:-0} * 86400)))") \
    || die "latency: $j"
  advance "$j" 10
  echo "$j" >"$WORK/latency.json"
  summary latency "$j"
  cpu_line latency "$m0" "$s0" "$j"
  io_line latency "$io0" "$j"
  result "latency    seconds whose slowest answer took over 50 ms: $(awk '!/^#/ && $5 > 50' "$WORK/latency.timeline" | wc -l) of $(grep -vc '^#' "$WORK/latency.timeline")"
  result "latency    server peak RSS $(rss_mb "$MAIN_PID" | cut -d' ' -f1) MB"
}

part_month() {
  new_db
  start_server month "$WORK/month" "$DB_URL"
  local pid=$SERVER_PID url=$SERVER_URL admin device j
  admin=$(cat "$WORK/month/admin.tok")
  device=$(device_token "$url" "$admin")
  sample_rss "$pid" "$WORK/month.rss" 5
  log "month: 500 rooms x 30 days of heartbeats (8,640 batches of 500), memory every 5 s"
  j=$("$LOADGEN" --url "$url" --token "$device" --clients 4 --batch 500 --rooms 500 --max-requests 8640 \
    --duration 900 --start 2025-04-01T00:00:00Z) || die "month: $j"
  echo "$j" >"$WORK/month.json"
  summary month "$j"
  sleep 5
  result "month      memory over time (elapsed s, peak MB, resident MB), every 30 s:"
  awk 'NR % 6 == 1 { printf "             %5d s  %7.1f  %7.1f\n", $1, $2, $3 }' "$WORK/month.rss" | tee -a "$RESULTS"
  result "month      end: $(tail -1 "$WORK/month.rss" | awk '{printf "peak %.1f MB, resident %.1f MB", $2, $3}')"
  if [ "$DB" = sqlite ]; then
    result "month      database: $(du -sh "$WORK/month/fleet.db" | cut -f1) ($(du -sh "$WORK/month" | cut -f1) with the WAL)"
  fi
  stop_server "$pid"
}

part_two() {
  local saved=$DB
  DB=postgres
  new_db
  DB=$saved
  local url=$DB_URL
  start_server a "$WORK/a" "$url"
  local pid_a=$SERVER_PID url_a=$SERVER_URL
  # Instances of one fleet share the key that seals stored secrets.
  mkdir -p "$WORK/b"
  cp "$WORK/a/secret.key" "$WORK/b/secret.key"
  start_server b "$WORK/b" "$url"
  local pid_b=$SERVER_PID url_b=$SERVER_URL
  local admin device
  admin=$(cat "$WORK/a/admin.tok")
  [ ! -s "$WORK/b/admin.tok" ] || die "the second instance made an admin token of its own"
  device=$(device_token "$url_a" "$admin")
  local plan=(--batch 100 --rooms 200 --max-requests 2000 --duration 110 --start 2025-02-01T00:00:00Z)
  # The same batches in the same order through both at once: both make each room at the same
  # moment, and each batch meets itself on the other instance.
  log "two: 2,000 batches of 100 heartbeats (200 rooms) sent through both instances at once"
  "$LOADGEN" --url "$url_a" --token "$device" --clients 4 "${plan[@]}" >"$WORK/two-a.json" &
  local la=$!
  "$LOADGEN" --url "$url_b" --token "$device" --clients 4 "${plan[@]}" >"$WORK/two-b.json" &
  local lb=$!
  wait "$la" || die "two: client of instance a: $(cat "$WORK/two-a.json")"
  wait "$lb" || die "two: client of instance b: $(cat "$WORK/two-b.json")"
  summary two-a "$(cat "$WORK/two-a.json")"
  summary two-b "$(cat "$WORK/two-b.json")"
  local acc dup
  acc=$(($(json_num accepted <"$WORK/two-a.json") + $(json_num accepted <"$WORK/two-b.json")))
  dup=$(($(json_num duplicates <"$WORK/two-a.json") + $(json_num duplicates <"$WORK/two-b.json")))
  result "two        accepted a+b $acc, duplicates a+b $dup (plan: 200000 records, each sent twice)"
  [ "$acc" = 200000 ] && [ "$dup" = 200000 ] || die "two: records stored $acc times, expected 200000"
  local v
  for side in a b; do
    local u=$url_a
    [ $side = b ] && u=$url_b
    v=$("$LOADGEN" --url "$u" --no-send --verify "$admin" "${plan[@]}") || die "two: verify through $side: $v"
    result "two        verify through $side: $(grep -o '"verify":.*' <<<"$v")"
  done
  stop_server "$pid_a"
  stop_server "$pid_b"
}

# db_scalar DATA_DIR DB_URL SQL: one value read from a server's database itself (SQLite in
# DATA_DIR when DB_URL is empty).
db_scalar() {
  if [ -n "$2" ]; then
    psql -qtA "$2" -c "$3"
  else
    python3 -c "import sqlite3,sys; print(sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True).execute(sys.argv[2]).fetchone()[0])" "$1/fleet.db" "$3"
  fi
}

part_history() {
  command -v python3 >/dev/null || die "the history part needs python3 (to read the answers)"
  local rooms=${HISTORY_ROOMS:-500} days=${HISTORY_DAYS:-90} n=${HISTORY_REQUESTS:-30}
  local start=2025-04-01T00:00:00Z plan=(--rooms "$rooms" --max-requests "$rooms" --history "$days")
  # The server's clock starts 30 minutes before the end of the last day (the plan says when):
  # the rooms' last heartbeats are 5 minutes older, so they stay online for 15 minutes.
  local now
  now=$("$LOADGEN" --url http://127.0.0.1:1 --no-send "${plan[@]}" --start "$start" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["history"]["server_now"])')
  new_db
  local url=$DB_URL data=$WORK/history
  UCTRIAGE_NOW=$now start_server history "$data" "$url"
  local pid=$SERVER_PID base=$SERVER_URL admin device j
  admin=$(cat "$data/admin.tok")
  device=$(device_token "$base" "$admin")
  sample_rss "$pid" "$WORK/history.rss" 1
  log "history: $rooms rooms x $days days of bad episodes through the ingest API (server clock $now)"
  local t0=$SECONDS
  j=$("$LOADGEN" --url "$base" --token "$device" --clients 2 "${plan[@]}" --start "$start" --duration 900) \
    || die "history: $j"
  echo "$j" >"$WORK/history-load.json"
  summary history "$j"
  # Incidents come from each room's diagnosis, which runs in the background: wait until no
  # room waits for one and the incidents' timelines stop growing. (Not by polling the history:
  # its last day moves with the clock.)
  local a b="" waited=0
  while :; do
    if [ "$(db_scalar "$data" "$url" "SELECT COUNT(*) FROM rooms WHERE dirty <> 0")" = 0 ]; then
      a=$(db_scalar "$data" "$url" "SELECT COUNT(*) FROM incident_log")
      [ "$a" = "$b" ] && [ "$a" != 0 ] && break
      b=$a
    fi
    sleep 3
    waited=$((waited + 3))
    # Past 15 minutes the rooms' last heartbeats are 20 minutes old: offline incidents would open.
    [ "$waited" -lt 840 ] || die "history: rooms still waiting for their diagnosis after 14 minutes"
  done
  result "history    sent and judged in $((SECONDS - t0)) s; room incidents stored: $(db_scalar "$data" "$url" \
    "SELECT COUNT(*) || ', reopened ' || COALESCE(SUM(reopened), 0) || ' times' FROM incidents WHERE scope = 'room'"); fleet incidents: $(db_scalar "$data" "$url" "SELECT COUNT(*) FROM incidents WHERE scope = 'fleet'")"
  if [ -n "$url" ]; then
    # A database that grew over 90 days has been vacuumed and analyzed by autovacuum many times;
    # right after this bulk load its statistics still say the tables are empty, and PostgreSQL
    # reads the heap where an index alone would do (the history then took 100 ms, not 80).
    psql -q "$url" -c "VACUUM ANALYZE incidents" && psql -q "$url" -c "VACUUM ANALYZE incident_log" \
      || die "history: VACUUM ANALYZE failed"
  fi
  wait_quiet
  local times=$WORK/history.times m0 s0 t1
  : >"$times"
  curl -sf -o /dev/null -H "Authorization: Bearer $admin" "$base/api/v1/history?days=$days" || die "history: warm-up request failed"
  m0=$(cpu_machine) s0=$(cpu_process "$pid") t1=$(date +%s.%N)
  for _ in $(seq 1 "$n"); do
    curl -sf -o "$WORK/history.json" -w '%{time_total}\n' -H "Authorization: Bearer $admin" \
      "$base/api/v1/history?days=$days" >>"$times" || die "history: a request failed"
  done
  # The server's CPU per request, and how busy the rest of the machine was meanwhile (the
  # server's own background work, a sweep of every room each minute, counts as the server's).
  result "$(awk -v m="$(cpu_machine)" -v m0="$m0" -v s="$(cpu_process "$pid")" -v s0="$s0" -v t1="$t1" -v t2="$(date +%s.%N)" -v n="$n" \
    'BEGIN { printf "history    server CPU %.0f ms per request; cores busy with other work meanwhile: %.2f of 2", (s - s0) * 1000 / n, (m - m0 - s + s0) / (t2 - t1) }')"
  result "$(sort -n "$times" | awk -v n="$n" -v db="$DB" -v days="$days" -v bytes="$(wc -c <"$WORK/history.json")" \
    '{ t[NR] = $1 * 1000 } END { p = int(0.95 * n); if (p < 0.95 * n) p++;
       printf "history    GET /api/v1/history?days=%d, %d requests one at a time (%s): median %.1f ms  p95 %.1f ms  max %.1f ms  (%.1f MB of JSON)",
         days, n, db, (n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2), t[p], t[n], bytes / 1e6 }')"
  local checked=0
  python3 - "$WORK/history.json" "$WORK/history-load.json" >"$WORK/history.check" <<'PY' || checked=$?
import json, sys
got = json.load(open(sys.argv[1]))
plan = json.loads(open(sys.argv[2]).read())["history"]
rooms, fleet = got["rooms"], got["fleet"]
unhealthy = sum(r["unhealthy_days"] for r in rooms)
days = [d for r in rooms for d in r["days"]]
def mean(s):
    return sum(d["availability"][s] for d in days) / len(days)
zones = sorted({r["zone"] for r in rooms})
print(f"history    answer: {len(rooms)} rooms x {len(days) // max(len(rooms), 1)} local days ({len(zones)} time zones: "
      f"{', '.join(zones)}); unhealthy room-days {unhealthy} (the plan: {plan['expected_unhealthy_room_days']}); "
      "mean availability " + ", ".join(f"{s} {mean(s):.3f} % (plan {v:.3f} %)"
                                         for s, v in sorted(plan["expected_availability"].items())))
print(f"history    plan: {plan['records']} records, episodes {plan['episodes']}, "
      f"{plan['incident_episodes']} signal episodes long enough for an incident")
off = [s for s, v in plan["expected_availability"].items() if abs(mean(s) - v) > 0.01]
if unhealthy != plan["expected_unhealthy_room_days"] or off:
    print("history    the answer differs from what the plan gives")
    sys.exit(1)
PY
  tee -a "$RESULTS" <"$WORK/history.check"
  [ "$checked" = 0 ] || die "history: the answer differs from the plan's history"
  result "history    server peak RSS $(rss_mb "$pid" | cut -d' ' -f1) MB"
  stop_server "$pid"
}

for p in "${parts[@]}"; do
  case "$p" in
    ingest | latency | month | two | history) "part_$p" ;;
    *) die "unknown part $p (ingest, latency, month, two, history)" ;;
  esac
done
log "done; raw answers in $WORK when KEEP=1"
echo "== summary ($DB; the part two always on PostgreSQL; $(nproc) cores)"
cat "$RESULTS"
