#!/usr/bin/env bash
# Starts, stops or reports the two loopback registries the compat tests use
# (Debian's docker-registry, distribution 2.8):
#   anonymous   127.0.0.1:${BERTH_REGISTRY_PORT:-15000}
#   basic auth  127.0.0.1:${BERTH_AUTH_REGISTRY_PORT:-15001}  (berth / berth-secret, bcrypt htpasswd)
# Config, storage, logs and pid files live under ${BERTH_FIXTURES_DIR:-<repo>/target/berth-fixtures}.
# Usage: scripts/registries.sh start|stop|status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${BERTH_FIXTURES_DIR:-$ROOT/target/berth-fixtures}"
ANON_PORT="${BERTH_REGISTRY_PORT:-15000}"
AUTH_PORT="${BERTH_AUTH_REGISTRY_PORT:-15001}"
USER_NAME="berth"
PASSWORD="berth-secret"
REGISTRY_BIN="${BERTH_REGISTRY_BIN:-$(command -v docker-registry || echo /usr/bin/docker-registry)}"

log() { echo "registries: $*" >&2; }

# status_of URL -> prints the HTTP status code of GET URL (000 when nothing answers).
status_of() {
    curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

# pid_alive PIDFILE: the pid in the file is alive and is a docker-registry serving our config
# (so a recycled pid is never taken for ours, nor killed).
pid_alive() {
    local pidfile="$1"
    [[ -f "$pidfile" ]] || return 1
    local pid
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *docker-registry*"$(dirname "$pidfile")/config.yml"* ]]
}

write_config() { # name port auth(yes|no)
    local name="$1" port="$2" auth="$3"
    local d="$DIR/registry-$name"
    mkdir -p "$d/storage"
    {
        echo "version: 0.1"
        echo "log:"
        echo "  level: info"
        echo "  accesslog:"
        echo "    disabled: true"
        echo "  fields:"
        echo "    service: berth-registry-$name"
        echo "storage:"
        echo "  filesystem:"
        echo "    rootdirectory: $d/storage"
        echo "  delete:"
        echo "    enabled: true"
        echo "  maintenance:"
        echo "    uploadpurging:"
        echo "      enabled: false"
        echo "http:"
        echo "  addr: 127.0.0.1:$port"
        echo "  secret: berth-fixtures-$name-secret"
        echo "  headers:"
        echo "    X-Content-Type-Options: [nosniff]"
        if [[ "$auth" == yes ]]; then
            echo "auth:"
            echo "  htpasswd:"
            echo "    realm: berth-registry"
            echo "    path: $d/htpasswd"
        fi
    } >"$d/config.yml"
    if [[ "$auth" == yes ]]; then
        # bcrypt (-B): the only hash distribution's htpasswd backend accepts.
        if [[ ! -s "$d/htpasswd" ]] || ! htpasswd -vb "$d/htpasswd" "$USER_NAME" "$PASSWORD" >/dev/null 2>&1; then
            htpasswd -Bbn "$USER_NAME" "$PASSWORD" >"$d/htpasswd"
        fi
    fi
}

start_one() { # name port auth expected-status
    local name="$1" port="$2" auth="$3" want="$4"
    local d="$DIR/registry-$name"
    local url="http://127.0.0.1:$port/v2/"
    write_config "$name" "$port" "$auth"
    if pid_alive "$d/pid"; then
        if [[ "$(status_of "$url")" == "$want" ]]; then
            log "$name registry already running at 127.0.0.1:$port (pid $(cat "$d/pid"))"
            return 0
        fi
        log "$name registry pid $(cat "$d/pid") is alive but does not answer; restarting it"
        stop_one "$name"
    fi
    local got
    got="$(status_of "$url")"
    if [[ "$got" != "000" ]]; then
        log "something else already answers on 127.0.0.1:$port (HTTP $got); set BERTH_REGISTRY_PORT / BERTH_AUTH_REGISTRY_PORT"
        return 1
    fi
    # setsid: the registry gets its own session, so it outlives this script and
    # ignores terminal signals; stop uses the pid file.
    setsid "$REGISTRY_BIN" serve "$d/config.yml" </dev/null >>"$d/registry.log" 2>&1 &
    echo $! >"$d/pid"
    local i
    for i in $(seq 1 150); do
        got="$(status_of "$url")"
        if [[ "$got" == "$want" ]]; then
            log "$name registry up at 127.0.0.1:$port (pid $(cat "$d/pid"), GET /v2/ -> $got)"
            return 0
        fi
        if ! pid_alive "$d/pid"; then
            log "$name registry exited; last log lines:"
            tail -n 20 "$d/registry.log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    log "$name registry did not answer $want on $url within 15s (last: $got); log tail:"
    tail -n 20 "$d/registry.log" >&2 || true
    return 1
}

stop_one() { # name
    local d="$DIR/registry-$1"
    if pid_alive "$d/pid"; then
        local pid
        pid="$(cat "$d/pid")"
        kill "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        log "$1 registry stopped (pid $pid)"
    fi
    rm -f "$d/pid"
}

status_one() { # name port expected-status
    local d="$DIR/registry-$1"
    local got
    got="$(status_of "http://127.0.0.1:$2/v2/")"
    if pid_alive "$d/pid" && [[ "$got" == "$3" ]]; then
        echo "$1: running at 127.0.0.1:$2 (pid $(cat "$d/pid"), GET /v2/ -> $got)"
        return 0
    fi
    echo "$1: not running (GET /v2/ on 127.0.0.1:$2 -> $got)"
    return 1
}

cmd="${1:-}"
case "$cmd" in
start)
    command -v "$REGISTRY_BIN" >/dev/null || { log "docker-registry not found: run scripts/install-test-deps.sh"; exit 1; }
    command -v htpasswd >/dev/null || { log "htpasswd not found: run scripts/install-test-deps.sh"; exit 1; }
    command -v curl >/dev/null || { log "curl not found: run scripts/install-test-deps.sh"; exit 1; }
    mkdir -p "$DIR"
    start_one anon "$ANON_PORT" no 200
    start_one auth "$AUTH_PORT" yes 401
    ;;
stop)
    stop_one anon
    stop_one auth
    ;;
status)
    rc=0
    status_one anon "$ANON_PORT" 200 || rc=1
    status_one auth "$AUTH_PORT" 401 || rc=1
    exit $rc
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
