#!/usr/bin/env bash
# End-to-end tests in e2e/ (Swagger UI in a real browser, the TypeScript client
# package) against a live bin/kala on a fresh database. Run by `make test-e2e`, which
# builds bin/kala and sdk/typescript/dist, starts the test cluster and installs chromium
# and e2e/node_modules first; this script builds and installs nothing.
#
#   scripts/e2e.sh [COMMAND...]
#
# runs COMMAND (default: npm test --prefix e2e) with KALA_URL and KALA_ADMIN_PASSWORD
# set; `make test-generators` runs the generated clients' flows this way.
#
#   KALA_TEST_DATABASE_URL   admin URL of a database on the cluster to use
#                            (default: the private cluster's kala_test, scripts/pg.sh)
#   KALA_E2E_DB              the database to (re)create and drop (default kala_e2e)
#
# The server's log is e2e/out/server.log; screenshots land in e2e/out/ too.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

die() { echo "e2e.sh: $*" >&2; exit 1; }
log() { echo "e2e.sh: $*" >&2; }

DB=${KALA_E2E_DB:-kala_e2e}
[[ $DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "invalid database name: $DB"
ADMIN_PASSWORD='Adm1n#E2e-Pass'
OUT=$ROOT/e2e/out
SERVER_LOG=$OUT/server.log

[ -x bin/kala ] || die "bin/kala not found; run: make build (or make test-e2e)"
[ $# -gt 0 ] || [ -d e2e/node_modules ] || die "e2e/node_modules not found; run: make e2e-deps"
[ -f sdk/typescript/dist/index.js ] || die "sdk/typescript/dist not built; run: make sdk-ts"
command -v node >/dev/null || die "node not found (Node.js >= 20 is required)"

# The admin URL, and the same URL naming our database instead of its own.
ADMIN_URL=${KALA_TEST_DATABASE_URL:-$("$ROOT/scripts/pg.sh" url kala_test)}
if [[ $ADMIN_URL =~ ^([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(/[^?#]*)?(\?[^#]*)?$ ]]; then
  DB_URL="${BASH_REMATCH[1]}/$DB${BASH_REMATCH[3]}"
else
  die "KALA_TEST_DATABASE_URL must be a postgres:// URL"
fi
[ "$DB_URL" != "$ADMIN_URL" ] || die "the admin URL already names $DB; point it at another database"

PSQL=$(type -P psql || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n1) ||
  die "psql not found"
[ -x "$PSQL" ] || die "psql not found"
psql_admin() { "$PSQL" "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -tA "$@"; }

# A project (datastore) owns a cluster-wide role that dropping the database leaves
# behind; collect them first, drop them after.
drop_db() {
  local roles r
  roles=$("$PSQL" "$DB_URL" -X -q -tA -c 'SELECT role_name FROM projects' 2>/dev/null) || roles=
  psql_admin -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)"
  for r in $roles; do
    [[ $r =~ ^[A-Za-z0-9_]+$ ]] && psql_admin -c "DROP ROLE IF EXISTS \"$r\""
  done
}

free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

ready() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
    .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1/readyz"
}

SERVER_PID=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  drop_db || { log "could not drop database $DB"; rc=1; }
  if [ "$rc" != 0 ] && [ -s "$SERVER_LOG" ]; then
    log "FAILED; last lines of $SERVER_LOG:"
    tail -n 40 "$SERVER_LOG" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
rm -f "$OUT"/*.png
drop_db
psql_admin -c "CREATE DATABASE \"$DB\""

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
log "starting bin/kala on $URL (database $DB, log $SERVER_LOG)"
DATABASE_URL=$DB_URL KALA_ADDR=127.0.0.1:$PORT KALA_ADMIN_PASSWORD=$ADMIN_PASSWORD \
  bin/kala serve >"$SERVER_LOG" 2>&1 </dev/null &
SERVER_PID=$!

deadline=$((SECONDS + 60))
until ready "$URL"; do
  kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=; die "bin/kala exited before it was ready"; }
  [ "$SECONDS" -lt "$deadline" ] || die "bin/kala not ready at $URL/readyz after 60 s"
  sleep 0.2
done
log "ready"

[ $# -gt 0 ] || set -- npm test --prefix e2e
KALA_URL=$URL KALA_ADMIN_PASSWORD=$ADMIN_PASSWORD "$@"
