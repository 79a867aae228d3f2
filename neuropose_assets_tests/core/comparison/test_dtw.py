import os

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from neuropose_assets.core.comparison.dtw import (
    DTWConfig,
    compare,
    dtw_distance,
    extract_units,
    mean_repetition,
    pairwise,
    repetition_sequences,
    reusable_pairs,
)
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS


def brute_dtw(a, b, cost, radius=None):
    """Reference dynamic programme (O(n·m)) for exact DTW."""
    n, m = len(a), len(b)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if radius is not None and abs(i - j) > radius:
                continue
            acc[i, j] = cost(a[i - 1], b[j - 1]) + min(acc[i - 1, j], acc[i, j - 1], acc[i - 1, j - 1])
    return acc[n, m]


SQ = lambda x, y: float(np.sum((x - y) ** 2))  # noqa: E731
EU = lambda x, y: float(np.linalg.norm(x - y))  # noqa: E731


@pytest.fixture
def seq():
    return np.random.default_rng(42).standard_normal((30, 4))


@pytest.mark.parametrize("convention", ["tslearn", "sum_euclidean"])
def test_self_and_time_stretched_copy_are_zero(seq, convention):
    assert dtw_distance(seq, seq, convention=convention) == (0.0, 30)
    assert dtw_distance(seq, np.repeat(seq, 2, axis=0), convention=convention)[0] == pytest.approx(0, abs=1e-12)


def test_constant_offset_in_both_conventions():
    a, b = np.zeros((5, 3)), np.ones((5, 3))
    assert dtw_distance(a, b)[0] == pytest.approx(np.sqrt(15.0))  # sqrt(5 steps × 3)
    assert dtw_distance(a, b, convention="sum_euclidean")[0] == pytest.approx(5 * np.sqrt(3.0))


def test_parity_with_dtaidistance_and_a_reference_dp_to_1e_9():
    from dtaidistance import dtw_ndim

    rng = np.random.default_rng(7)
    for _ in range(4):
        a, b = rng.standard_normal((25, 3)), rng.standard_normal((31, 3))
        assert dtw_distance(a, b)[0] == pytest.approx(dtw_ndim.distance(a, b, use_c=False), abs=1e-9)
        assert dtw_distance(a, b)[0] == pytest.approx(np.sqrt(brute_dtw(a, b, SQ)), abs=1e-9)
        assert dtw_distance(a, b, convention="sum_euclidean")[0] == pytest.approx(brute_dtw(a, b, EU), abs=1e-9)


def test_sakoe_chiba_band_matches_the_banded_reference():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((20, 2)), rng.standard_normal((20, 2))
    banded = dtw_distance(a, b, sakoe_chiba_radius=2)[0]
    assert banded == pytest.approx(np.sqrt(brute_dtw(a, b, SQ, radius=2)), abs=1e-9)
    assert banded >= dtw_distance(a, b)[0]


def _features(n=40, rot_deg=0.0, shift=(0.0, 0.0, 0.0), stretch=1, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 200, (len(CLINICAL_JOINTS), 3))
    t = np.radians(rot_deg)
    r = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    frames = []
    for i in range(n):
        pose = base + 50 * np.sin(i / 5) * np.eye(3)[0]
        frames.append(pose @ r.T + shift)
    xyz = np.repeat(np.array(frames), stretch, axis=0)
    data = {f"{j}_{a}_mm": xyz[:, c, k] for c, j in enumerate(CLINICAL_JOINTS) for k, a in enumerate("xyz")}
    data["knee_deg"] = 40 + 30 * np.sin(np.arange(len(xyz)) / (5 * stretch))
    return pl.DataFrame(data)


