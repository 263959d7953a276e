#!/usr/bin/env bash
# Property-based API tests of the fleet server with schemathesis, from the OpenAPI document the
# server serves (/api/v1/openapi.json): every operation is called with generated valid and
# invalid requests as the admin, and every answer must
#   - not be a server error (5xx),
#   - have a status code, content type, headers and body the document describes.
# The server's log must hold no panic.
#
# DELETE /api/v1/tokens/{id} is left out: schemathesis follows GET /api/v1/tokens to it and
# revokes the admin token it runs with, after which every other operation answers 401.
#
# Usage: scripts/fleet-schemathesis.sh [extra `st run` arguments]
# Environment: DB=postgres, NO_BUILD=1, KEEP=1 as in fleet-lib.sh; MAX_EXAMPLES (20) per
# operation; SEED (1; `random` for a new one each run, printed); CHECKS to replace the list of
# checks (e.g. CHECKS=all); REPORT_DIR for a JUnit report. schemathesis is installed with pip into a virtual environment under
# ${XDG_CACHE_HOME:-~/.cache}/uctriage when neither `st` nor `schemathesis` is on the PATH.
source "$(dirname "$0")/fleet-lib.sh"

CHECKS=${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance}
started=$(date +%s)

st_command() {
  if command -v st >/dev/null && st --version 2>/dev/null | grep -q '^st, version 4'; then
    ST=(st)
  elif command -v schemathesis >/dev/null && schemathesis --version 2>/dev/null | grep -q 'version 4'; then
    ST=(schemathesis)
  else
    local venv=${XDG_CACHE_HOME:-$HOME/.cache}/uctriage/schemathesis-venv
    if [ ! -x "$venv/bin/st" ]; then
      log "installing schemathesis 4 into $venv"
      python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
      "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5' || die "pip install schemathesis failed"
    fi
    ST=("$venv/bin/st")
  fi
  log "$("${ST[@]}" --version)"
}

st_command
build
new_db
start_server st "$WORK/data" "$DB_URL"
ADMIN=$(cat "$WORK/data/admin.tok")

seed=()
[ "${SEED:-1}" = random ] || seed=(--seed "${SEED:-1}")
report=()
[ -z "${REPORT_DIR:-}" ] || report=(--report junit --report-dir "$(realpath -m "$REPORT_DIR")")
log "schemathesis on $SERVER_URL ($DB): checks $CHECKS, ${MAX_EXAMPLES:-20} examples per operation"
status=0
# From the work folder: schemathesis keeps its replay store in .schemathesis/ of the current one.
cd "$WORK"
timeout 600 "${ST[@]}" run "$SERVER_URL/api/v1/openapi.json" \
  --header "Authorization: Bearer $ADMIN" \
  --checks "$CHECKS" \
  --exclude-path '/api/v1/tokens/{id}' \
  --max-examples "${MAX_EXAMPLES:-20}" \
  --request-timeout 30 \
  --generation-database none \
  --no-color \
  "${report[@]}" "${seed[@]}" "$@" || status=$?
if grep -q panicked "$WORK/st.err"; then
  grep -B2 -A10 panicked "$WORK/st.err" >&2
  die "the server panicked"
fi
[ "$status" = 0 ] || die "schemathesis found failures (exit $status; 124 is the 10-minute limit)"
kill -0 "$SERVER_PID" 2>/dev/null || die "the server is gone"
log "PASS ($DB): $(($(date +%s) - started)) s"
