#!/bin/sh
# `make install` / `make uninstall`: remediator as a systemd service, from this checkout.
#
#   sh packaging/install.sh install|uninstall
#
# Settings (environment; the Makefile passes its variables of the same names):
#   PYTHON   python3            the interpreter the venv is made from (3.11 or later)
#   PREFIX   /opt/remediator    the venv
#   BINDIR   /usr/local/bin     where the `remediator` symlink goes
#   UNITDIR  /etc/systemd/system
#   EXTRAS   (none)             pip extras, e.g. postgres for a PostgreSQL ledger
#   DESTDIR  (none)             stage everything under this directory instead of / (packaging,
#                               CI); the venv's scripts still name $PREFIX, where it will run
# The configuration lives in /etc/remediator, the unit's ConfigurationDirectory=.
#
# Idempotent: a second run changes nothing. It never replaces a file in /etc/remediator nor
# an edited unit; it reinstalls the code into the venv (an upgrade after a `git pull`).
# uninstall removes the venv, the symlink and the unit, and keeps /etc/remediator and the
# ledger in /var/lib/remediator.
set -eu

PYTHON=${PYTHON:-python3}
PREFIX=${PREFIX:-/opt/remediator}
BINDIR=${BINDIR:-/usr/local/bin}
UNITDIR=${UNITDIR:-/etc/systemd/system}
EXTRAS=${EXTRAS:-}
DESTDIR=${DESTDIR:-}
CONFDIR=/etc/remediator
UNIT=remediator.service
SHIPPED_PREFIX=/opt/remediator
PREFIX=${PREFIX%/} BINDIR=${BINDIR%/} UNITDIR=${UNITDIR%/} DESTDIR=${DESTDIR%/}
SRC=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

