#!/usr/bin/env bash
# Starts `npm run dev` on the embedded defaults (no DATABASE_URL, Redis pointed at a closed port so the embedded
# stand-in is used), waits for /health/ready, parses the OpenAPI document, signs in through the local IdP in chromium
# (dev/smoke-sso.ts), stops it with SIGINT and checks that nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
port=18787
state=$(mktemp -d)
log="$state/dev.log"
unset DATABASE_URL
PORT=$port NEON_GATEWAY_PORT=14444 UPSTASH_GATEWAY_PORT=18079 DEV_IDP_PORT=19400 REDIS_URL=redis://127.0.0.1:1 \
  setsid npm run dev >"$log" 2>&1 &
dev_pid=$!
cleanup() { kill -INT -"$dev_pid" 2>/dev/null || true; }
trap cleanup EXIT

ready=""
for i in $(seq 1 180); do
  if ! kill -0 "$dev_pid" 2>/dev/null; then break; fi
  if curl -fsS "http://127.0.0.1:$port/health/ready" -o "$state/ready.json" 2>/dev/null; then ready=yes; break; fi
  sleep 1
done
if [ -z "$ready" ]; then echo "npm run dev did not become ready:"; cat "$log"; exit 1; fi
echo "ready after ${i}s: $(cat "$state/ready.json")"
grep -q "embedded PGlite" "$log" || { echo "expected the embedded PGlite database"; cat "$log"; exit 1; }
grep -qi "embedded" "$log" || { echo "expected the embedded Redis stand-in"; exit 1; }

curl -fsS -H "Host: acme.localhost:$port" "http://127.0.0.1:$port/health/ready" | grep -q '"tenant":"acme"' \
  || { echo "tenant acme did not resolve"; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: nope.localhost:$port" "http://127.0.0.1:$port/health/ready")
[ "$status" = 404 ] || { echo "unknown tenant answered $status"; exit 1; }
curl -fsS "http://127.0.0.1:$port/api/v1/openapi.json" -o "$state/openapi.json"
node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); if(d.openapi!=="3.1.0"||!d.paths["/health/ready"]) process.exit(1); console.log("openapi.json parses:", Object.keys(d.paths).length, "paths")' "$state/openapi.json"

# The README's single sign-on walk-through, in chromium: the local IdP's pages, the callback, the code exchange.
node dev/smoke-sso.ts "$port"

kill -INT -"$dev_pid"
for i in $(seq 1 30); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 1; done
if kill -0 "$dev_pid" 2>/dev/null; then echo "npm run dev did not stop on SIGINT"; exit 1; fi
trap - EXIT
sleep 1
if pgrep -f "workerd.*$port|wrangler.*--port $port" >/dev/null; then
  echo "orphaned processes after stop:"; pgrep -af "workerd|wrangler"; exit 1
fi
for p in $port 14444 18079 19400; do
  if curl -s -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null; then echo "port $p still answers after stop"; exit 1; fi
done
echo "npm run dev stopped cleanly"
