#!/usr/bin/env bash
# `make install`: give this checkout its own SECRET_KEY and CALLBACK_SECRET in the git-ignored
# .env (or the file named as the first argument). A variable the file already has is kept as
# it is, because every process and every machine must sign with the same secrets; only a
# missing one is added. Production (DEBUG=false) refuses to start without them.
set -euo pipefail
file="${1:-.env}"
umask 077  # a new file is readable by its owner only

has() { grep -Eq "^(export )?$1=" "$file" 2>/dev/null; }
add() {
  # a file that does not end with a newline would glue the new line to its last one
  if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then echo >>"$file"; fi
  echo "$1=$2" >>"$file"
  echo "platform/secrets.sh: wrote a random $1 into $file" >&2
}

has SECRET_KEY || add SECRET_KEY "$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
has CALLBACK_SECRET || add CALLBACK_SECRET "whsec_$(python3 -c \
  'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')"
