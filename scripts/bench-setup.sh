#!/bin/sh
# Installs what `make bench` needs beyond Go: Prometheus Alertmanager (Debian's
# prometheus-alertmanager), the peer the storm benchmark (integration/storm_bench_test.go)
# is measured against. Does nothing when the binary is already there.
set -eu
AM=${MAHAVISHNU_BENCH_ALERTMANAGER:-/usr/bin/prometheus-alertmanager}
if [ -x "$AM" ]; then
	exit 0
fi
echo "bench-setup: $AM missing, installing prometheus-alertmanager" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
$SUDO apt-get update
# The package's postinst starts a system service on :9093; the benchmark runs its own
# instance on free loopback ports, so policy-rc.d keeps the service from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod +x /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y prometheus-alertmanager
"$AM" --version >&2
