#!/usr/bin/env bash
# Starts, stops or reports the two loopback registries the compat tests use
# (Debian's docker-registry, distribution 2.8):
#   anonymous   127.0.0.1:${BERTH_REGISTRY_PORT:-15000}
#   basic auth  127.0.0.1:${BERTH_AUTH_REGISTRY_PORT:-15001}  (berth / berth-secret, bcrypt htpasswd)
#   token auth  127.0.0.1:${BERTH_TOKEN_REGISTRY_PORT:-15002}  (bearer tokens from berth-token-server
#               at 127.0.0.1:${BERTH_TOKEN_SERVER_PORT:-15003}, same user; built by cargo when missing,
#               or $BERTH_TOKEN_SERVER_BIN)
#   CRI images  127.0.0.1:${BERTH_CRI_REGISTRY_PORT:-5001}  (anonymous; the CRI suite's images, pushed by
#               ../shared/cri/images.sh, which expects CRI_REGISTRY=127.0.0.1:5001)
# Config, storage, logs and pid files live under ${BERTH_FIXTURES_DIR:-<repo>/target/berth-fixtures}.
# Usage: scripts/registries.sh start|stop|status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${BERTH_FIXTURES_DIR:-$ROOT/target/berth-fixtures}"
ANON_PORT="${BERTH_REGISTRY_PORT:-15000}"
AUTH_PORT="${BERTH_AUTH_REGISTRY_PORT:-15001}"
TOKEN_PORT="${BERTH_TOKEN_REGISTRY_PORT:-15002}"
TOKEN_SERVER_PORT="${BERTH_TOKEN_SERVER_PORT:-15003}"
CRI_PORT="${BERTH_CRI_REGISTRY_PORT:-5001}"
TOKEN_ISSUER="berth-token-server"
TOKEN_SERVICE="berth-token-registry"
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

# still_starting PID: the process this script just started (`$!`) has not ended. Not
# `pid_alive`: until the forked shell has exec'd the server, its command line is this
# script's (on a busy machine that lasts longer than the first probe).
still_starting() {
    kill -0 "$1" 2>/dev/null
}

write_config() { # name port auth(yes|no|token)
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
        elif [[ "$auth" == token ]]; then
            echo "auth:"
            echo "  token:"
            echo "    realm: http://127.0.0.1:$TOKEN_SERVER_PORT/token"
            echo "    service: $TOKEN_SERVICE"
            echo "    issuer: $TOKEN_ISSUER"
            echo "    rootcertbundle: $d/signing/cert.pem"
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
    local started=$!
    echo "$started" >"$d/pid"
    local i
    for i in $(seq 1 150); do
        got="$(status_of "$url")"
        if [[ "$got" == "$want" ]]; then
            log "$name registry up at 127.0.0.1:$port (pid $(cat "$d/pid"), GET /v2/ -> $got)"
            return 0
        fi
        if ! still_starting "$started"; then
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

# --- the token registry's token server (compat-tests/src/bin/berth-token-server.rs) ---

TOKEN_DIR="$DIR/registry-token"
TOKEN_PIDFILE="$TOKEN_DIR/token-server.pid"
TOKEN_URL="http://127.0.0.1:$TOKEN_SERVER_PORT/token?service=$TOKEN_SERVICE"

# token_server_bin: $BERTH_TOKEN_SERVER_BIN, else the workspace's debug build (built when missing).
token_server_bin() {
    if [[ -n "${BERTH_TOKEN_SERVER_BIN:-}" ]]; then
        echo "$BERTH_TOKEN_SERVER_BIN"
        return 0
    fi
    local target
    target="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    [[ -n "$target" ]] || target="$ROOT/target"
    if [[ ! -x "$target/debug/berth-token-server" ]]; then
        log "building berth-token-server"
        (cd "$ROOT" && cargo build -q -p compat-tests --bin berth-token-server) >&2 || return 1
    fi
    echo "$target/debug/berth-token-server"
}

# token_pid_alive: the pid in the token server's pid file is alive and is our berth-token-server.
token_pid_alive() {
    [[ -f "$TOKEN_PIDFILE" ]] || return 1
    local pid cmdline
    pid="$(cat "$TOKEN_PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *berth-token-server*"$TOKEN_DIR/signing"* ]]
}

