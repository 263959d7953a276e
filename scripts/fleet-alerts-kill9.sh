#!/usr/bin/env bash
# Crash test of alert delivery with two server instances on one PostgreSQL database: one
# instance is killed with SIGKILL while alerts are pending and in flight; the survivor takes over
# its leases, and in the end every alert is delivered, none is lost, and every repeat carries the
# same webhook-id.
#
# A receiver on 127.0.0.1 (python3 http.server, written into the work folder) logs every request
# and its webhook-id, checks the Standard Webhooks signature, answers the first attempt of about
# a third of the ids with 500 and every other request with 200 after RECEIVER_DELAY seconds, so
# alerts are retried and in flight. A `standard` webhook points at it. Both instances run with
# their clock at the same moment (UCTRIAGE_NOW) and --alert-hold-ms 0; ROOMS rooms send twelve
# heartbeats each up to five minutes before that moment (crates/server/examples/loadgen.rs, the
# same batches through both instances), the network down from 30 to 15 minutes before it: per
# room an incident opened and resolved within the last 30 minutes, so two alerts each. Once
# alerts have been delivered and others wait, the instance holding the most alert leases is
# killed. Then, within the time left, these must hold:
#   - every alert the API lists (GET /api/v1/webhooks/{id}/deliveries) ends `delivered`;
#   - the webhook-ids the receiver answered 200 are exactly those alerts: none lost, none unknown;
#   - every attempt of one id carries the same body, and one transition (incident, event,
#     time) never arrives under two ids;
#   - every request's signature verifies; at least one alert was leased by the killed instance;
#   - no "reopened" alert for an incident that opened at that same moment (one room judged by
#     both instances at once).
#
# Usage: scripts/fleet-alerts-kill9.sh      ROOMS (30), RECEIVER_DELAY (0.3), PG_URL, NO_BUILD=1
# and KEEP=1 as in fleet-lib.sh. Exit 0 when every check holds; it gives up after 110 s.
DB=postgres
source "$(dirname "$0")/fleet-lib.sh"

ROOMS=${ROOMS:-30}
RECEIVER_DELAY=${RECEIVER_DELAY:-0.3}
NOW=2025-07-15T10:00:00Z
START=2025-07-15T09:00:00Z
DEADLINE=$((SECONDS + 110))
command -v python3 >/dev/null || die "needs python3 (the webhook receiver)"
command -v psql >/dev/null || die "needs psql (to see which instance holds the alert leases)"
build

# --- the receiver -------------------------------------------------------------------------------
SECRET="whsec_$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')"
cat >"$WORK/receiver.py" <<'PY'
import base64, hashlib, hmac, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file, secret, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
key = base64.b64decode(secret[len("whsec_"):])
lock = threading.Lock()
attempts = {}
log = open(log_file, "a", buffering=1)