check_settings() {
	for path in "$PREFIX" "$BINDIR" "$UNITDIR"; do
		case $path in
		/*) ;;
		*) die "$path: PREFIX, BINDIR and UNITDIR are absolute paths" ;;
		esac
		# They go into sed expressions and the unit: keep them to plain path characters.
		case $path in
		*[!A-Za-z0-9._/+-]*) die "$path: only letters, digits and . _ / + - please" ;;
		esac
	done
	case $PREFIX in
	/ | /opt | /usr | /usr/local | /etc | /var | /home) die "PREFIX=$PREFIX: the venv needs a directory of its own" ;;
	esac
	case $EXTRAS in
	*[!A-Za-z0-9,_-]*) die "EXTRAS=$EXTRAS: extras names separated by commas, e.g. postgres" ;;
	esac
	case $DESTDIR in
	'' | /*) ;;
	*) die "DESTDIR=$DESTDIR: an absolute path, please" ;;
	esac
	if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
		die "run as root (or stage into a directory with DESTDIR=...)"
	fi
}

systemd_running() {
	# sd_booted(3): systemd is PID 1. Never with DESTDIR: that tree is not this system.
	[ -z "$DESTDIR" ] && [ -d /run/systemd/system ]
}

daemon_reload() {
	if systemd_running; then
		systemctl daemon-reload
		say "systemd: daemon-reload done"
	elif [ -n "$DESTDIR" ]; then
		say "systemd: not reloaded (staged under DESTDIR=$DESTDIR)"
	else
		say "systemd: not running here (a container?); 'systemctl daemon-reload' skipped"
	fi
}

# -- install ------------------------------------------------------------------------------

install_venv() {
	venv=$DESTDIR$PREFIX
	if [ ! -x "$venv/bin/python" ]; then
		"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
			die "$PYTHON is older than Python 3.11 (set PYTHON=python3.11 or later)"
		"$PYTHON" -m venv "$venv"
		say "venv: created $PREFIX"
	fi
	spec=$SRC
	[ -z "$EXTRAS" ] || spec="${SRC}[$EXTRAS]"
	# pip builds in the checkout: take away what it leaves there, unless it was there before.
	leftovers=
	for d in build remediator.egg-info; do
		[ -e "$SRC/$d" ] || leftovers="$leftovers $d"
	done
	# No bytecode from pip: its .pyc files carry the install time. compileall below rewrites
	# every one hash-checked, the same bytes on every run, so that nothing is left to write at
	# run time (ProtectSystem=strict forbids it).
	"$venv/bin/python" -m pip install --quiet --no-compile --disable-pip-version-check "$spec"
	for d in $leftovers; do
		rm -rf "${SRC:?}/$d"
	done
	if [ -n "$DESTDIR" ]; then
		relocate "$venv" "$PREFIX"
	fi
	# Staged, the bytecode names the sources where they will run (tracebacks), not the stage.
	set -- -q -f --invalidation-mode checked-hash
	[ -z "$DESTDIR" ] || set -- "$@" -s "$DESTDIR" -p /
	"$venv/bin/python" -m compileall "$@" "$venv/lib" >/dev/null
	home=$(sed -n 's/^home = //p' "$venv/pyvenv.cfg")
	case $home/ in
	/root/* | /home/* | /run/user/*)
		say "venv: WARNING: its Python is $home, which the unit's ProtectHome=yes hides from"
		say "      the service: it will not start. Reinstall from a system Python:"
		say "      make uninstall; make install PYTHON=/usr/bin/python3"
		;;
	esac
	say "venv: remediator $("$venv/bin/python" -c 'import remediator; print(remediator.__version__)') in $PREFIX${EXTRAS:+ (extras: $EXTRAS)}"
}

relocate() {
	# The staged venv's scripts name the staged path; they will run from $PREFIX.
	"$1/bin/python" - "$1" "$2" <<'EOF'
import pathlib
import sys

staged, final = sys.argv[1].encode(), sys.argv[2].encode()
root = pathlib.Path(sys.argv[1])
for path in [*sorted((root / "bin").iterdir()), root / "pyvenv.cfg"]:
    if path.is_symlink() or not path.is_file():
        continue
    data = path.read_bytes()
    if staged in data:
        path.write_bytes(data.replace(staged, final))
EOF
}

install_link() {
	link=$DESTDIR$BINDIR/remediator
	want=$PREFIX/bin/remediator
	if [ -L "$link" ] && [ "$(readlink "$link")" = "$want" ]; then
		return
	fi
	if [ -e "$link" ] || [ -L "$link" ]; then
		say "link: $BINDIR/remediator exists and is not a link to $want: left alone"
		return
	fi
	mkdir -p "$DESTDIR$BINDIR"
	ln -s "$want" "$link"
	say "link: $BINDIR/remediator -> $want"
}

install_file() { # SOURCE TARGET MODE: only where TARGET does not exist
	if [ -e "$2" ] || [ -L "$2" ]; then
		say "config: ${2#"$DESTDIR"} exists: kept"
		return
	fi
	cp "$1" "$2.tmp.$$"
	chmod "$3" "$2.tmp.$$"
	mv "$2.tmp.$$" "$2"
	say "config: ${2#"$DESTDIR"} installed"
}

install_config() {
	conf=$DESTDIR$CONFDIR
	if [ ! -d "$conf" ]; then
		mkdir -p "$conf"
		chmod 755 "$conf"
	fi
	install_file "$SRC/examples/remediator.yaml" "$conf/remediator.yaml" 644
	# The rules as a whole: a rules file removed on purpose must not come back on an upgrade.
	if [ -d "$conf/rules" ]; then
		say "config: $CONFDIR/rules/ exists: kept"
	else
		mkdir -p "$conf/rules.tmp.$$"
		for rules in "$SRC"/rules/*.yaml; do
			cp "$rules" "$conf/rules.tmp.$$/"
		done
		chmod 755 "$conf/rules.tmp.$$"
		chmod 644 "$conf/rules.tmp.$$"/*.yaml
		mv "$conf/rules.tmp.$$" "$conf/rules"
		say "config: $CONFDIR/rules/ installed"
	fi
	creds=$conf/credentials
	if [ ! -d "$creds" ]; then
		mkdir -m 700 "$creds"
		say "config: $CONFDIR/credentials/ created, mode 0700"
		return
	fi
	# shellcheck disable=SC2012 # one directory of ours: ls -ld is the portable way to its mode
	others=$(ls -ld "$creds" | cut -c5-10)
	if [ "$others" != "------" ]; then
		chmod go-rwx "$creds"
		say "config: $CONFDIR/credentials/ was open to others: now mode 0700"
	fi
}

install_unit() {
	unit=$DESTDIR$UNITDIR/$UNIT
	mkdir -p "$DESTDIR$UNITDIR"
	sed "s|$SHIPPED_PREFIX/|$PREFIX/|g" "$SRC/systemd/$UNIT" >"$unit.tmp.$$"
	chmod 644 "$unit.tmp.$$"
	if [ ! -e "$unit" ]; then
		mv "$unit.tmp.$$" "$unit"
		say "unit: $UNITDIR/$UNIT installed"
	elif cmp -s "$unit.tmp.$$" "$unit"; then
		rm -f "$unit.tmp.$$"
	else
		rm -f "$unit.tmp.$$"
		say "unit: $UNITDIR/$UNIT differs from systemd/$UNIT (edited?): kept;"
		say "      compare: diff -u $UNITDIR/$UNIT $SRC/systemd/$UNIT"
	fi
}

missing_credentials() {
	# The LoadCredential= files the installed unit names that do not exist yet.
	sed -n 's/^LoadCredential=[^:]*://p' "$DESTDIR$UNITDIR/$UNIT" | while read -r file; do
		[ -e "$DESTDIR$file" ] || printf ' %s' "$(basename "$file")"
	done
}

left_to_do() {
	run="$BINDIR/remediator"
	missing=$(missing_credentials)
	say ""
	say "Installed. Left to do (README, \"Install as a service\"):"
	say "  1. targets: paste your clusters into $CONFDIR/remediator.yaml in place of the"
	say "     examples ($run discover prints them), with their health blocks completed"
	say "  2. keys: the access key ID in $CONFDIR/env (NCLOUD_ACCESS_KEY=ncp_iam_...);"
	say "     secrets, one root-only file per LoadCredential= line of the unit, in"
	say "     $CONFDIR/credentials/${missing:+ (missing now:$missing)}"
	say "  3. check: sh -c 'set -a; . $CONFDIR/env; CREDENTIALS_DIRECTORY=$CONFDIR/credentials"
	say "              exec $run check -c $CONFDIR/remediator.yaml'"
	say "  4. enable: systemctl enable --now remediator && systemctl status remediator"
}

do_install() {
	umask 022 # the service's transient user reads the venv and the configuration
	install_venv
	install_link
	install_config
	install_unit
	daemon_reload
	left_to_do
}

# -- uninstall ----------------------------------------------------------------------------

do_uninstall() {
	unit=$DESTDIR$UNITDIR/$UNIT
	if systemd_running && [ -e "$unit" ]; then
		systemctl disable --now "$UNIT" || say "systemd: could not stop and disable $UNIT"
	fi
	wants=$DESTDIR$UNITDIR/multi-user.target.wants/$UNIT
	if [ -L "$wants" ]; then
		rm -f "$wants"
		say "unit: ${wants#"$DESTDIR"} removed"
	fi
	if [ -e "$unit" ]; then
		rm -f "$unit"
		say "unit: $UNITDIR/$UNIT removed"
	fi
	link=$DESTDIR$BINDIR/remediator
	if [ -L "$link" ] && [ "$(readlink "$link")" = "$PREFIX/bin/remediator" ]; then
		rm -f "$link"
		say "link: $BINDIR/remediator removed"
	fi
	venv=$DESTDIR$PREFIX
	if [ -f "$venv/pyvenv.cfg" ]; then
		rm -rf "$venv"
		say "venv: $PREFIX removed"
	elif [ -e "$venv" ]; then
		say "venv: $PREFIX is not a venv: left alone"
	fi
	daemon_reload
	say "Kept: $CONFDIR (configuration, rules, credentials) and /var/lib/remediator (the"
	say "ledger: cooldowns, budgets, history). Remove them by hand if you no longer need them."
}

check_settings
case ${1:-} in
install) do_install ;;
uninstall) do_uninstall ;;
*) die "usage: install.sh install|uninstall" ;;
esac
