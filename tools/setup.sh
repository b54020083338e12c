#!/usr/bin/env bash
# Install what `make demo` and `make test` need, and start PostgreSQL when no server answers.
# Idempotent: a second run only checks. Settings (environment):
#   ODOO_SERIES   18 (default) or 19: the Odoo series to install and test against
#   PYTHON        the Python to use; default python3 for 18, for 19 the virtual environment
#                 ODOO_VENV (created with `python3 -m venv`), so that 18 and 19 share no packages
#   ODOO_VENV     the virtual environment of Odoo 19 (default ~/.cache/mail_crm_link/venv-19)
#   ODOO18_SOURCE / ODOO19_SOURCE (or ODOO_SOURCE for the series selected)
#                 a local Odoo source tree or archive (.tar.gz/.zip) of that series, used when
#                 `import odoo` fails; without it, the series' branch is cloned from upstream
#                 into ODOO_HOME
#   ODOO_HOME     where Odoo is unpacked or cloned (default ~/.cache/mail_crm_link/odoo-<series>)
#   PGHOST PGPORT PGUSER   an existing PostgreSQL server to use
#   MCL_REALMAIL  a folder holding the real-world mail corpus of the tests; without it (and
#                 without ~/.cache/mail_crm_link/realmail) it is fetched from its repositories
set -euo pipefail
cd "$(dirname "$0")/.."
case "${ODOO_SERIES:-18}" in
  18 | 18.0) SERIES=18.0 ;;
  19 | 19.0) SERIES=19.0 ;;
  *) printf '[setup] ODOO_SERIES=%s: 18 or 19\n' "$ODOO_SERIES" >&2; exit 2 ;;
esac
CACHE_HOME=$HOME/.cache/mail_crm_link
if [ "$SERIES" = 18.0 ]; then
  PYTHON=${PYTHON:-python3}
  ODOO_SOURCE=${ODOO18_SOURCE:-${ODOO_SOURCE:-}}
else
  ODOO_VENV=${ODOO_VENV:-$CACHE_HOME/venv-19}
  PYTHON=${PYTHON:-$ODOO_VENV/bin/python}
  ODOO_SOURCE=${ODOO19_SOURCE:-${ODOO_SOURCE:-}}
fi
ODOO_HOME=${ODOO_HOME:-$CACHE_HOME/odoo-$SERIES}
ODOO_UPSTREAM=${ODOO_UPSTREAM:-https://github.com/odoo/odoo.git}
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }

# -- Debian packages: Dovecot (IMAP/POP3), Chromium (tours), headers for python-ldap ---------
need_pkgs=()
command -v dovecot >/dev/null || need_pkgs+=(dovecot-imapd dovecot-pop3d)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need_pkgs+=(chromium)
command -v pg_ctlcluster >/dev/null || command -v pg_ctl >/dev/null \
  || command -v pg_isready >/dev/null || need_pkgs+=(postgresql)
if ! "$PYTHON" -c "import odoo" 2>/dev/null && ! [ -e /usr/include/ldap.h ]; then
  need_pkgs+=(libldap2-dev libsasl2-dev)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if is_root && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${need_pkgs[*]}"
    apt-get update -qq && apt_updated=1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    say "missing system packages (install them as root): ${need_pkgs[*]}"
  fi
fi

