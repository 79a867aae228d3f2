"""Load an exported ``.mot`` onto an OpenSim model with OpenSim itself: do its columns name the model's coordinates,
and do the angles mean on the model what they mean here?

OpenSim's Python package (``pip install opensim``, 4.6) needs numpy ≥ 2, so it runs in its own environment and this
script imports nothing from the project.  A Rajagopal-family model with the OpenSim coordinate names is, for example,
Pose2Sim's ``Model_Pose2Sim_simple.osim`` (in the ``pose2sim`` wheel on PyPI, ``Pose2Sim/OpenSim_Setup/``):

    python3.11 -m venv /tmp/osenv && /tmp/osenv/bin/pip install opensim
    .venv/bin/neuropose-assets export KEY --format mot --out /tmp/k.mot
    /tmp/osenv/bin/python benchmarks/opensim_model_check.py MODEL.osim /tmp/k.mot

For every row it sets each column that names a model coordinate (degrees → radians for rotations), realises the
model's position and measures, from the bodies' origins in ground, the angle between the femur (hip → knee) and the
tibia (knee → talus, the ankle joint) of each leg; the same measure on the neutral model with only the knee at the row's
``knee_angle`` is what it must be (the model's own geometry: its body origins are not collinear, ~6° at 0, and its
knee translates with flexion), so a wrong name, unit or sign shows as a difference.  It also checks that a positive
``knee_angle`` moves the calcaneus posterior of the knee (flexion).  Prints the columns the model lacks (OpenSim's
motion loader ignores them) and the largest difference; exits 1 when a column names no coordinate of the model
(other than the lumbar coordinates, which Pose2Sim's model lacks) or the knee differs by more than 1°.
"""

from __future__ import annotations

import math
import sys


def main(argv: list[str]) -> int:
    import opensim as osim

    model_path, mot_path = argv
    model = osim.Model(model_path)
    state = model.initSystem()
    coords = {
        model.getCoordinateSet().get(i).getName(): model.getCoordinateSet().get(i)
        for i in range(model.getCoordinateSet().getSize())
    }
    table = osim.TimeSeriesTable(mot_path)
    labels = list(table.getColumnLabels())
    in_degrees = table.getTableMetaDataAsString("inDegrees").lower() == "yes"
    unknown = [c for c in labels if c not in coords]
    print(
        f"{mot_path}: {table.getNumRows()} rows, {len(labels)} columns; model {model.getName()} has "
        f"{len(coords)} coordinates; columns that are not coordinates of this model: {unknown or 'none'}"
    )
    bodies = {b: model.getBodySet().get(b) for b in ("femur_r", "tibia_r", "talus_r", "femur_l", "tibia_l", "talus_l")}

    def knee_3pt(s: str) -> float:
        hip, knee, ankle = (bodies[f"{b}_{s}"].getPositionInGround(state) for b in ("femur", "tibia", "talus"))
        thigh = [knee.get(k) - hip.get(k) for k in range(3)]
        shank = [ankle.get(k) - knee.get(k) for k in range(3)]
        dot = sum(a * b for a, b in zip(thigh, shank))
        return math.degrees(
            math.acos(max(-1.0, min(1.0, dot / math.sqrt(sum(a * a for a in thigh) * sum(b * b for b in shank)))))
        )

    reference: dict[str, list[float]] = {}  # the neutral model's 3-point knee angle at knee_angle = 0, 1, …, 160°
    for s in ("r", "l"):
        reference[s] = []
        for deg in range(161):
            coords[f"knee_angle_{s}"].setValue(state, math.radians(deg), False)
            model.realizePosition(state)
            reference[s].append(knee_3pt(s))
        coords[f"knee_angle_{s}"].setValue(state, math.radians(30), False)
        model.realizePosition(state)
        talus, tibia = bodies[f"talus_{s}"].getPositionInGround(state), bodies[f"tibia_{s}"].getPositionInGround(state)
        assert talus.get(0) < tibia.get(0), "knee_angle > 0 must move the foot posterior (flexion)"
        coords[f"knee_angle_{s}"].setValue(state, 0.0, False)

    def expected(s: str, deg: float) -> float:
        lo = max(0, min(159, int(deg)))
        return reference[s][lo] + (deg - lo) * (reference[s][lo + 1] - reference[s][lo])

    worst = {"knee_r": 0.0, "knee_l": 0.0}
    for i in range(table.getNumRows()):
        row = table.getRowAtIndex(i)
        for j, c in enumerate(labels):
            if c not in coords:
                continue
            value = row[j]
            if math.isnan(value):
                continue
            rotational = coords[c].getMotionType() == osim.Coordinate.Rotational
            coords[c].setValue(state, math.radians(value) if rotational and in_degrees else value, False)
        model.assemble(state)
        model.realizePosition(state)
        for s in ("r", "l"):
            if f"knee_angle_{s}" not in labels:
                continue
            stated = row[labels.index(f"knee_angle_{s}")]
            worst[f"knee_{s}"] = max(worst[f"knee_{s}"], abs(knee_3pt(s) - expected(s, stated)))
    print(
        f"knee_angle > 0 flexes the model's knee; largest |knee on the posed model − knee of the neutral model at "
        f"the file's knee_angle|: right {worst['knee_r']:.3f}°, left {worst['knee_l']:.3f}°"
    )
    missing = [c for c in unknown if not c.startswith("lumbar_")]
    return 1 if missing or max(worst.values()) > 1.0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
