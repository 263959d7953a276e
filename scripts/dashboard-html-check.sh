#!/usr/bin/env bash
# Every dashboard page is valid HTML, has a title and landmarks, and carries no inline script,
# inline style or inline event handler (the Content-Security-Policy forbids them anyway).
#
# Starts `uctriage serve` on 127.0.0.1 (a free port) with a small generated fleet pushed through
# the API, signs in with the admin token as a browser would (cookie jar), fetches each page, and
# checks it offline with the Nu HTML Checker (vnu.jar from the npm package vnu-jar, run with the
# machine's Java). vnu-jar is installed with npm under ${XDG_CACHE_HOME:-~/.cache}/uctriage/vnu
# when VNU_JAR does not name a jar.
#
# Usage: scripts/dashboard-html-check.sh      NO_BUILD=1 uses the release binaries already built.
source "$(dirname "$0")/fleet-lib.sh"

vnu_jar() {
  if [ -n "${VNU_JAR:-}" ]; then
    echo "$VNU_JAR"
    return
  fi
  local dir=${XDG_CACHE_HOME:-$HOME/.cache}/uctriage/vnu
  local jar=$dir/node_modules/vnu-jar/build/dist/vnu.jar
  if [ ! -f "$jar" ]; then
    command -v npm >/dev/null || die "npm is needed to install vnu-jar (or set VNU_JAR)"
    log "installing vnu-jar into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --silent --no-audit --no-fund vnu-jar >/dev/null || die "npm install vnu-jar failed"
  fi
  echo "$jar"
}

command -v java >/dev/null || die "java is needed for the Nu HTML Checker (Debian: apt-get install default-jre-headless)"
JAR=$(vnu_jar)
build
start_server html "$WORK/data" ""
ADMIN=$(cat "$WORK/data/admin.tok")
"$BIN" fleet seed --server "$SERVER_URL" --token-file "$WORK/data/admin.tok" --rooms 8 --days 1 --batch-minutes 120 \
  >"$WORK/seed.out" 2>&1 || { cat "$WORK/seed.out" >&2; die "fleet seed failed"; }

JAR_COOKIES=$WORK/cookies
curl -sf -c "$JAR_COOKIES" -o /dev/null --data-urlencode "token=$ADMIN" "$SERVER_URL/signin" || die "cannot sign in"
api() { curl -sf -H "Authorization: Bearer $ADMIN" "$SERVER_URL$1"; }
room=$(api /api/v1/rooms | json_field id)
incident=$(api /api/v1/incidents | json_field id)
zip=$WORK/sample.zip
"$BIN" sample rooms-mfa --output "$zip" >/dev/null 2>&1 || "$BIN" sample rooms-mfa >"$zip"
report=$(curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/zip' --data-binary "@$zip" \
  "$SERVER_URL/api/v1/uploads?name=sample.zip" | json_field id)
hook=$(curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"kind":"standard","url":"http://127.0.0.1:9/hook","name":"check"}' "$SERVER_URL/api/v1/webhooks" | json_field id)
[ -n "$room" ] && [ -n "$incident" ] && [ -n "$report" ] && [ -n "$hook" ] || die "the seeded fleet has no room, incident, report or webhook"
for _ in $(seq 1 300); do
  api "/api/v1/reports/$report" | grep -q '"status":"done"' && break
  sleep 0.2
done

pages=(
  "/signin" "/" "/?state=unhealthy&sort=name" "/rooms/$room" "/incidents" "/incidents?state=open"
  "/incidents/$incident" "/history" "/history?days=90" "/inventory" "/upload" "/lookup"
  "/lookup?q=AADSTS50076" "/lookup?q=0xCAA8FFFE" "/settings" "/audit" "/reports/$report"
  "/reports/$report?redact=1" "/settings/alerts/$hook" "/triage" "/triage/teams?sign-in=yes" "/triage/teams?sign-in=yes&web=fails&code=rooms"
  "/no/such/page"
)
mkdir -p "$WORK/pages"
fail=0
n=0
for p in "${pages[@]}"; do
  n=$((n + 1))
  f="$WORK/pages/$n.html"
  # The sign-in page is seen without a session (with one it sends you on).
  cookies=(-b "$JAR_COOKIES")
  [ "$p" = /signin ] && cookies=()
  code=$(curl -s "${cookies[@]}" -o "$f" -w '%{http_code}' "$SERVER_URL$p")
  case "$code" in
    200 | 404) ;;
    *) log "$p: HTTP $code"; fail=1; continue ;;
  esac
  grep -q '<title>[^<]' "$f" || { log "$p: no title"; fail=1; }
  grep -q '<main' "$f" && grep -q '<header' "$f" || { log "$p: no main or header landmark"; fail=1; }
  if grep -Eiq '<[a-z][^>]*[[:space:]]on[a-z]+=' "$f"; then log "$p: an inline event handler"; fail=1; fi
  if grep -Eio '<script[^>]*>' "$f" | grep -vq ' src='; then log "$p: inline script"; fail=1; fi
  if grep -Eiq '<[a-z][^>]*[[:space:]]style=' "$f" || grep -qi '<style' "$f"; then log "$p: inline style"; fail=1; fi
  echo "$p" >"$f.url"
done
log "checking ${#pages[@]} pages with the Nu HTML Checker"
if ! java -jar "$JAR" --errors-only --format gnu "$WORK"/pages/*.html 2>"$WORK/vnu.txt"; then
  while IFS= read -r line; do
    file=${line%%:*}
    log "$(cat "$file.url" 2>/dev/null || echo "$file"): ${line#*:}"
  done <"$WORK/vnu.txt"
  fail=1
fi
[ "$fail" = 0 ] || die "dashboard pages are not clean HTML"
log "all ${#pages[@]} dashboard pages are valid HTML with a title and landmarks, and no inline script, style or handler"
