#!/usr/bin/env bash
# Installs what Berth's tests need on a Debian 12 machine (as root): the registry,
# busybox-static and musl for the fixture images, htpasswd, the runtimes, the
# firewall tools, docker-compose (a docker-py client), the CNI plugins and skopeo. Idempotent: when everything is present it only checks and exits.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# Debian package -> a file or command that proves it is installed (checked first: fast).
declare -A WANT=(
    [docker-registry]=/usr/bin/docker-registry
    [busybox-static]=/bin/busybox
    [musl-tools]=/usr/bin/musl-gcc
    [apache2-utils]=/usr/bin/htpasswd
    [iptables]=/usr/sbin/iptables
    [nftables]=/usr/sbin/nft
    [iproute2]=/usr/bin/ip
    [runc]=/usr/sbin/runc
    [zstd]=/usr/bin/zstd
    [xz-utils]=/usr/bin/xz
    [bzip2]=/bin/bzip2
    [curl]=/usr/bin/curl
    [gcc]=/usr/bin/gcc
    [procps]=/usr/bin/ps
    [tini]=/usr/bin/tini-static
    [ca-certificates]=/etc/ssl/certs
    [docker-compose]=/usr/bin/docker-compose
    # The CRI tests: pods' networks (bridge, host-local, loopback, portmap), and the tools
    # ../shared/cri/images.sh builds critest's images with.
    [containernetworking-plugins]=/usr/lib/cni/bridge
    [skopeo]=/usr/bin/skopeo
    [jq]=/usr/bin/jq
)

missing=()
for pkg in "${!WANT[@]}"; do
    if [[ -e "${WANT[$pkg]}" ]] && dpkg -s "$pkg" >/dev/null 2>&1; then
        continue
    fi
    missing+=("$pkg")
done

# busybox-static must be the static one (the fixture images copy it as is).
if [[ -e /bin/busybox ]] && LC_ALL=C ldd /bin/busybox 2>&1 | grep -q '=>'; then
    missing+=(busybox-static)
fi

if ((${#missing[@]})); then
    if [[ "$(id -u)" != 0 ]]; then
        echo "install-test-deps: missing ${missing[*]}, and not root: install them with apt-get" >&2
        exit 1
    fi
    echo "install-test-deps: installing ${missing[*]}" >&2
    # Keep packages from starting their services (docker-registry would start one on :5000
    # where there is no systemd): the tests start their own registries.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        made_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [[ -n "$made_policy" ]]; then
        rm -f "$policy"
        trap - EXIT
    fi
fi

# The docker CLI drives the compat tests. It is on machines of this kind; say so clearly if not.
if ! command -v docker >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && { ((${#missing[@]})) || apt-get update -qq; } && apt-cache show docker-cli >/dev/null 2>&1; then
        apt-get install -y -qq --no-install-recommends docker-cli >/dev/null
    else
        echo "install-test-deps: warning: no docker CLI on PATH; the compat tests need it" >&2
    fi
fi

echo "install-test-deps: ok" >&2
