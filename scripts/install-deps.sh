#!/usr/bin/env bash
# install-deps.sh prepares a Debian machine that has only Go for nuisance:
# it installs the PostgreSQL server binaries that `nuisance up` and the
# tests run their private cluster from, and optionally Chromium for the
# browser tests, promtool for the alert rules' tests and amtool for the
# Alertmanager configuration's. It is idempotent and never starts or stops
# the system's PostgreSQL, Prometheus or Alertmanager service.
#
# Usage: scripts/install-deps.sh [--chromium] [--promtool] [--amtool] [--dry-run]
#   --chromium  also install Chromium
#   --promtool  also install promtool: Debian's prometheus package of the
#               version pinned below, or, where the package lists offer
#               another, promtool built from the pinned Prometheus module
#               (several minutes)
#   --amtool    also install amtool: Debian's prometheus-alertmanager
#               package of the version pinned below, or, where the
#               package lists offer another, amtool built from the pinned
#               Alertmanager module
#   --dry-run   print what would be done, change nothing
set -euo pipefail

PG_MAJOR=15
# promtool's pinned versions: Debian 12's prometheus package, and the Go
# module it is built from where that package is not offered.
PROMTOOL_DEB_VERSION=2.42.0+ds-5+deb12u1
PROMTOOL_MODULE_VERSION=v0.316.0
# amtool's: Debian 12's prometheus-alertmanager package, and the module of
# the same release (the version compose's alertmanager image runs).
AMTOOL_DEB_VERSION=0.25.0-1+b4
AMTOOL_MODULE_VERSION=v0.25.0
# Where Debian installs one directory per PostgreSQL major version.
PG_LIBDIR=${NUISANCE_PG_LIBDIR:-/usr/lib/postgresql}
want_chromium=0
want_promtool=0
want_amtool=0
dry_run=0

usage() {
	sed -n '2,19s/^# \{0,1\}//p' "$0"
}

for arg in "$@"; do
	case "$arg" in
	--chromium) want_chromium=1 ;;
	--promtool) want_promtool=1 ;;
	--amtool) want_amtool=1 ;;
	--dry-run) dry_run=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "install-deps: unknown option $arg" >&2
		usage >&2
		exit 2
		;;
	esac
done

say() { echo "install-deps: $*"; }
die() {
	echo "install-deps: error: $*" >&2
	exit 1
}

# Run as root, through sudo when the caller is not root.
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	elif [ "$dry_run" -eq 0 ]; then
		die "run as root, or install sudo: installing packages needs root"
	fi
fi

run() {
	if [ "$dry_run" -eq 1 ]; then
		say "would run: ${SUDO[*]:+${SUDO[*]} }$*"
		return 0
	fi
	"${SUDO[@]}" "$@"
}

# has_server_binaries DIR: the same test as internal/pgcluster.FindBinaries.
has_server_binaries() {
	[ -n "$1" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]
}

# find_pg_bindir prints the directory of initdb, pg_ctl and postgres, in
# the order pgcluster looks for them, or fails.
find_pg_bindir() {
	local dir
	if [ -n "${PG_BINDIR:-}" ] && has_server_binaries "$PG_BINDIR"; then
		echo "$PG_BINDIR"
		return 0
	fi
	if command -v pg_config >/dev/null 2>&1; then
		dir=$(pg_config --bindir 2>/dev/null || true)
		if has_server_binaries "$dir"; then
			echo "$dir"
			return 0
		fi
	fi
	for dir in $(find "$PG_LIBDIR" -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V -r); do
		if has_server_binaries "$dir"; then
			echo "$dir"
			return 0
		fi
	done
	if command -v initdb >/dev/null 2>&1; then
		dir=$(dirname "$(readlink -f "$(command -v initdb)")")
		if has_server_binaries "$dir"; then
			echo "$dir"
			return 0
		fi
	fi
	return 1
}

command -v apt-get >/dev/null 2>&1 || apt_missing=1

apt_updated=0
apt_update_once() {
	if [ "$apt_updated" -eq 0 ]; then
		say "updating the package lists"
		run env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
			die "apt-get update failed"
		apt_updated=1
	fi
}

# Forbid service starts while packages install, so the postgresql
# package's post-install does not start the system cluster, and put back
# whatever policy was there before, on every exit path.
POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED=""
policy_installed=0
forbid_service_starts() {
	[ "$policy_installed" -eq 1 ] && return 0
	if [ "$dry_run" -eq 1 ]; then
		say "would forbid service starts with $POLICY during the install"
		policy_installed=1
		return 0
	fi
	if [ -e "$POLICY" ]; then
		POLICY_SAVED=$(mktemp)
		"${SUDO[@]}" cp -p "$POLICY" "$POLICY_SAVED"
	fi
	printf '#!/bin/sh\n# Written by nuisance scripts/install-deps.sh during an install.\nexit 101\n' |
		"${SUDO[@]}" tee "$POLICY" >/dev/null
	"${SUDO[@]}" chmod 0755 "$POLICY"
	policy_installed=1
	trap restore_policy EXIT
	trap 'exit 130' INT TERM
}
restore_policy() {
	[ "$policy_installed" -eq 1 ] && [ "$dry_run" -eq 0 ] || return 0
	if [ -n "$POLICY_SAVED" ]; then
		"${SUDO[@]}" cp -p "$POLICY_SAVED" "$POLICY"
		"${SUDO[@]}" rm -f "$POLICY_SAVED"
	else
		"${SUDO[@]}" rm -f "$POLICY"
	fi
	policy_installed=0
}

