#!/usr/bin/env bash
# Make sure the base images used by the bundled submissions and tests exist
# in the local Docker engine.
#
#   scripts/base-images.sh [TAG...]
#       (default: python:3.11-slim python:3.7-alpine python:latest node:18 node:18-slim;
#        python:latest is only for tp6-unpinned-base, the dockerfile.pinned_base example)
#
# Per tag: already present -> skip; else `docker pull` (real image, wherever a
# registry is reachable); else build an offline STAND-IN from Debian packages
# with debootstrap. Stand-ins carry the label org.docker-lab-grader.stand-in=true
# so nobody mistakes them for the official images.
# One line per tag on stdout; progress and timings go to stderr.
set -euo pipefail
shopt -s inherit_errexit

readonly DEFAULT_TAGS=(python:3.11-slim python:3.7-alpine python:latest node:18 node:18-slim)
readonly CACHE_DIR=/var/cache/docker-lab-grader
readonly SUITE=bookworm
readonly FALLBACK_MIRROR=http://deb.debian.org/debian
readonly HOST_CA=/etc/ssl/certs/ca-certificates.crt
readonly DEBOOTSTRAP_LOG=/var/log/docker-lab-grader-debootstrap.log
readonly STANDIN_PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
# Bump when a rootfs recipe changes, so an old cached tarball is not reused.
readonly PY_RECIPE=v1
readonly NODE_RECIPE=v2 # v2: /usr/local/bin/docker-entrypoint.sh
# Debian's own `npm` package fails to configure inside debootstrap, so the
# node stand-in gets npm from the npm registry's tarball, checked against the
# registry's published integrity (sha512, here in hex).
readonly NPM_VERSION=10.8.2
readonly NPM_TARBALL_URL=https://registry.npmjs.org/npm/-/npm-$NPM_VERSION.tgz
readonly NPM_SHA512=c7f0088c520a46596b85c6f8f1da943400199748a0f7ea8cb8df75469668dc26f6fb3ba26df87e2884a5ebe91557292d0f3db7d0929cdb4f14910c3032ac81fb
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR

WORK=''            # our mktemp -d; the only directory this script deletes
declare -A ROOTFS_TARS=() # family -> rootfs tarball, resolved once per run
ROOTFS_TAR=''      # result of rootfs_tar
IMPORTED_ID=''     # result of import_rootfs
TMP_CONTAINERS=()  # removed by id on exit
TMP_IMAGES=()      # untagged intermediates, removed by id on failure

log() { echo "base-images: $*" >&2; }
die() {
	log "$*"
	exit 1
}

