#!/usr/bin/env bash
# Install what olapsink's tests, benches and demo need on a fresh Debian machine, or reuse what is there:
# MariaDB server, Java and Maven (apt), the package with its test extras (pip), and the Kafka jars (Maven
# Central, cached under ${OLAPSINK_CACHE:-~/.cache/olapsink}).
#
#   bash scripts/setup.sh            # run it
#   source scripts/setup.sh          # the same, and keep PATH/PYTHON (a .venv on Debian's own python)
#
# When sourced from .ci/run, each piece runs through its `step` function (time limits, timings).
set -euo pipefail

OLAPSINK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
export DEBIAN_FRONTEND=noninteractive

_setup_run() { # NAME LIMIT COMMAND...
  if declare -F step >/dev/null; then
    step "$@"
  else
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*"
    timeout --kill-after=30 "$limit" "$@"
  fi
}

_setup_have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }

_setup_as_root=()
[[ $(id -u) -eq 0 ]] || _setup_as_root=(sudo -n)

_setup_apt=()
_setup_have mariadbd || _setup_apt+=(mariadb-server)
_setup_have java || _setup_apt+=(default-jre-headless) # Kafka 4.x needs Java >= 17
_setup_have mvn || _setup_apt+=(maven)
"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || _setup_apt+=(python3-venv python3-pip)
if [[ ${#_setup_apt[@]} -gt 0 ]]; then
  _setup_run apt-update 10m "${_setup_as_root[@]}" apt-get update -q
  _setup_run apt-install 20m "${_setup_as_root[@]}" apt-get install -y -q --no-install-recommends "${_setup_apt[@]}"
fi

# Debian's own python refuses pip installs (PEP 668): use a virtualenv there, the given python elsewhere.
_setup_managed=$("$PYTHON" -c 'import os, sysconfig; print(os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))')
if [[ $_setup_managed == True ]]; then
  [[ -x "$OLAPSINK_ROOT/.venv/bin/python" ]] || _setup_run venv 5m "$PYTHON" -m venv "$OLAPSINK_ROOT/.venv"
  export PATH="$OLAPSINK_ROOT/.venv/bin:$PATH"
  PYTHON=python
fi
_setup_run pip-install 20m "$PYTHON" -m pip install -q --disable-pip-version-check -e "$OLAPSINK_ROOT[test]"
_setup_run fetch-kafka 15m "$PYTHON" "$OLAPSINK_ROOT/scripts/devstack.py" fetch
export PYTHON
