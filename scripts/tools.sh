#!/usr/bin/env bash
# Tools the test suite uses besides Docker: Debian's docker-registry (the distribution
# registry), which the registry tests start on 127.0.0.1. Installed as root when missing.
set -euo pipefail
# curl: the benchmark's raw floor polls the app with it (bench/floor.py)
if ! command -v curl >/dev/null 2>&1; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "tools: curl is missing; install Debian's curl package" >&2
		exit 1
	fi
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null
fi
if command -v docker-registry >/dev/null 2>&1; then
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "tools: docker-registry is missing; install Debian's docker-registry package" >&2
	exit 1
fi
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