cleanup() {
	local rc=$? c i mnt
	for c in "${TMP_CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
	if ((rc != 0)); then
		for i in "${TMP_IMAGES[@]}"; do docker rmi "$i" >/dev/null 2>&1 || true; done
	fi
	if [[ -n $WORK && -d $WORK ]]; then
		# An interrupted debootstrap can leave /proc, /sys or a /dev bind mount
		# inside the target; unmount (deepest first) so rm cannot reach the host.
		while read -r mnt; do
			umount -l "$mnt" 2>/dev/null || true
		done < <(awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
		rm -rf --one-file-system -- "$WORK"
	fi
	return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

workdir() {
	# /var/tmp, not $TMPDIR: debootstrap needs a disk filesystem that allows
	# device nodes and exec, which a tmpfs /tmp often does not.
	[[ -n $WORK ]] || WORK=$(mktemp -d /var/tmp/docker-lab-grader.XXXXXXXX)
}

# The machine's own Debian mirror (it may be a local mirror or snapshot), so
# the stand-in is built from the same place apt already uses here.
apt_source_uris() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
	if [[ -r /etc/apt/sources.list ]]; then
		# deb [opts] URI suite components
		sed -E -n 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' /etc/apt/sources.list
	fi
}

debian_mirror() {
	local uri
	while read -r uri; do
		# The main archive only: not debian-security, -ports, -debug, ...
		if [[ $uri =~ ^https?://[^[:space:]]+/debian(/[0-9]{8}T[0-9]{6}Z)?/?$ ]]; then
			echo "${uri%/}"
			return 0
		fi
	done < <(apt_source_uris)
	echo "$FALLBACK_MIRROR"
}

elapsed() { echo "$((SECONDS - $1))s"; }

# Build (or reuse from cache) the Debian rootfs shared by all tags of one
# image family; sets ROOTFS_TAR.
#   rootfs_tar FAMILY RECIPE PACKAGES CUSTOMIZE
# PACKAGES is debootstrap's comma-separated --include list; CUSTOMIZE is a
# function called with the rootfs directory before it is packed.
# Cached as a tarball so re-provisioning after `docker rmi` takes seconds; the
# name includes a hash of the host CA bundle so a changed TLS-intercepting CA
# triggers a rebuild.
rootfs_tar() {
	local family=$1 recipe=$2 packages=$3 customize=$4
	local ca_hash cached dir mirror t0
	if [[ -n ${ROOTFS_TARS[$family]:-} ]]; then
		ROOTFS_TAR=${ROOTFS_TARS[$family]}
		return 0
	fi
	[[ -r $HOST_CA ]] || die "missing $HOST_CA (needed inside the image for TLS)"
	ca_hash=$(sha256sum "$HOST_CA" | cut -c1-12)
	cached="$CACHE_DIR/$family-$SUITE-$recipe-$ca_hash.tar"
	if [[ -s $cached ]]; then
		log "using cached rootfs $cached"
		ROOTFS_TARS[$family]=$cached
		ROOTFS_TAR=$cached
		return 0
	fi

	((EUID == 0)) || die "building a stand-in needs root (debootstrap); run as root"
	if ! command -v debootstrap >/dev/null; then
		# a fresh Debian machine has no debootstrap: install it (we are root here)
		log "installing debootstrap"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } \
			>>"$DEBOOTSTRAP_LOG" 2>&1 || die "could not install debootstrap (log: $DEBOOTSTRAP_LOG)"
	fi
	workdir
	dir="$WORK/$family-rootfs"
	mirror=$(debian_mirror)
	log "$family: debootstrap $SUITE from $mirror (log: $DEBOOTSTRAP_LOG) ..."
	t0=$SECONDS
	if ! debootstrap --variant=minbase --include="$packages" \
		"$SUITE" "$dir" "$mirror" >"$DEBOOTSTRAP_LOG" 2>&1; then
		tail -n 20 "$DEBOOTSTRAP_LOG" >&2 || true
		die "debootstrap failed"
	fi
	log "$family: debootstrap done in $(elapsed "$t0")"

	# TLS is intercepted here: pip/npm inside builds must trust the host's CA.
	install -m 644 "$HOST_CA" "$dir/etc/ssl/certs/ca-certificates.crt"
	"$customize" "$dir"
	# Keep it small and free of this host's details (docker mounts its own
	# resolv.conf/hostname at run time).
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
		"$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log
	: >"$dir/etc/resolv.conf"
	echo localhost >"$dir/etc/hostname"

	t0=$SECONDS
	mkdir -p "$CACHE_DIR"
	# Write then rename, so an interrupted run never leaves a truncated cache.
	tar --numeric-owner -C "$dir" -cf "$cached.part.$$" .
	mv -f "$cached.part.$$" "$cached"
	# Older recipes / CA bundles are superseded; they are our own files.
	find "$CACHE_DIR" -maxdepth 1 -name "$family-$SUITE-*.tar" ! -path "$cached" -delete
	rm -rf --one-file-system -- "$dir"
	log "$family: cached rootfs $cached ($(du -h "$cached" | cut -f1)) in $(elapsed "$t0")"
	ROOTFS_TARS[$family]=$cached
	ROOTFS_TAR=$cached
}

customize_python() {
	local dir=$1
	# PEP 668 marker would make `pip install` fail system-wide, unlike the
	# official image whose Python lives in /usr/local.
	rm -f "$dir"/usr/lib/python3*/EXTERNALLY-MANAGED
	# Official images have python/pip on PATH under these names.
	ln -sf /usr/bin/python3 "$dir/usr/local/bin/python"
	ln -sf /usr/bin/pip3 "$dir/usr/local/bin/pip"
}

customize_node() {
	local dir=$1 tgz npm_dir
	workdir
	tgz="$WORK/npm-$NPM_VERSION.tgz"
	log "node: fetching npm $NPM_VERSION from the npm registry ..."
	curl -fsSL --retry 3 --cacert "$HOST_CA" -o "$tgz" "$NPM_TARBALL_URL" ||
		die "cannot download $NPM_TARBALL_URL"
	[[ $(sha512sum "$tgz" | cut -d' ' -f1) == "$NPM_SHA512" ]] ||
		die "npm-$NPM_VERSION.tgz: sha512 mismatch with the registry's integrity"
	# Same layout as the official image: npm under /usr/local, bin symlinks.
	npm_dir="$dir/usr/local/lib/node_modules/npm"
	mkdir -p "$npm_dir"
	tar -xzf "$tgz" -C "$npm_dir" --strip-components=1 --no-same-owner --no-same-permissions
	chmod 755 "$npm_dir/bin/npm-cli.js" "$npm_dir/bin/npx-cli.js"
	ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
	ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
	# The official image's unprivileged user, so `USER node` works.
	chroot "$dir" groupadd --gid 1000 node
	chroot "$dir" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
	# The official image's ENTRYPOINT (set at import), so `CMD ["index.js"]`
	# and `docker run node:18 -e ...` run node as they do there.
	write_node_entrypoint "$dir/usr/local/bin/docker-entrypoint.sh"
}

# The official node image's docker-entrypoint.sh, verbatim.
write_node_entrypoint() {
	local path=$1
	cat >"$path" <<'EOF'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
EOF
	chmod 755 "$path"
}

# Import the cached rootfs as an (untagged) image for TAG; sets IMPORTED_ID.
#   import_rootfs TAR TAG CMD [EXTRA_CHANGE...]   (each e.g. 'ENV K=V')
# The note label is quoted: unquoted spaces in a LABEL --change are a syntax
# error for the daemon.
import_rootfs() {
	local tar=$1 tag=$2 cmd=$3 change
	local -a extra=()
	for change in "${@:4}"; do extra+=(-c "$change"); done
	IMPORTED_ID=$(docker import \
		-c "ENV PATH=$STANDIN_PATH" \
		-c 'ENV LANG=C.UTF-8' \
		"${extra[@]}" \
		-c "CMD $cmd" \
		-c 'LABEL org.docker-lab-grader.stand-in=true' \
		-c "LABEL org.docker-lab-grader.stand-in.for=$tag" \
		-c "LABEL org.docker-lab-grader.stand-in.note=\"offline stand-in built by scripts/base-images.sh from Debian $SUITE; not the official image\"" \
		- <"$tar")
	TMP_IMAGES+=("$IMPORTED_ID")
}

# Alpine images have BusyBox adduser; add a compatible one as a tiny layer.
# create+cp+commit rather than `docker build`: needs no builder/BuildKit and
# never tries to pull. The container is never started.
add_busybox_adduser() {
	local base=$1 tag=$2 cid
	cid=$(docker create "$base")
	TMP_CONTAINERS+=("$cid")
	docker cp "$SCRIPT_DIR/standin/adduser" "$cid:/usr/local/sbin/adduser"
	docker commit -m "BusyBox-compatible adduser (scripts/standin/adduser)" \
		-c 'LABEL org.docker-lab-grader.stand-in.adduser=busybox-compatible' \
		"$cid" "$tag" >/dev/null
	docker rm "$cid" >/dev/null
}

standin_python() {
	local tag=$1 t0
	rootfs_tar python "$PY_RECIPE" python3,python3-pip,python3-venv,ca-certificates customize_python
	t0=$SECONDS
	import_rootfs "$ROOTFS_TAR" "$tag" '["python3"]'
	if [[ $tag == *-alpine* ]]; then
		add_busybox_adduser "$IMPORTED_ID" "$tag"
	else
		docker tag "$IMPORTED_ID" "$tag"
	fi
	TMP_IMAGES=() # now owned by $tag; must survive a later failure
	log "$tag: imported in $(elapsed "$t0")"
}

# Debian bookworm's nodejs is 18.x, so every node:* tag gets node 18 (the
# labels say so); npm is the registry's $NPM_VERSION, as in node:18 images.
standin_node() {
	local tag=$1 t0
	[[ $tag == node:18 || $tag == node:18[.-]* ]] ||
		log "$tag: note: the stand-in has Debian's node 18, not what this tag names"
	rootfs_tar node "$NODE_RECIPE" nodejs,ca-certificates customize_node
	t0=$SECONDS
	# ENTRYPOINT before CMD: the daemon resets CMD when ENTRYPOINT is set.
	import_rootfs "$ROOTFS_TAR" "$tag" '["node"]' \
		"ENV NODE_EXTRA_CA_CERTS=$HOST_CA" \
		'ENTRYPOINT ["docker-entrypoint.sh"]'
	docker tag "$IMPORTED_ID" "$tag"
	TMP_IMAGES=() # now owned by $tag; must survive a later failure
	log "$tag: imported in $(elapsed "$t0")"
}

# One function per image family.
build_standin() {
	local tag=$1
	case $tag in
	python:*) standin_python "$tag" ;;
	node:*) standin_node "$tag" ;;
	*) die "$tag: not present, cannot be pulled, and no offline stand-in exists for this image family" ;;
	esac
}

main() {
	local tag
	(($# > 0)) || set -- "${DEFAULT_TAGS[@]}"
	for tag in "$@"; do
		if docker image inspect "$tag" >/dev/null 2>&1; then
			echo "$tag: present"
		elif timeout 25 docker pull -q "$tag" >/dev/null 2>&1; then
			echo "$tag: pulled"
		else
			build_standin "$tag"
			echo "$tag: stand-in built (offline)"
		fi
	done
}

main "$@"