def test_procrustes_before_dtw_cancels_rotation_and_translation_even_for_different_lengths():
    a = _features()
    cfg = DTWConfig(representation="coords")

    def dist(b, config):
        return compare(extract_units(a, config), extract_units(b, config), config)[0][1]

    same_length = _features(rot_deg=30, shift=(100, -50, 20))
    stretched = _features(rot_deg=30, shift=(100, -50, 20), stretch=2)  # also twice as long (frames held)
    for mode in ("procrustes_per_sequence", "procrustes_per_frame"):
        aligned = DTWConfig(representation="coords", align=mode)
        assert dist(same_length, cfg) > 1000 and dist(same_length, aligned) < 1e-6 * dist(same_length, cfg)
        # the transform is fitted over normalised time, so a held-frame stretch leaves a small residual
        assert dist(stretched, aligned) < 0.01 * dist(stretched, cfg)


def test_units_per_joint_relation_and_validation():
    f = _features()
    per = DTWConfig(representation="angles", columns=("knee_deg", "pelvis_x_mm"), per_joint=True)
    assert list(extract_units(f, per)) == ["knee_deg", "pelvis_x_mm"]
    rel = extract_units(f, DTWConfig(representation="relation", pair=("left_hip", "left_knee")))
    assert list(rel) == ["left_hip->left_knee"] and rel["left_hip->left_knee"].shape == (40, 3)
    with pytest.raises(ValidationError, match="pair"):
        DTWConfig(representation="relation")
    with pytest.raises(ValidationError, match="coords"):
        DTWConfig(representation="angles", align="procrustes_per_sequence")


def test_nan_policies():
    x = {"all": np.array([[0.0], [np.nan], [2.0], [3.0]])}
    y = {"all": np.array([[0.0], [1.0], [2.0], [3.0]])}
    with pytest.raises(ValueError, match="NaN"):
        compare(x, y, DTWConfig(nan_policy="propagate"))
    assert compare(x, y, DTWConfig(nan_policy="interpolate"))[0][1] == pytest.approx(0)
    assert compare(x, y, DTWConfig(nan_policy="drop"))[0][1] == pytest.approx(1.0)  # 1 held against the 0 or 2
    assert compare({"all": np.full((3, 1), np.nan)}, y, DTWConfig()) == []


def test_pairwise_is_symmetric_and_reuses_unchanged_pairs(seq):
    seqs = {k: {"all": v} for k, v in {"a": seq, "b": seq[::2], "c": seq + 1}.items()}
    cfg = DTWConfig()
    df, computed = pairwise(seqs, cfg)
    assert computed == 3 and df.height == 9
    m = {(r["a"], r["b"]): r["distance"] for r in df.iter_rows(named=True)}
    assert all(m[(x, y)] == m[(y, x)] for x in "abc" for y in "abc") and m[("a", "a")] == 0
    fps = {"a": "1", "b": "2", "c": "3"}
    meta = {"dtw_config": cfg.fingerprint(), "member_fingerprints": fps}
    seqs["d"] = {"all": seq * 2}
    reuse = reusable_pairs(df, meta, {**fps, "d": "4"}, cfg)
    df2, computed2 = pairwise(seqs, cfg, reuse=reuse)
    assert computed2 == 3  # only the new member's pairs
    assert df2.filter(pl.col("a") != "d").filter(pl.col("b") != "d").equals(df)
    assert reusable_pairs(df, meta, {**fps, "a": "changed"}, cfg).keys() == {
        ("b", "c", "all"),
        ("c", "b", "all"),
        ("b", "b", "all"),
        ("c", "c", "all"),
    }
    assert reusable_pairs(df, meta, fps, DTWConfig(convention="sum_euclidean")) == {}


