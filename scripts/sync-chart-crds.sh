#!/usr/bin/env bash
# Regenerate the CRDs from the spec models and copy them into the Helm chart, which must ship
# exactly the repository's crds/ (tests/helm/test_crds.py fails when they differ).
#
#   scripts/sync-chart-crds.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
python -m olapsink_operator.crd
shopt -s nullglob
generated=(crds/*.yaml)
(( ${#generated[@]} )) || { echo "sync-chart-crds: the generator wrote nothing into crds/" >&2; exit 1; }
rm -f helm/olapsink/crds/*.yaml
cp "${generated[@]}" helm/olapsink/crds/
echo "copied ${#generated[@]} CRD file(s) into helm/olapsink/crds/"
