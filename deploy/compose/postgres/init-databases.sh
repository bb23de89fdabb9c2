#!/bin/bash
# Run once by the postgres image on an empty data directory: one database per service
# (each service owns its data; none reads another's tables).
set -euo pipefail
for svc in identity records attendance signing archive; do
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
SELECT 'CREATE DATABASE hsdt_${svc}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'hsdt_${svc}')\gexec
SQL
done
