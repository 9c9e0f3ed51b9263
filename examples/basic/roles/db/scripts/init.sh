#!/bin/sh
# Create the data directory the way initdb would, idempotently.
set -eu
mkdir -p "$DATA"
[ -f "$DATA/PG_VERSION" ] || echo 15 > "$DATA/PG_VERSION"
echo "port = $PORT" > "$DATA/postgresql.conf"
