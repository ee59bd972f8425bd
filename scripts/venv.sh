#!/usr/bin/env bash
# Create the project's virtualenv; on a bare Debian, python3 -m venv needs python3-venv first.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if ! "$python" -m venv "$venv" 2>/dev/null; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
		rm -rf "$venv"
		"$python" -m venv "$venv"
	else
		echo "venv: '$python -m venv' failed: install python3-venv" >&2
		exit 1
	fi
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