def test_repetitions_of_different_lengths_compare_with_alignment_on():
    """Repetition 1 is repetition 0 rotated by 30°, moved and performed at half speed: with Procrustes before DTW
    they are (almost) identical; without, they are not."""
    f = pl.concat([_features(n=30), _features(n=30, rot_deg=30, shift=(100.0, -50.0, 20.0), stretch=2)])
    segs = pl.DataFrame({"repetition": [0, 1], "start_frame": [0, 30], "end_frame": [30, 90]})

    def distance(align: str) -> float:
        cfg = DTWConfig(representation="coords", align=align)
        ((side, seqs),) = repetition_sequences(f, segs, cfg).items()
        df, computed = pairwise(seqs, cfg)
        assert side is None and set(seqs) == {"rep_0", "rep_1"} and computed == 1 and df.height == 4
        return df.filter(pl.col("a") != pl.col("b"))["normalized_distance"][0]

    aligned, raw = distance("procrustes_per_sequence"), distance("none")
    assert raw > 50  # mm: a 30° turn of a body-sized point set
    assert aligned < 0.01 * raw


def test_repetitions_are_compared_within_a_side_and_averaged_over_normalised_time():
    f = _features(n=80)
    reps = pl.DataFrame(
        {
            "side": ["left", "left", "right"],
            "repetition": [0, 1, 0],
            "start_frame": [0, 30, 10],
            "end_frame": [30, 70, 50],
        }
    )
    cfg = DTWConfig(columns=("knee_deg",))
    groups = repetition_sequences(f, reps, cfg)
    assert {k: set(v) for k, v in groups.items()} == {"left": {"left_0", "left_1"}, "right": {"right_0"}}
    mean = mean_repetition(f, reps, cfg, samples=11)
    assert set(mean) == {"all@left", "all@right"} and mean["all@left"].shape == (11, 1)
    x = f["knee_deg"].to_numpy()
    expect = np.mean(
        [np.interp(np.linspace(0, 1, 11), np.linspace(0, 1, n), x[a : a + n]) for a, n in ((0, 30), (30, 40))], axis=0
    )
    np.testing.assert_allclose(mean["all@left"][:, 0], expect)
    assert compare(mean, {"all@left": mean["all@left"]}, cfg)[0][:2] == ("all@left", 0.0)  # missing side skipped


def test_per_frame_procrustes_per_joint_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="per-frame Procrustes needs several joints"):
        DTWConfig(representation="coords", per_joint=True, align="procrustes_per_frame")


def _coords_table(x: np.ndarray) -> pl.DataFrame:
    """``x`` (F, 3 joints, 3) as root-centred columns of the first three clinical joints."""
    return pl.DataFrame(
        {f"{j}_{a}_mm": x[:, c, k] for c, j in enumerate(CLINICAL_JOINTS[:3]) for k, a in enumerate("xyz")}
    )


def test_neuropose_numerical_expectations_under_the_sum_euclidean_convention():
    """NeuroPose analyzer tests (§19), reproduced exactly with its distance convention."""
    joints = CLINICAL_JOINTS[:3]
    cfg = DTWConfig(representation="coords", joints=joints, convention="sum_euclidean")
    zeros, ones = _coords_table(np.zeros((5, 3, 3))), _coords_table(np.ones((5, 3, 3)))
    ((_, d, n),) = compare(extract_units(zeros, cfg), extract_units(ones, cfg), cfg)
    assert (d, n) == (pytest.approx(15.0), 5)  # 5 steps × ‖1₉‖ = 3
    tsl = DTWConfig(representation="coords", joints=joints)
    assert compare(extract_units(zeros, tsl), extract_units(ones, tsl), tsl)[0][1] == pytest.approx(np.sqrt(45))
    a = np.zeros((2, 3, 3))
    b = a.copy()
    b[:, 1] += 10.0
    per = DTWConfig(representation="coords", joints=joints, per_joint=True, convention="sum_euclidean")
    got = {u: d for u, d, _ in compare(extract_units(_coords_table(a), per), extract_units(_coords_table(b), per), per)}
    assert got == {joints[0]: 0.0, joints[1]: pytest.approx(2 * np.sqrt(300)), joints[2]: 0.0}
    rng = np.random.default_rng(42)
    x = rng.standard_normal((5, 3, 3))
    shifted = np.concatenate([x[:1], x])  # a time shift by one duplicated frame
    assert compare(extract_units(_coords_table(x), cfg), extract_units(_coords_table(shifted), cfg), cfg)[0][1] == 0


