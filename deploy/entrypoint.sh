#!/usr/bin/env bash
# Container entrypoint: bring the database schema up to date, then run the command (gunicorn).
set -o errexit -o nounset -o pipefail

python app/manage.py migrate --noinput
exec "$@"