apt_install() {
	[ -z "${apt_missing:-}" ] || die "apt-get not found: install $* by hand (this script supports Debian and Ubuntu)"
	apt_update_once
	forbid_service_starts
	say "installing $*"
	run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" ||
		die "apt-get install $* failed"
}

# candidate_version NAME: the version of NAME the package lists offer,
# "(none)" or empty when they offer none.
candidate_version() {
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'
}

# package_available NAME: whether the package lists offer NAME.
package_available() {
	local candidate
	candidate=$(candidate_version "$1")
	[ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

did=()

# PostgreSQL server binaries.
if bindir=$(find_pg_bindir); then
	say "PostgreSQL server binaries found in $bindir; nothing to install"
else
	[ -z "${apt_missing:-}" ] || die "no PostgreSQL server binaries and no apt-get: install PostgreSQL $PG_MAJOR and set PG_BINDIR"
	apt_update_once
	if package_available "postgresql-$PG_MAJOR"; then
		apt_install "postgresql-$PG_MAJOR"
	else
		say "postgresql-$PG_MAJOR is not offered; installing the distribution's postgresql"
		apt_install postgresql
	fi
	if [ "$dry_run" -eq 0 ]; then
		bindir=$(find_pg_bindir) || die "PostgreSQL was installed but initdb, pg_ctl and postgres are still not found"
		say "PostgreSQL server binaries installed in $bindir"
	fi
	did+=("installed PostgreSQL")
fi

# useradd, to create the unprivileged user the private cluster runs as
# when there is no postgres user.
if ! command -v useradd >/dev/null 2>&1 && ! getent passwd postgres >/dev/null 2>&1; then
	apt_update_once
	apt_install passwd
	did+=("installed passwd (useradd)")
fi

if [ "$want_chromium" -eq 1 ]; then
	if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
		say "Chromium found; nothing to install"
	else
		apt_update_once
		apt_install chromium
		did+=("installed Chromium")
	fi
	# The console and the report are in Chinese: without a CJK font their
	# screenshots show empty boxes.
	if dpkg -s fonts-wqy-zenhei >/dev/null 2>&1; then
		say "a Chinese font (fonts-wqy-zenhei) found; nothing to install"
	else
		apt_update_once
		apt_install fonts-wqy-zenhei
		did+=("installed fonts-wqy-zenhei")
	fi
fi

# install_pinned PACKAGE DEB_VERSION MODULE_VERSION SPEC...: each SPEC is
# "NAMES=PACKAGE_PATH", the command (any of the |-separated NAMES) and the
# Go package it is built from. Installs Debian's PACKAGE at DEB_VERSION
# when a command is missing, or, where the package lists offer another
# version, builds every missing command from the Go module proxy at
# MODULE_VERSION.
install_pinned() {
	local pkg=$1 deb_version=$2 module_version=$3
	shift 3
	local missing=() spec alts name found
	for spec in "$@"; do
		found=0
		IFS='|' read -ra alts <<<"${spec%%=*}"
		for name in "${alts[@]}"; do
			if command -v "$name" >/dev/null 2>&1; then found=1; fi
		done
		[ "$found" -eq 1 ] || missing+=("$spec")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "${pkg}'s commands found; nothing to install"
		return
	fi
	apt_update_once
	if [ "$(candidate_version "$pkg")" = "$deb_version" ]; then
		apt_install "$pkg=$deb_version"
		did+=("installed $pkg $deb_version")
		return
	fi
	say "$pkg $deb_version is not offered: building from the Go module proxy at $module_version"
	for spec in "${missing[@]}"; do
		run env GOBIN=/usr/local/bin GOFLAGS=-mod=mod go install "${spec#*=}@$module_version" ||
			die "go install ${spec#*=}@$module_version failed"
		did+=("built ${spec#*=} $module_version")
	done
}

if [ "$want_promtool" -eq 1 ]; then
	install_pinned prometheus "$PROMTOOL_DEB_VERSION" "$PROMTOOL_MODULE_VERSION" \
		"promtool=github.com/prometheus/prometheus/cmd/promtool"
fi

# amtool, and the Alertmanager the tests run (Debian names it
# prometheus-alertmanager).
if [ "$want_amtool" -eq 1 ]; then
	install_pinned prometheus-alertmanager "$AMTOOL_DEB_VERSION" "$AMTOOL_MODULE_VERSION" \
		"amtool=github.com/prometheus/alertmanager/cmd/amtool" \
		"alertmanager|prometheus-alertmanager=github.com/prometheus/alertmanager/cmd/alertmanager"
fi

restore_policy

if [ "${#did[@]}" -eq 0 ]; then
	say "done: everything was already installed"
elif [ "$dry_run" -eq 1 ]; then
	say "dry run done, nothing changed; would have: ${did[*]}"
else
	say "done: ${did[*]}"
fi
