#!/usr/bin/env bash
# Install what `make demo` and `make test` need, and start PostgreSQL when no server answers.
# Idempotent: a second run only checks. Settings (environment):
#   PYTHON        the Python to use (default python3)
#   ODOO_SOURCE   a local Odoo 18.0 source tree or archive (.tar.gz/.zip) used when `import odoo`
#                 fails; without it, Odoo 18.0 is cloned from upstream into ODOO_HOME
#   ODOO_HOME     where Odoo is unpacked or cloned (default ~/.cache/mail_crm_link/odoo-18.0)
#   PGHOST PGPORT PGUSER   an existing PostgreSQL server to use
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
ODOO_HOME=${ODOO_HOME:-$HOME/.cache/mail_crm_link/odoo-18.0}
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
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    say "missing system packages (install them as root): ${need_pkgs[*]}"
  fi
fi

# -- Odoo 18.0 --------------------------------------------------------------------------------
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
      top=$(find "$tmp" -maxdepth 2 -name odoo-bin -printf '%h\n' | head -1)
      cp -a "$top"/. "$ODOO_HOME"/ && rm -rf "$tmp"
      src=$ODOO_HOME
    fi
  else
    if [ ! -e "$ODOO_HOME/odoo-bin" ]; then
      say "cloning Odoo 18.0 from $ODOO_UPSTREAM into $ODOO_HOME"
      mkdir -p "$(dirname "$ODOO_HOME")"
      git clone --depth 1 --branch 18.0 "$ODOO_UPSTREAM" "$ODOO_HOME"
    fi
    src=$ODOO_HOME
  fi
  [ -e "$src/odoo-bin" ] || { say "no odoo-bin in $src: not an Odoo source tree"; exit 1; }
  say "installing Odoo 18.0 from $src"
  reqs=$(mktemp)
  if [ -e /usr/include/ldap.h ]; then cp "$src/requirements.txt" "$reqs"
  else grep -v '^python-ldap' "$src/requirements.txt" > "$reqs"; fi  # only auth_ldap needs it
  # cbor2 5.4.2 builds only with an older setuptools; the constraint reaches its build env.
  constraints=$(mktemp) && echo "setuptools<66" > "$constraints"
  PIP_CONSTRAINT=$constraints "$PYTHON" -m pip install -q -r "$reqs"
  "$PYTHON" -m pip install -q --no-deps -e "$src"
  rm -f "$reqs" "$constraints"
fi
[ "$(odoo_version)" = "18.0" ] || { say "Odoo $(odoo_version) found, 18.0 needed"; exit 1; }

# -- Python tools for tests and lint ----------------------------------------------------------
if ! "$PYTHON" tools/devenv.py check-requirements requirements-dev.txt; then
  say "installing development requirements"
  "$PYTHON" -m pip install -q -r requirements-dev.txt
fi

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