class Hook(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        wid = self.headers.get("webhook-id", "")
        ts = self.headers.get("webhook-timestamp", "")
        mac = base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
        sig_ok = f"v1,{mac}" in self.headers.get("webhook-signature", "").split()
        with lock:
            attempts[wid] = attempts.get(wid, 0) + 1
            n = attempts[wid]
        # The first attempt of about a third of the ids fails; every answer takes a while.
        status = 500 if n == 1 and hashlib.sha256(wid.encode()).digest()[0] % 3 == 0 else 200
        if status == 200:
            time.sleep(delay)
        try:
            msg = json.loads(body)
        except ValueError:
            msg = {}
        line = {"t": time.time(), "id": wid, "attempt": n, "status": status, "sig_ok": sig_ok,
                "type": msg.get("type"), "at": msg.get("timestamp"),
                "incident": (msg.get("data") or {}).get("incident_id"),
                "body": hashlib.sha256(body).hexdigest()}
        with lock:
            log.write(json.dumps(line) + "\n")
        try:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()
        except OSError:
            pass  # the sender died while waiting

server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
open(port_file + ".tmp", "w").write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
PY
: >"$WORK/received.jsonl"
python3 "$WORK/receiver.py" "$WORK/receiver.port" "$WORK/received.jsonl" "$SECRET" "$RECEIVER_DELAY" \
  2>"$WORK/receiver.err" &
BG_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/receiver.port" ] && break; sleep 0.1; done
[ -s "$WORK/receiver.port" ] || die "the webhook receiver did not start: $(cat "$WORK/receiver.err")"
HOOK_URL="http://127.0.0.1:$(cat "$WORK/receiver.port")/hook"

# --- two instances on one database ----------------------------------------------------------------
new_db
URL=$DB_URL
UCTRIAGE_NOW=$NOW start_server a "$WORK/a" "$URL" --alert-hold-ms 0
PID_A=$SERVER_PID URL_A=$SERVER_URL
mkdir -p "$WORK/b"
cp "$WORK/a/secret.key" "$WORK/b/secret.key"
UCTRIAGE_NOW=$NOW start_server b "$WORK/b" "$URL" --alert-hold-ms 0
PID_B=$SERVER_PID URL_B=$SERVER_URL
ADMIN=$(cat "$WORK/a/admin.tok")
DEVICE=$(device_token "$URL_A" "$ADMIN")
started=$SECONDS

WEBHOOK=$(curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d "{\"kind\":\"standard\",\"url\":\"$HOOK_URL\",\"name\":\"kill -9 receiver\",\"secret\":\"$SECRET\"}" \
  "$URL_A/api/v1/webhooks" | json_field id)
[ -n "$WEBHOOK" ] || die "could not create the webhook"

# --- incidents near the servers' now, so they are alerted --------------------------------------------
log "$ROOMS rooms: network down from 30 to 15 minutes before $NOW, sent through both instances"
plan=(--rooms "$ROOMS" --batch 12 --max-requests "$ROOMS" --outage 6-9 --start "$START" --duration 60)
"$LOADGEN" --url "$URL_A" --token "$DEVICE" --clients 2 "${plan[@]}" >"$WORK/send-a.json" &
la=$!
"$LOADGEN" --url "$URL_B" --token "$DEVICE" --clients 2 "${plan[@]}" >"$WORK/send-b.json" &
lb=$!
wait "$la" || die "sending through a: $(cat "$WORK/send-a.json")"
wait "$lb" || die "sending through b: $(cat "$WORK/send-b.json")"

pg() { psql -qtA "$URL" -c "$1"; }
expected=$((ROOMS * 2))
# Kill once a few alerts went out, while most wait and some are leased.
while :; do
  total=$(pg "SELECT COUNT(*) FROM alerts")
  done_n=$(pg "SELECT COUNT(*) FROM alerts WHERE state <> 'pending'")
  leased=$(pg "SELECT COUNT(*) FROM alerts WHERE state = 'pending' AND lease_owner IS NOT NULL")
  [ "$total" -ge $((expected / 2)) ] && [ "$done_n" -ge 3 ] && [ "$leased" -ge 1 ] && break
  [ "$SECONDS" -lt "$DEADLINE" ] || die "alerts did not start going out (alerts $total, sent $done_n)"
  sleep 0.1
done
# The instance holding the most leases. A lease names its instance as <pid>-<random>.
owner=$(pg "SELECT split_part(lease_owner, '-', 1) FROM alerts WHERE state = 'pending' AND lease_owner IS NOT NULL \
  GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1")
case "$owner" in
  "$PID_A") victim=a VICTIM_PID=$PID_A SURVIVOR_URL=$URL_B ;;
  "$PID_B") victim=b VICTIM_PID=$PID_B SURVIVOR_URL=$URL_A ;;
  *) die "alerts leased by an unknown instance $owner" ;;
esac
stop_server "$VICTIM_PID" KILL
killed_at=$(date +%s.%N)
held=$(pg "SELECT id FROM alerts WHERE state = 'pending' AND lease_owner LIKE '$VICTIM_PID-%' ORDER BY id")
held_n=$(grep -c . <<<"$held" || true)
log "SIGKILL to instance $victim after $done_n of $total alerts were sent: it held $held_n alert leases" \
  "($(pg "SELECT COUNT(*) FROM alerts WHERE state = 'pending'") pending)"
[ "$held_n" -ge 1 ] || die "the killed instance held no alert lease: the kill tested nothing"

# --- the survivor delivers everything ---------------------------------------------------------------
while :; do
  pending=$(pg "SELECT COUNT(*) FROM alerts WHERE state = 'pending'")
  [ "$pending" = 0 ] && break
  [ "$SECONDS" -lt "$DEADLINE" ] || die "$pending alerts still pending $((SECONDS - started)) s after the start"
  sleep 0.5
