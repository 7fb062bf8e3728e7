#!/bin/sh
# Creates the incident store's role and database next to Temporal's (temporal and
# temporal_visibility, which temporalio/auto-setup creates itself). The postgres image runs
# this once, when its data volume is first initialised; see docs/deployment.md.
set -eu
: "${MAHAVISHNU_DB_PASSWORD:?MAHAVISHNU_DB_PASSWORD is not set}"
# The password goes in as a psql variable (:'pw' quotes it), never through the shell.
psql -v ON_ERROR_STOP=1 -v pw="$MAHAVISHNU_DB_PASSWORD" \
	--username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE mahavishnu LOGIN PASSWORD :'pw';
CREATE DATABASE mahavishnu OWNER mahavishnu;
SQL
