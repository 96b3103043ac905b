#!/usr/bin/env bash
# Prepare a TEST machine: everything natprobe's tests, its lab and its benchmarks need, on a
# fresh Debian 12 machine, as root. Safe to run again: apt and pip skip what is already there.
# Not for installing natprobe to use it (README: Install, with pip or pipx): it installs
# system packages. It never stops, disables, masks or reconfigures a service it did not
# install itself in the same run (tests/test_setup_script.py runs it against stubs).
#
#   scripts/setup.sh          system packages + natprobe with its test dependencies in .venv
#   scripts/setup.sh --no-apt natprobe only (for a machine without root)
#
# natprobe goes into a virtual environment (.venv) because Debian's own Python refuses
# system-wide pip installs (PEP 668). Afterwards: .venv/bin/natprobe, .venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."
ETC="${NATPROBE_SETUP_ETC:-/etc}"  # tests point it at a scratch copy

# The NAT lab (namespaces, kernel NAT, captures); coturn (turnserver, turnutils_stunclient,
# turnutils_natdiscovery); the real Jamulus server and directory; nginx with TLS for a real
# virtual host behind a port forward; OpenSSH and Redis as real services an exposure scan
# meets; dnsmasq (the binary only, no service) as the lab's authoritative DNS server for
# name checks; gcc for the benchmark's load generator; systemd for systemd-analyze, which checks
# the unit `natprobe serve --systemd-unit` prints; miniupnpd (UPnP IGD, NAT-PMP, PCP) for the
# lab router, with upnpc and natpmpc as interop peers.
APT_PACKAGES=(
  python3 python3-venv python3-pip gcc
  iproute2 nftables conntrack ethtool iputils-ping tcpdump
  coturn
  jamulus
  nginx-light openssl
  openssh-server redis-server
  dnsmasq-base
  systemd
  miniupnpd-nftables miniupnpc natpmpc
  # the relay lab (#22): nginx's stream module (proxy_protocol); WireGuard is listed below (#20)
  libnginx-mod-stream
  wireguard-go wireguard-tools  # the silent UDP service natprobe check proves by arrival (#20)
  openvpn                       # a real OpenVPN server, with and without tls-auth, behind a lab forward (#20)
  chrony                        # chronyd as a real NTP server behind a lab forward (#20); its service never runs
  # The web checker's tests: a real browser (driven by Playwright from PyPI, never its own
  # download) and a font, so screenshots have glyphs.
  chromium fonts-dejavu-core
)

if [[ "${1:-}" != "--no-apt" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: system packages need root (or run with --no-apt)" >&2
    exit 2
  fi
  echo "setup: preparing a TEST machine (the NAT lab, interop peers, benchmarks). To use natprobe, or to" \
       "run its echo server, install it with pip or pipx instead (README: Install); this script is not needed." >&2
  export DEBIAN_FRONTEND=noninteractive
  missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  # Whatever ran on this machine before stays as it was: a service is stopped, disabled or
  # reconfigured only when this very run installed its package (the machine may be the
  # self-hoster's own server, running the nginx or the sshd natprobe's tests also use).
  installed_now() { [[ " ${missing[*]-} " == *" $1 "* ]]; }
  if installed_now miniupnpd-nftables; then
    # miniupnpd's service, if started, would run in the root namespace and write nftables
    # rules there. Its debconf default is already "do not start"; say so explicitly, and
    # mask the unit before the package exists so that nothing can start it.
    echo "miniupnpd miniupnpd/start_daemon boolean false" | debconf-set-selections
    if command -v systemctl >/dev/null 2>&1; then
      systemctl --root=/ mask miniupnpd.service >/dev/null 2>&1 || true
    fi
  fi
  if installed_now chrony; then
    # chronyd as a service would set this machine's clock from public NTP servers: the lab
    # runs its own chronyd in a namespace, by PID, with no upstream. Mask the unit first.
    if command -v systemctl >/dev/null 2>&1; then
      systemctl --root=/ mask chrony.service >/dev/null 2>&1 || true
    fi
  fi
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian starts coturn, nginx, sshd and Redis on install. natprobe's tests run their own
  # instances inside namespaces and on loopback; the ones this run installed are stopped and
  # kept from starting at boot so they do not hold ports like 3478.
  for pair in coturn:coturn nginx-light:nginx openssh-server:ssh redis-server:redis-server; do
    installed_now "${pair%%:*}" || continue
    service=${pair#*:}
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      systemctl disable --now --quiet "$service" 2>/dev/null || true
    else  # no systemd (a container): Debian's init scripts started them
      service "$service" stop >/dev/null 2>&1 || true
      update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
  done
  if installed_now miniupnpd-nftables; then
    # The lab tests start miniupnpd themselves, inside the router namespace, by PID. The
    # service this run installed must never run: stop it if something started it, then
    # disable and mask it (systemd and SysV alike).
    if command -v systemctl >/dev/null 2>&1; then
      systemctl stop miniupnpd.service >/dev/null 2>&1 || true
      systemctl --root=/ disable miniupnpd.service >/dev/null 2>&1 || true
      systemctl --root=/ mask miniupnpd.service >/dev/null 2>&1 || true
    fi
    # Its SysV script refuses to start unless START_DAEMON=1 (never run its "stop": that runs
    # the package's nftables clean-up scripts in the root namespace).
    if [[ -f "$ETC/default/miniupnpd" ]]; then
      sed -i 's/^START_DAEMON=.*/START_DAEMON=0/' "$ETC/default/miniupnpd"
    fi
    if [[ -x "$ETC/init.d/miniupnpd" ]] && command -v update-rc.d >/dev/null 2>&1; then
      update-rc.d miniupnpd disable >/dev/null 2>&1 || true
    fi
  fi
  if installed_now chrony; then
    # The chrony service this run installed must never run (the lab starts its own chronyd):
    # stop it if the package started it, then disable it (systemd and SysV alike).
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      systemctl stop chrony.service >/dev/null 2>&1 || true
      systemctl --root=/ disable chrony.service >/dev/null 2>&1 || true
    else
      service chrony stop >/dev/null 2>&1 || true
      update-rc.d chrony disable >/dev/null 2>&1 || true
    fi
  fi
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: natprobe needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 2
fi
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
# The server extra (the echo server's HTTP API) and the test tools; a client-only install is
# `pip install .` in a clone (natprobe is not on PyPI yet).
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[server,test]"
echo "setup: done: $(.venv/bin/natprobe --version 2>/dev/null || echo natprobe) in $(pwd)/.venv"