done
curl -sf -H "Authorization: Bearer $ADMIN" "$SURVIVOR_URL/api/v1/webhooks/$WEBHOOK/deliveries?limit=1000" \
  >"$WORK/deliveries.json" || die "GET deliveries failed"
curl -sf -H "Authorization: Bearer $ADMIN" "$SURVIVOR_URL/api/v1/incidents?limit=1000" >"$WORK/incidents.json" \
  || die "GET incidents failed"
elapsed=$((SECONDS - started))

# --- the checks ---------------------------------------------------------------------------------------
printf '%s\n' "$held" >"$WORK/held.txt"
python3 - "$WORK" "$killed_at" "$expected" "$elapsed" "$victim" <<'PY'
import collections, json, sys
work, killed_at, expected, elapsed, victim = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
alerts = json.load(open(f"{work}/deliveries.json"))["items"]
incidents = json.load(open(f"{work}/incidents.json"))["items"]
got = [json.loads(l) for l in open(f"{work}/received.jsonl") if l.strip()]
held = [l.strip() for l in open(f"{work}/held.txt") if l.strip()]
bad = []
ids = {a["id"] for a in alerts}
not_delivered = [f'{a["id"]} {a["state"]} ({a.get("last_error")})' for a in alerts if a["state"] != "delivered"]
if not_delivered:
    bad.append(f"alerts not delivered: {not_delivered[:5]}")
if len(alerts) < expected:
    bad.append(f"{len(alerts)} alerts listed, expected at least {expected} (two per room)")
ok_ids = {g["id"] for g in got if g["status"] == 200}
if ids - ok_ids:
    bad.append(f"lost: {len(ids - ok_ids)} alerts never answered 200 at the receiver, e.g. {sorted(ids - ok_ids)[:3]}")
stray = {g["id"] for g in got} - ids
if stray:
    bad.append(f"the receiver got {len(stray)} webhook-ids the API does not list, e.g. {sorted(stray)[:3]}")
bodies = collections.defaultdict(set)
by_transition = collections.defaultdict(set)
for g in got:
    bodies[g["id"]].add(g["body"])
    by_transition[(g["incident"], g["type"], g["at"])].add(g["id"])
if any(len(b) > 1 for b in bodies.values()):
    bad.append("some webhook-id arrived with different bodies")
split = {k: v for k, v in by_transition.items() if len(v) > 1}
if split:
    bad.append(f"{len(split)} transitions arrived under more than one webhook-id, e.g. {next(iter(split.items()))}")
if not all(g["sig_ok"] for g in got):
    bad.append(f"{sum(not g['sig_ok'] for g in got)} requests with a signature that does not verify")
ok_count = collections.Counter(g["id"] for g in got if g["status"] == 200)
repeats = {i: n for i, n in ok_count.items() if n > 1}
failed_first = sum(1 for g in got if g["status"] == 500)
after_kill = {g["id"] for g in got if g["t"] > killed_at and g["status"] == 200}
taken_over = [i for i in held if i in after_kill]
if len(taken_over) != len(held):
    bad.append(f"of {len(held)} alerts the killed instance held, only {len(taken_over)} were delivered after the kill")
print(f"alerts: {len(alerts)} listed ({len(incidents)} incidents), all delivered: {not not_delivered}; "
      f"requests received {len(got)}: {failed_first} answered 500 (first attempts), "
      f"{sum(ok_count.values())} answered 200 for {len(ok_count)} ids")
print(f"kill: instance {victim} held {len(held)} leases, all {len(taken_over)} delivered by the survivor after the kill; "
      f"ids answered 200 more than once: {len(repeats)} (same id, same body each time); {elapsed} s from the start")
# Each room had one episode, so a "reopened" alert means two instances judged the room's
# transitions at once and one replayed them against the incident the other had just written
# (the guard on rooms.incidents_rev exists to prevent that).
opened = {(g["incident"], g["at"]) for g in got if g["type"] == "incident.opened"}
spurious = {g["id"] for g in got if g["type"] == "incident.reopened" and (g["incident"], g["at"]) in opened}
if spurious:
    bad.append(f"{len(spurious)} 'reopened' alerts for incidents that opened at that same moment "
               "(two instances judged one room at once)")
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
PY
log "PASS: every alert delivered once or more under one webhook-id; $((SECONDS - started)) s"
