#!/usr/bin/env bash
# Run a command (the test suite) with a throw-away PostgreSQL on a local port, so the service's
# store is tested against a real PostgreSQL as well as SQLite. Exports SCHOOLBUS_TEST_POSTGRES_URL
# when the server starts; when it cannot (no PostgreSQL and not root to install Debian's), says why
# and runs the command anyway: those tests then skip with that reason.
# Usage: bash .ci/with-postgres.sh COMMAND [ARGS...]
set -uo pipefail

note() { echo "with-postgres: $*" >&2; }

find_bin() {
    local found
    found=$(command -v initdb 2>/dev/null) && { dirname "$found"; return 0; }
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$found" ] && [ -x "$found/initdb" ] && { echo "$found"; return 0; }
    return 1
}

start_postgres() {
    local bin
    if ! bin=$(find_bin); then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            note "installing Debian's postgresql"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 \
                || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1; }
        fi
        bin=$(find_bin) || { note "no PostgreSQL (initdb) and it could not be installed"; return 1; }
    fi
    PG_DIR=$(mktemp -d /tmp/schoolbus-pg.XXXXXX)
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # PostgreSQL refuses to run as root: as root, the cluster belongs to 'nobody'.
    local as=()
    if [ "$(id -u)" = 0 ]; then
        chown nobody "$PG_DIR"
        as=(runuser -u nobody --)
    fi
    "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U schoolbus --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
        || { note "initdb failed: $(tail -n 3 "$PG_DIR/initdb.log")"; return 1; }
    "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
        || { note "PostgreSQL did not start: $(tail -n 3 "$PG_DIR/server.log")"; return 1; }
    PG_CTL=("${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data")
    export SCHOOLBUS_TEST_POSTGRES_URL="postgresql://schoolbus@127.0.0.1:$port/postgres"
    note "PostgreSQL on 127.0.0.1:$port ($PG_DIR)"
}

stop_postgres() {
    if [ -n "${PG_CTL+x}" ]; then
        "${PG_CTL[@]}" stop -m fast >/dev/null 2>&1
    fi
    [ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
}

trap stop_postgres EXIT
start_postgres || note "PostgreSQL tests will skip"
"$@"
status=$?
exit "$status"
