#!/bin/sh
# Creates (or upgrades) Temporal's two PostgreSQL databases. Idempotent: safe on every `docker compose up`.
# Run by the compose job (admin-tools image: temporal-sql-tool on PATH, schemas in /etc/temporal/schema) and by
# `npm run cluster` (the same tool and schemas built from the server's Go module, passed in the two variables).
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
SQL_TOOL="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"
SCHEMA="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}/postgresql/v12"
# The password goes through the environment (SQL_PASSWORD), never on a command line that `ps` shows.
export SQL_PASSWORD="$POSTGRES_PWD"
tool() { "$SQL_TOOL" --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" "$@"; }

# PostgreSQL is up when this runs (compose: the healthy condition; npm run cluster: pg_isready).
for db in temporal temporal_visibility; do
  dir=temporal; [ "$db" = temporal_visibility ] && dir=visibility
  tool --db "$db" create-database >/dev/null 2>&1 || true # exists already
  tool --db "$db" setup-schema -v 0.0 >/dev/null 2>&1 || true # versioning tables exist already
  tool --db "$db" update-schema -d "$SCHEMA/$dir/versioned"
done
echo "Temporal schemas ready"
