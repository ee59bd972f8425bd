#!/usr/bin/env bash
# Tools the test suite uses besides Docker, installed from Debian's packages as root when
# missing: docker-registry (the distribution registry), which the registry tests start on
# 127.0.0.1; chromium, which the report tests render report.html and index.html with
# (headless); curl, which the benchmark's raw floor polls the app with (bench/floor.py);
# redis-server, the broker the queue tests start on 127.0.0.1 (grade --queue, grade-worker).
set -euo pipefail
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [[ ${#missing[@]} -eq 0 ]]; then
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "tools: missing ${missing[*]}; install Debian's packages: ${missing[*]}" >&2
	exit 1
fi
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
