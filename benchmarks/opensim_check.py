"""Load exported .trc / .mot files with OpenSim itself — the independent check of the export.

OpenSim's Python package (``pip install opensim``, 4.6) needs numpy ≥ 2, which clashes with mediapipe, so it lives
in its own environment and this script imports nothing from the project:

    python3.11 -m venv /tmp/osenv && /tmp/osenv/bin/pip install opensim
    .venv/bin/neuropose-assets export KEY --format trc --out /tmp/k.trc      # or the opensim_export asset's files
    .venv/bin/neuropose-assets export KEY --format mot --out /tmp/k.mot
    /tmp/osenv/bin/python benchmarks/opensim_check.py /tmp/k.trc /tmp/k.mot

For a ``.trc`` it reads the file with ``TimeSeriesTableVec3`` (the TRC adapter) and ``MarkerData`` (what scaling
and inverse kinematics read) and prints frames, markers, units, rate and the missing (NaN) marker samples; for a
``.mot`` with ``TimeSeriesTable`` and ``Storage`` (the GUI's motion loader, which stops at a NaN) and checks that
both see every row.  Exit code 1 when OpenSim reads fewer rows than the file holds.
"""

from __future__ import annotations

import math
import sys


def check_trc(path: str) -> bool:
    import opensim as osim

    table = osim.TimeSeriesTableVec3(path)
    markers = osim.MarkerData(path)
    n, m = table.getNumRows(), table.getNumColumns()
    missing = sum(1 for i in range(n) for j in range(m) if math.isnan(table.getRowAtIndex(i)[j].get(0)))
    declared = int(table.getTableMetaDataAsString("NumFrames"))
    print(
        f"{path}: TimeSeriesTableVec3 {n} rows × {m} markers, units {table.getTableMetaDataAsString('Units')}, "
        f"rate {table.getTableMetaDataAsString('DataRate')} Hz, {missing} missing marker samples; MarkerData "
        f"{markers.getNumFrames()} frames, {markers.getNumMarkers()} markers, {markers.getUnits().getAbbreviation()}"
    )
    return n == declared == markers.getNumFrames()


def check_mot(path: str) -> bool:
    import opensim as osim

    table = osim.TimeSeriesTable(path)
    storage = osim.Storage(path)
    declared = int(next(line for line in open(path) if line.startswith("nRows=")).split("=")[1])
    print(
        f"{path}: TimeSeriesTable {table.getNumRows()} rows × {table.getNumColumns()} columns, inDegrees="
        f"{table.getTableMetaDataAsString('inDegrees')}; Storage {storage.getSize()} rows, "
        f"{storage.getColumnLabels().getSize()} labels (with time), {storage.getFirstTime():.3f}–"
        f"{storage.getLastTime():.3f} s"
    )
    return table.getNumRows() == storage.getSize() == declared


def main(paths: list[str]) -> int:
    import opensim as osim

    print(osim.GetVersionAndDate())
    ok = True
    for p in paths:
        ok &= check_trc(p) if p.endswith(".trc") else check_mot(p)
    print("all rows read" if ok else "OpenSim read fewer rows than the file holds")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
