#!/usr/bin/env bash
# Installs the Debian packages the tests use as real peers, when they are missing:
#   socat            pseudo-terminal pairs (Modbus RTU) and a datagram listener (systemd notify)
#   python3-pymodbus an independent Modbus implementation (Debian's /usr/bin/python3); its server
#                    imports serial_asyncio, which Debian only recommends: python3-serial-asyncio
#   mosquitto        a real MQTT broker
#   libsystemd-dev   headers for the sd-notify addon (built by npm ci; optional at run time)
#   openssl          a test CA and certificates for MQTT over TLS
#   systemd          systemd-analyze, to verify and score the unit in deploy/
#   prometheus       a real Prometheus server that scrapes the daemon's /metrics
#   fakeroot lintian build the .deb as root-owned files and check it as Debian does
#   chromium         a real browser (headless) for the web console's tests, driven by playwright-core
# Runs before `npm test` (pretest) and first in .ci/run. Does nothing when all are present.
set -euo pipefail
missing=()
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
/usr/bin/python3 -c 'import pymodbus' >/dev/null 2>&1 || missing+=(python3-pymodbus)
/usr/bin/python3 -c 'import serial_asyncio' >/dev/null 2>&1 || missing+=(python3-serial-asyncio)
[ -f /usr/include/systemd/sd-daemon.h ] || missing+=(libsystemd-dev)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || missing+=(prometheus)
command -v fakeroot >/dev/null 2>&1 || missing+=(fakeroot)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "test setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
  echo "test setup: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
