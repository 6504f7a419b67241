#!/bin/sh
# An exec credential plugin for the unit tests.  It counts its runs in
# $EC_TEST_EXEC_DIR/runs, keeps what kubectl would pass it there, and
# prints a token numbered by the run that expires at $EC_TEST_EXPIRY.
set -e
dir=$EC_TEST_EXEC_DIR
runs=$(cat "$dir/runs" 2>/dev/null || echo 0)
runs=$((runs + 1))
echo "$runs" >"$dir/runs"
printf '%s\n' "$KUBERNETES_EXEC_INFO" >"$dir/exec-info"
printf '%s\n' "$*" >"$dir/args"
cat <<JSON
{
  "kind": "ExecCredential",
  "apiVersion": "client.authentication.k8s.io/v1",
  "status": {
    "token": "$TOKEN_PREFIX-$runs",
    "expirationTimestamp": "$EC_TEST_EXPIRY"
  }
}
JSON
