"""The tests, mirroring the package: ``core/<group>/`` the pure core, ``dagster_defs/`` the Dagster layer, ``cli/`` the
commands and the service layer, the top level the whole system (end to end, package, docs, lint, UI)."""

from pathlib import Path

#: the checkout the tests run from
REPO = Path(__file__).resolve().parents[1]
