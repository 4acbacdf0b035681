#!/bin/sh
# Makes the cluster on the first start, then runs PostgreSQL in the foreground (with the
# arguments given: `-c name=value` settings).
set -eu
: "${POSTGRES_USER:=ronin}" "${POSTGRES_DB:=ronin}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" > "$password"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$password" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$password"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  createdb -U "$POSTGRES_USER" "$POSTGRES_DB"
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "made the database $POSTGRES_DB for $POSTGRES_USER"
fi
exec postgres -D "$PGDATA" "$@"
