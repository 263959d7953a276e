# Shared by scripts/fleet-bench.sh, fleet-kill9.sh and fleet-schemathesis.sh (sourced, not run).
#
# Starts `uctriage serve` on 127.0.0.1 with a port the system picks, on SQLite in a temporary
# folder or (DB=postgres) on a PostgreSQL database made for the run, and stops every server and
# drops every database it made when the script ends, however it ends.
#
# Environment: DB=sqlite|postgres, PG_URL (an existing database to connect to for CREATE/DROP
# DATABASE; UCTRIAGE_TEST_PG, then postgres://postgres@127.0.0.1:5432/test by default),
# NO_BUILD=1 to use the binaries already built, KEEP=1 to keep the work folder, NO_WAIT_QUIET=1
# to start each part at once (for figures that do not depend on the machine being idle, such as
# bytes written per record).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB=${DB:-sqlite}
PG_URL=${PG_URL:-${UCTRIAGE_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}}
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/uctriage
LOADGEN=${CARGO_TARGET_DIR:-$PWD/target}/release/examples/loadgen
WORK=$(mktemp -d "${TMPDIR:-/tmp}/uctriage-fleet.XXXXXX")
SERVER_PIDS=()
PG_DATABASES=()
# Helpers in the background (memory samplers, clients), stopped before the servers.
BG_PIDS=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

fleet_cleanup() {
  local status=$?
  for pid in "${BG_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for db in "${PG_DATABASES[@]}"; do
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || log "could not drop database $db"
  done
  if [ "${KEEP:-0}" = 1 ]; then
    log "work folder kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap fleet_cleanup EXIT
trap 'exit 130' INT TERM

build() {
  if [ "${NO_BUILD:-0}" != 1 ]; then
    log "building (release)"
    cargo build --release --locked -q -p uctriage -p uctriage-server --bin uctriage --example loadgen
  fi
  [ -x "$BIN" ] && [ -x "$LOADGEN" ] || die "missing $BIN or $LOADGEN"
}

# A new PostgreSQL database; sets DB_URL. (Not called in a $(…) subshell: the cleanup must
# learn of the database.)
pg_database() {
  command -v psql >/dev/null || die "DB=postgres needs psql"
  local name="uctriage_fleet_$$_${#PG_DATABASES[@]}"
  psql -q "$PG_URL" -c "CREATE DATABASE $name" >/dev/null || die "cannot create database $name on $PG_URL"
  PG_DATABASES+=("$name")
  DB_URL="${PG_URL%/*}/$name"
}

# The database for a new server by $DB; sets DB_URL, empty for SQLite (the file in the data
# folder).
new_db() {
  case "$DB" in
    sqlite) DB_URL="" ;;
    postgres) pg_database ;;
    *) die "DB must be sqlite or postgres, not $DB" ;;
  esac
}

# start_server NAME DATA_DIR [DB_URL] [extra serve flags...]
# Sets SERVER_URL and SERVER_PID; the admin token of a first start is in DATA_DIR/admin.tok.
start_server() {
  local name=$1 data=$2 url=${3:-}
  shift 3 || shift $#
  mkdir -p "$data"
  local args=(serve --listen 127.0.0.1:0 --data "$data" --admin-token-file "$data/admin.tok" --rate-limit 0)
  [ -n "$url" ] && args+=(--db "$url")
  UCTRIAGE_LOG=${UCTRIAGE_LOG:-warn} "$BIN" "${args[@]}" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  local i
  for i in $(seq 1 600); do
    SERVER_URL=$(grep -o 'listening on http://[0-9.:]*' "$WORK/$name.out" 2>/dev/null | cut -d' ' -f3 || true)
    [ -n "$SERVER_URL" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; die "server $name exited while starting"; }
    sleep 0.1
  done
  die "server $name did not start within a minute"
}

# Stop a server by its process id (SIGTERM, or SIGKILL with a second argument KILL).
stop_server() {
  local pid=$1 sig=${2:-TERM}
  kill -s "$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# A JSON string field of a one-object answer, without jq.
json_field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
# A JSON number field.
json_num() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }

# device_token URL ADMIN_TOKEN: prints a new device token.
device_token() {
  local t
  t=$(curl -sf -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -d '{"role":"device","name":"fleet script"}' "$1/api/v1/tokens" | json_field token)
  [ -n "$t" ] || die "could not create a device token on $1"
  echo "$t"
}

# Peak and current resident memory of a process, in MB: "HWM RSS".
rss_mb() {
  awk '/^VmHWM/ {h=$2} /^VmRSS/ {r=$2} END {printf "%.1f %.1f\n", h/1024, r/1024}' "/proc/$1/status"
}

# sample_rss PID FILE SECONDS: append "elapsed_s hwm_mb rss_mb" every SECONDS while PID lives.
sample_rss() {
  local pid=$1 file=$2 every=$3 t0
  t0=$(date +%s)
  (
    while kill -0 "$pid" 2>/dev/null; do
      echo "$(($(date +%s) - t0)) $(rss_mb "$pid" 2>/dev/null || echo '0 0')"
      sleep "$every"
    done
  ) >>"$file" &
  BG_PIDS+=($!)
}

# CPU seconds the whole machine spent busy, and one process.
cpu_machine() { awk '/^cpu / {printf "%.2f\n", ($2+$3+$4+$7+$8)/100}' /proc/stat; }
cpu_process() { awk '{printf "%.2f\n", ($14+$15)/100}' "/proc/$1/stat"; }
# Bytes a process handed to write calls and bytes it sent to the disk so far ("WCHAR WRITTEN").
io_process() { awk '/^wchar:/ {w = $2} /^write_bytes:/ {d = $2} END {print w, d}' "/proc/$1/io"; }

# Wait (at most 120 s) until the machine is nearly idle: other work on the two cores skews the
# figures. Says so when it never got quiet.
wait_quiet() {
  local a b
  [ "${NO_WAIT_QUIET:-0}" = 1 ] && return 0
  for _ in $(seq 1 60); do
    a=$(cpu_machine)
    sleep 2
    b=$(cpu_machine)
    if awk -v a="$a" -v b="$b" 'BEGIN { exit !((b - a) / 2 < 0.15) }'; then return 0; fi
  done
  log "warning: the machine stayed busy (other work on its cores); figures may be low"
}
