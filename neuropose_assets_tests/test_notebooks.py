"""The notebooks run top to bottom against real outputs (the end-to-end fixture's data root)."""

import nbformat
import pytest
from nbclient import NotebookClient

from neuropose_assets_tests import REPO

pytestmark = pytest.mark.e2e
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, world, monkeypatch):
    monkeypatch.setenv("NEUROPOSE_DATA_ROOT", str(world["layout"].root))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