def test_long_recordings_compare_an_evenly_spaced_subset_of_repetitions():
    from neuropose_assets.core.comparison.dtw import RepetitionDTWConfig, spread

    assert spread(5, None) == [0, 1, 2, 3, 4] and spread(5, 10) == [0, 1, 2, 3, 4]
    assert spread(700, 100)[0] == 0 and spread(700, 100)[-1] == 699 and len(spread(700, 100)) == 100
    assert spread(9, 3) == [0, 4, 8]
    assert RepetitionDTWConfig().max_repetitions_per_side == 100
    with pytest.raises(ValueError):
        RepetitionDTWConfig(max_repetitions_per_side=1)
    f = _features(n=100)
    reps = pl.DataFrame(
        {
            "side": ["left"] * 9 + ["right"],
            "repetition": [*range(9), 0],
            "start_frame": [*range(0, 90, 10), 0],
            "end_frame": [*range(10, 100, 10), 10],
        }
    )
    groups = repetition_sequences(f, reps, DTWConfig(columns=("knee_deg",)), max_per_side=3)
    assert list(groups["left"]) == ["left_0", "left_4", "left_8"] and list(groups["right"]) == ["right_0"]


def test_numba_cache_serves_a_second_process(tmp_path):
    """tslearn's DTW kernels are closures; with per-process dispatcher UUIDs in their cache key a fresh process never
    hit the cache and compiled dtw_path again (~2 s per run). The second process must compile nothing."""
    import subprocess
    import sys

    code = (
        "import numpy as np\nfrom neuropose_assets.core.comparison.dtw import dtw_distance, enable_numba_cache\n"
        f"enable_numba_cache({str(tmp_path)!r})\n"
        "a, b = np.zeros((5, 2)), np.ones((7, 2))\n"
        "print(dtw_distance(a, b), "
        "dtw_distance(a, b, convention='sum_euclidean', sakoe_chiba_radius=2))\n"
    )
    env = {**os.environ, "NUMBA_DEBUG_CACHE": "1"}
    env.pop("NUMBA_CACHE_DIR", None)
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "data saved" in first.stdout + first.stderr  # the first process filled the cache in tmp_path
    log = second.stdout + second.stderr
    assert "data loaded" in log and "data saved" not in log, [ln for ln in log.splitlines() if "saved" in ln]
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]


def test_warm_up_compiles_the_dtw_kernels_in_this_process(tmp_path):
    """A warm worker calls warm_up once, so its videos' repetition DTW finds tslearn's kernels compiled.  In a fresh
    interpreter (this test process may have compiled them already): nothing compiled before, compiled after, and the
    first real comparisons of both conventions compile nothing new — also on columns selected from a polars table,
    which are Fortran-ordered (numba compiles a kernel per memory layout: ~1.3 s in every worker's first video)."""
    import json
    import subprocess
    import sys

    code = """
import json
import numpy as np
from tslearn.metrics import _dtw
from neuropose_assets.core.comparison.dtw import dtw_distance, warm_up
kernels = ("_njit_dtw_path", "_acc_matrix_from_dist_matrix")
count = lambda: [len(getattr(_dtw, k).signatures) for k in kernels]
before = count()
warm_up()
after = count()
import polars as pl
rng = np.random.default_rng(0)
dtw_distance(rng.normal(size=(40, 6)), rng.normal(size=(33, 6)))
table = pl.DataFrame(rng.normal(size=(40, 6)), schema=list("abcdef"))
a = table.select("a", "b").to_numpy()
assert a.flags.f_contiguous and not a.flags.c_contiguous
dtw_distance(a, table.select("c", "d").to_numpy()[:33])
dtw_distance(rng.normal(size=(40, 6)), rng.normal(size=(33, 6)), convention="sum_euclidean", sakoe_chiba_radius=5)
print(json.dumps([before, after, count()]))
"""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    before, after, real = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [0, 0] and min(after) > 0 and real == after
