#!/usr/bin/env bash
# Make sure a Docker engine answers, starting a local dockerd if we are root.
#
# Idempotent: when `docker info` already answers (DOCKER_HOST is honoured by
# the docker CLI itself) this is a silent no-op. Exit codes: 0 engine up,
# 3 no engine and we cannot (or failed to) start one.
set -euo pipefail

# ENGINE_UP_ROOT: a directory every file below is read and written under instead of /
# (tests/integration/test_engine_gc.py runs this script there with a stand-in dockerd).
readonly ROOT=${ENGINE_UP_ROOT:-}
readonly DOCKERD_LOG=$ROOT/var/log/docker-lab-grader-dockerd.log
readonly APT_LOG=$ROOT/var/log/docker-lab-grader-apt.log
readonly OUR_PIDFILE=$ROOT/run/docker-lab-grader-dockerd.pid
readonly DOCKERD_PIDFILE=$ROOT/var/run/docker.pid
readonly DEFAULT_SOCK=unix:///var/run/docker.sock
readonly WAIT_SECONDS=60

die() {
	echo "engine-up: $*" >&2
	exit 3
}

engine_answers() {
	docker info >/dev/null 2>&1
}

# True if $1 is a live dockerd (checked via /proc so pid reuse by an
# unrelated process is not mistaken for a running daemon).
is_live_dockerd() {
	local pid=$1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/comm ]] || return 1
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]
}

# Poll with short, growing sleeps: most starts take ~1-2 s, so start fast,
# but do not hammer the socket for a full minute on a slow machine.
wait_for_engine() {
	local pid=$1 delay=0.1 deadline=$((SECONDS + WAIT_SECONDS))
	while ((SECONDS < deadline)); do
		engine_answers && return 0
		# A daemon that already died will never answer; fail fast.
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep "$delay"
		case $delay in
		0.1) delay=0.2 ;;
		0.2) delay=0.5 ;;
		0.5) delay=1 ;;
		*) delay=2 ;;
		esac
	done
	engine_answers
}

fail_with_log() {
	echo "engine-up: $1; last lines of $DOCKERD_LOG:" >&2
	tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
	exit 3
}

if engine_answers; then
	exit 0
fi

if ((EUID != 0)); then
	echo "no Docker engine: start Docker or run make grade as root" >&2
	exit 3
fi

# A local dockerd only helps when the CLI talks to the local default socket;
# for a remote/non-default DOCKER_HOST starting one here would be pointless.
if [[ -n ${DOCKER_HOST:-} && ${DOCKER_HOST} != "$DEFAULT_SOCK" ]]; then
	die "DOCKER_HOST=$DOCKER_HOST does not answer (not starting a local dockerd for it)"
fi

# A daemon we (or a concurrent run) started earlier may still be booting:
# wait for it instead of launching a second one that would fight over
# /var/lib/docker.
for pidfile in "$OUR_PIDFILE" "$DOCKERD_PIDFILE"; do
	if [[ -r $pidfile ]]; then
		pid=$(<"$pidfile")
		if is_live_dockerd "$pid"; then
			wait_for_engine "$pid" && exit 0
			fail_with_log "dockerd (pid $pid) is running but did not answer within ${WAIT_SECONDS}s"
		fi
	fi
done

# The engine students use: Docker >= 23, where `docker build` is BuildKit. Bookworm's own
# docker.io is 20.10 (classic builder), so the set-up takes Engine 26 with its CLI and the
# buildx plugin from Debian's next release, pinned low (priority 100) and named per package
# (`pkg/trixie`): everything they depend on still comes from bookworm, libc included.
readonly NEXT_SUITE=trixie
readonly NEXT_SOURCES=/etc/apt/sources.list.d/docker-lab-grader-$NEXT_SUITE.sources
readonly NEXT_PIN=/etc/apt/preferences.d/docker-lab-grader-$NEXT_SUITE

modern_engine_installed() {
	command -v dockerd >/dev/null 2>&1 || return 1
	local major
	major=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
	[[ -n $major ]] && ((major >= 23)) || return 1
	docker buildx version >/dev/null 2>&1
}

install_modern_engine() {
	local mirror=http://deb.debian.org/debian keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	cat >"$NEXT_SOURCES" <<EOF_SOURCES
Types: deb
URIs: $mirror
Suites: $NEXT_SUITE
Components: main
Signed-By: $keyring
EOF_SOURCES
	cat >"$NEXT_PIN" <<EOF_PIN
# docker-lab-grader: only the packages asked for by name (pkg/$NEXT_SUITE) come from $NEXT_SUITE.
Package: *
Pin: release n=$NEXT_SUITE
Pin-Priority: 100
EOF_PIN
	apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"docker.io/$NEXT_SUITE" "docker-cli/$NEXT_SUITE" "docker-buildx/$NEXT_SUITE"
}

if ! modern_engine_installed; then
	echo "engine-up: installing Docker Engine 26 with buildx from Debian $NEXT_SUITE (log: $APT_LOG)" >&2
	if ! install_modern_engine >"$APT_LOG" 2>&1; then
		tail -n 20 "$APT_LOG" >&2 || true
		command -v dockerd >/dev/null 2>&1 || die "installing docker.io failed"
		echo "engine-up: keeping the engine already installed (classic builder only)" >&2
	fi
fi

# dockerd refuses to start while /var/run/docker.pid names a live process.
# After a crash or VM restore the file survives although the daemon is gone;
# the live-dockerd case was handled above, so anything left is stale (either
# dead, or the pid now belongs to an unrelated process).
if [[ -e $DOCKERD_PIDFILE ]]; then
	pid=$(<"$DOCKERD_PIDFILE") || pid=
	if ! is_live_dockerd "$pid"; then
		rm -f "$DOCKERD_PIDFILE"
	fi
fi

# The build cache's bounds (scripts/dockerd.json, docs/instructor.md "Build cache"): Engine 26
# collects nothing unless told to, and a grading engine makes thousands of one-off records
# (each student's layers), unbounded otherwise. A machine's own
# /etc/docker/daemon.json, when there is one, is used as it is.
readonly SYSTEM_CONFIG=$ROOT/etc/docker/daemon.json
readonly OUR_CONFIG=$ROOT/run/docker-lab-grader-dockerd.json # a copy: this clone may go, dockerd stays
config_args=()
if [[ ! -e $SYSTEM_CONFIG ]]; then
	cp "$(dirname "${BASH_SOURCE[0]}")/dockerd.json" "$OUR_CONFIG"
	if dockerd --validate --config-file "$OUR_CONFIG" >/dev/null 2>&1; then
		config_args=(--config-file "$OUR_CONFIG")
	fi
fi

# setsid + nohup + all fds redirected: the daemon gets its own session, so
# neither the end of this script nor Ctrl-C / hang-up of the calling make
# reaches it, and it holds no pipe open that a caller might wait on.
# (No job control in a script, so setsid does not fork and $! is dockerd.)
setsid nohup dockerd "${config_args[@]}" >"$DOCKERD_LOG" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$OUR_PIDFILE"
echo "engine-up: started dockerd (pid $pid, log $DOCKERD_LOG)" >&2

wait_for_engine "$pid" || fail_with_log "dockerd did not come up within ${WAIT_SECONDS}s"