# -- Cyrus, Courier and GNU Mailutils IMAP for the interop tests: unpacked, never installed -----
# Cyrus and Courier conflict with Dovecot (all three provide imap-server: installing one removes
# dovecot-imapd), so their Debian packages and the libraries missing here are downloaded and
# unpacked into a private folder; the tests run them from there (tests/cyrus.py, courier.py).
# Mailutils' imap4d is unpacked the same way, so that none of them is a system service
# (tests/mailutils.py).
IMAP_SERVERS=${MCL_IMAP_SERVERS:-$HOME/.cache/mail_crm_link/imap-servers}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
lib_deps() {  # the library packages the given packages need and this machine lacks
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "$@" 2>/dev/null | awk '$1 ~ /Depends:$/ && $2 ~ /^lib/ {print $2}' \
    | sort -u | while read -r dep; do installed "$dep" || echo "$dep"; done
}
unpack_imap_server() {  # name, check-binaries (relative, space-separated), packages...
  local name=$1 checks=$2 dest=$IMAP_SERVERS/$1
  shift 2
  [ -e "$dest/.complete" ] && return 0
  if ! is_root || ! command -v apt-get >/dev/null; then
    say "the $name IMAP server is not unpacked in $dest (run this setup as root on Debian)"
    return 0
  fi
  say "unpacking the $name IMAP server (Debian packages, not installed) into $dest"
  [ -n "${apt_updated:-}" ] || { apt-get update -qq && apt_updated=1; }
  local pkgs=("$@") more
  for _ in 1 2 3; do  # libraries of libraries, a few levels deep
    mapfile -t more < <(lib_deps "${pkgs[@]}")
    local before=${#pkgs[@]}
    for dep in "${more[@]}"; do [[ " ${pkgs[*]} " == *" $dep "* ]] || pkgs+=("$dep"); done
    [ ${#pkgs[@]} = "$before" ] && break
  done
  local tmp && tmp=$(mktemp -d) && chown _apt "$tmp" 2>/dev/null || true
  (cd "$tmp" && apt-get download -qq "${pkgs[@]}" >/dev/null)
  rm -rf "$dest.new" && mkdir -p "$dest.new"
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dest.new"; done
  rm -rf "$tmp"
  # merged /usr: what a package still puts in /lib belongs where /usr/lib is searched
  [ -d "$dest.new/lib" ] && mkdir -p "$dest.new/usr/lib" && cp -a "$dest.new/lib/." "$dest.new/usr/lib/"
  local missing="" bin
  for bin in $checks; do
    missing+=$(LD_LIBRARY_PATH="$dest.new/usr/lib/x86_64-linux-gnu:$dest.new/usr/lib" \
      ldd "$dest.new/$bin" 2>&1 | awk '/not found/ {printf " %s", $1}')
  done
  if [ -n "$missing" ]; then
    say "the $name IMAP server lacks libraries:$missing"; return 1
  fi
  touch "$dest.new/.complete" && rm -rf "$dest" && mv "$dest.new" "$dest"
}
unpack_imap_server cyrus \
  "usr/lib/cyrus/bin/master usr/lib/cyrus/bin/imapd usr/lib/cyrus/bin/idled usr/sbin/saslpasswd2" \
  cyrus-imapd cyrus-common sasl2-bin
unpack_imap_server courier \
  "usr/sbin/couriertcpd usr/lib/courier/courier/imaplogin usr/bin/imapd usr/libexec/gam_server
   usr/lib/courier/courier-authlib/authdaemond usr/lib/courier/courier-authlib/makedatprog" \
  courier-imap courier-base courier-authdaemon courier-authlib courier-authlib-userdb gamin
unpack_imap_server mailutils "usr/sbin/imap4d" mailutils-imap4d mailutils-common libmailutils9

# -- Odoo (the series chosen) ------------------------------------------------------------------
if [ "$SERIES" != 18.0 ] && [ "$PYTHON" = "$ODOO_VENV/bin/python" ] && [ ! -x "$PYTHON" ]; then
  # Odoo 19 and its pinned requirements live in their own environment, apart from 18's
  say "creating the virtual environment $ODOO_VENV for Odoo $SERIES"
  mkdir -p "$(dirname "$ODOO_VENV")"
  python3 -m venv "$ODOO_VENV"
fi
is_odoo_tree() { [ -e "$1/odoo/release.py" ] && { [ -e "$1/odoo-bin" ] || [ -e "$1/setup.py" ]; }; }
odoo_version() { "$PYTHON" -c "import odoo.release as r; print(r.serie)" 2>/dev/null || true; }
if [ -z "$(odoo_version)" ]; then
  if [ -n "${ODOO_SOURCE:-}" ]; then
    if [ -d "$ODOO_SOURCE" ]; then
      src=$ODOO_SOURCE
    else
      say "unpacking $ODOO_SOURCE into $ODOO_HOME"
      rm -rf "$ODOO_HOME" && mkdir -p "$ODOO_HOME"
      case "$ODOO_SOURCE" in
        *.zip) tmp=$(mktemp -d) && "$PYTHON" -m zipfile -e "$ODOO_SOURCE" "$tmp" ;;
        *) tmp=$(mktemp -d) && tar -xf "$ODOO_SOURCE" -C "$tmp" ;;
      esac
      # the archive may hold the tree directly or inside one top folder
      top=$(find "$tmp" -maxdepth 3 -path '*/odoo/release.py' -printf '%h\n' | head -1)
      cp -a "${top%/odoo}"/. "$ODOO_HOME"/ && rm -rf "$tmp"
      src=$ODOO_HOME
    fi
  else
    if ! is_odoo_tree "$ODOO_HOME"; then
      say "cloning Odoo $SERIES from $ODOO_UPSTREAM into $ODOO_HOME"
      mkdir -p "$(dirname "$ODOO_HOME")"
      git clone --depth 1 --branch "$SERIES" "$ODOO_UPSTREAM" "$ODOO_HOME"
    fi
    src=$ODOO_HOME
  fi
  # a git checkout (odoo-bin, addons/) or a packaged tree (setup.py, addons in odoo/addons)
  is_odoo_tree "$src" || { say "no odoo/release.py in $src: not an Odoo source tree"; exit 1; }
  say "installing Odoo $SERIES from $src into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
  reqs=$(mktemp)
  if [ -e /usr/include/ldap.h ]; then cp "$src/requirements.txt" "$reqs"
  else grep -v '^python-ldap' "$src/requirements.txt" > "$reqs"; fi  # only auth_ldap needs it
  # cbor2 5.4.2 builds only with an older setuptools; the constraint reaches its build env.
  constraints=$(mktemp) && echo "setuptools<66" > "$constraints"
  PIP_CONSTRAINT=$constraints "$PYTHON" -m pip install -q -r "$reqs"
  # compat: a plain .pth to the tree; the default finder hook lands in the namespace package
  # odoo.addons (19) as a bogus "addons path" entry
  "$PYTHON" -m pip install -q --no-deps -e "$src" --config-settings editable_mode=compat
  rm -f "$reqs" "$constraints"
fi
[ "$(odoo_version)" = "$SERIES" ] || { say "Odoo $(odoo_version) found, $SERIES needed"; exit 1; }

# -- Python tools for tests and lint ----------------------------------------------------------
if ! "$PYTHON" tools/devenv.py check-requirements requirements-dev.txt; then
  say "installing development requirements"
  "$PYTHON" -m pip install -q -r requirements-dev.txt
fi

# -- The real-world mail corpus of the tests: found (MCL_REALMAIL, the cache), else fetched ---
# Never fails the setup for want of a network: the tests that need it then skip, saying why
# (and fail under CI=true). A fetched mail that differs from its sha256 does fail here.
"$PYTHON" tools/realmail.py --ensure

# -- PostgreSQL -------------------------------------------------------------------------------
if ! pg_isready -q 2>/dev/null; then
  if [ -n "${PGHOST:-}${PGPORT:-}" ]; then
    say "PostgreSQL at ${PGHOST:-local}:${PGPORT:-5432} does not answer"; exit 1
  fi
  if is_root && command -v pg_lsclusters >/dev/null; then
    read -r ver name _ < <(pg_lsclusters --no-header | head -1)
    [ -n "${ver:-}" ] || { say "no PostgreSQL cluster on this machine"; exit 1; }
    say "starting PostgreSQL cluster $ver/$name"
    pg_ctlcluster "$ver" "$name" start
    for _ in $(seq 50); do pg_isready -q && break; sleep 0.2; done
  else
    say "no PostgreSQL server answers; start one or set PGHOST/PGPORT/PGUSER"; exit 1
  fi
fi
role=${PGUSER:-$(id -un)}
if ! psql -d postgres -Atc "select 1" >/dev/null 2>&1; then
  if is_root && [ -z "${PGHOST:-}" ]; then
    say "creating PostgreSQL superuser role $role"
    su postgres -c "createuser -s '$role'" || true
  fi
fi
psql -d postgres -Atc "select 1" >/dev/null || { say "cannot log in to PostgreSQL as $role"; exit 1; }
say "ready: Odoo $(odoo_version), PostgreSQL $(psql -d postgres -Atc 'show server_version')"
