#!/usr/bin/env sh
# Sign and send a generic event with nothing but sh, curl and python3 (what a bot's backend does).
# Usage: examples/generic/send-with-curl.sh [FILE] [BRIDGE_URL]
#   FILE defaults to examples/generic/handoff-requested.json, BRIDGE_URL to http://127.0.0.1:8000.
#   The secret is GENERIC_WEBHOOK_SECRET, or the development one `bridge serve` keeps in var/.
set -eu
FILE=${1:-examples/generic/handoff-requested.json}
URL=${2:-http://127.0.0.1:8000}
SECRET=${GENERIC_WEBHOOK_SECRET:-$(cat "${BRIDGE_DATA_DIR:-var}/generic-webhook-secret")}
ID=msg_$(date +%s)_$$
TS=$(date +%s)
SIG=$(python3 -c 'import base64,hashlib,hmac,sys
key = base64.b64decode(sys.argv[1].removeprefix("whsec_"))
body = open(sys.argv[4], "rb").read()
signed = sys.argv[2].encode() + b"." + sys.argv[3].encode() + b"." + body
print(base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode())' "$SECRET" "$ID" "$TS" "$FILE")
curl -sS "$URL/webhooks/generic" -H 'Content-Type: application/json' \
  -H "webhook-id: $ID" -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \
  --data-binary "@$FILE"
echo
