#!/usr/bin/env bash
# A PostgreSQL from Debian's packages for the test suite: install it if missing (as root), start
# the default cluster, make a role that may create the test database, print its DATABASE_URL.
set -o errexit -o nounset -o pipefail

ROLE=jumpcloud_ci
PASSWORD=ci-only-password  # a throwaway role on a throwaway local server

if ! command -v pg_lsclusters >/dev/null; then
  [[ $(id -u) == 0 ]] || { echo "PostgreSQL is not installed. Run: sudo apt-get install -y postgresql" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
[[ $status == online ]] || pg_ctlcluster "$version" "$cluster" start >&2
ready=
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$port" && { ready=yes; break; }; sleep 0.2; done
if [[ -z $ready ]]; then
  echo "PostgreSQL $version/$cluster is not accepting connections on 127.0.0.1:$port after 10 s:" >&2
  tail -n 20 "/var/log/postgresql/postgresql-$version-$cluster.log" >&2 || true
  exit 1
fi
su postgres -c "psql -q -p $port" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SQL
su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_database WHERE datname = '$ROLE'\"" | grep -q 1 ||
  su postgres -c "createdb -p $port -O $ROLE $ROLE"
echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$port/$ROLE"