start_token_server() {
    mkdir -p "$TOKEN_DIR"
    if token_pid_alive; then
        if [[ "$(status_of "$TOKEN_URL")" == 200 ]]; then
            log "token server already running at 127.0.0.1:$TOKEN_SERVER_PORT (pid $(cat "$TOKEN_PIDFILE"))"
            return 0
        fi
        log "token server pid $(cat "$TOKEN_PIDFILE") is alive but does not answer; restarting it"
        stop_token_server
    fi
    local got bin
    got="$(status_of "$TOKEN_URL")"
    if [[ "$got" != "000" ]]; then
        log "something else already answers on 127.0.0.1:$TOKEN_SERVER_PORT (HTTP $got); set BERTH_TOKEN_SERVER_PORT"
        return 1
    fi
    bin="$(token_server_bin)" || { log "cannot build berth-token-server"; return 1; }
    # Makes the signing key and certificate (the registry's rootcertbundle) if missing.
    "$bin" --dir "$TOKEN_DIR/signing" --init >/dev/null
    setsid "$bin" --listen "127.0.0.1:$TOKEN_SERVER_PORT" --dir "$TOKEN_DIR/signing" \
        --issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE" \
        </dev/null >>"$TOKEN_DIR/token-server.log" 2>&1 &
    local started=$!
    echo "$started" >"$TOKEN_PIDFILE"
    local i
    for i in $(seq 1 100); do
        got="$(status_of "$TOKEN_URL")"
        if [[ "$got" == 200 ]]; then
            log "token server up at 127.0.0.1:$TOKEN_SERVER_PORT (pid $(cat "$TOKEN_PIDFILE"))"
            return 0
        fi
        if ! still_starting "$started"; then
            log "token server exited; last log lines:"
            tail -n 20 "$TOKEN_DIR/token-server.log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    log "token server did not answer 200 on $TOKEN_URL within 10s (last: $got)"
    return 1
}

stop_token_server() {
    if token_pid_alive; then
        local pid i
        pid="$(cat "$TOKEN_PIDFILE")"
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        log "token server stopped (pid $pid)"
    fi
    rm -f "$TOKEN_PIDFILE"
}

status_token_server() {
    local got
    got="$(status_of "$TOKEN_URL")"
    if token_pid_alive && [[ "$got" == 200 ]]; then
        echo "token-server: running at 127.0.0.1:$TOKEN_SERVER_PORT (pid $(cat "$TOKEN_PIDFILE"), GET /token -> $got)"
        return 0
    fi
    echo "token-server: not running (GET /token on 127.0.0.1:$TOKEN_SERVER_PORT -> $got)"
    return 1
}

# The token registry's /v2/ must challenge for a bearer token from our token server.
check_bearer_challenge() {
    local hdr
    hdr="$(curl -s -m 2 -o /dev/null -D - "http://127.0.0.1:$TOKEN_PORT/v2/" 2>/dev/null | tr -d '\r' | grep -i '^www-authenticate:' || true)"
    if [[ "$hdr" != *"Bearer realm=\"http://127.0.0.1:$TOKEN_SERVER_PORT/token\""* ]]; then
        log "token registry at 127.0.0.1:$TOKEN_PORT does not send a Bearer challenge for our token server: ${hdr:-no WWW-Authenticate}"
        return 1
    fi
    log "token registry challenges with ${hdr#*: }"
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
    start_token_server
    # A registry started before the signing key was last made would reject every token.
    if pid_alive "$TOKEN_DIR/pid" && [[ "$TOKEN_DIR/signing/cert.pem" -nt "$TOKEN_DIR/pid" ]]; then
        log "token signing certificate changed since the token registry started; restarting it"
        stop_one token
    fi
    start_one token "$TOKEN_PORT" token 401
    check_bearer_challenge
    # The CRI registry is plain and anonymous: one that already answers on its port (another
    # checkout's) serves as well; without one only the CRI tests fail.
    if [[ "$(status_of "http://127.0.0.1:$CRI_PORT/v2/")" == 200 ]] && ! pid_alive "$DIR/registry-cri/pid"; then
        log "cri registry: using the one already answering at 127.0.0.1:$CRI_PORT"
    else
        start_one cri "$CRI_PORT" no 200 || log "cri registry did not start: the CRI tests will fail (set BERTH_CRI_REGISTRY_PORT)"
    fi
    ;;
stop)
    stop_one cri
    stop_one anon
    stop_one auth
    stop_one token
    stop_token_server
    ;;
status)
    rc=0
    status_one anon "$ANON_PORT" 200 || rc=1
    status_one auth "$AUTH_PORT" 401 || rc=1
    status_token_server || rc=1
    status_one token "$TOKEN_PORT" 401 || rc=1
    status_one cri "$CRI_PORT" 200 || rc=1
    exit $rc
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
