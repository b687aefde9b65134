#!/usr/bin/env bash
# The README's first command: install what is needed (scripts/setup.sh), then run the demo
# (Kafka + MariaDB + the Doris Stream Load emulator, the seed's connector config run by olapsink-worker).
#
#   bash scripts/demo.sh [--rows 20000] [--keep-running]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
exec "$PYTHON" scripts/demo.py "$@"
