import numpy as np
import pytest

from neuropose_assets.core.comparison.alignment import kabsch, procrustes_align


def rot_z(deg: float) -> np.ndarray:
    t = np.radians(deg)
    return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])


@pytest.fixture
def seq():
    return np.random.default_rng(11).normal(0, 300, (6, 5, 3))


def test_identity(seq):
    out, d = procrustes_align(seq, seq)
    np.testing.assert_allclose(out, seq, atol=1e-9)
    assert d.rotation_deg == pytest.approx(0, abs=1e-6) and d.translation_mm == pytest.approx(0, abs=1e-6)
    assert d.scale == 1.0


def test_recovers_a_37_degree_rotation_to_1e_8(seq):
    target = seq @ rot_z(37).T
    out, d = procrustes_align(seq, target)
    np.testing.assert_allclose(out, target, atol=1e-8)
    assert d.rotation_deg == pytest.approx(37, abs=1e-4) and d.residual_mm < 1e-8


def test_translation_rotation_and_scale(seq):
    t = np.array([10.0, -4.5, 2.25])
    _, d = procrustes_align(seq, seq + t)
    assert d.translation_mm == pytest.approx(np.linalg.norm(t), rel=1e-6)
    _, d = procrustes_align(seq, seq @ rot_z(-12).T + [1, 2, 3])
    assert d.rotation_deg == pytest.approx(12, abs=1e-4)
    out, d = procrustes_align(0.5 * seq, seq, scale=True)
    assert d.scale == pytest.approx(2.0, rel=1e-6)
    np.testing.assert_allclose(out, seq, atol=1e-8)
    assert procrustes_align(0.5 * seq, seq)[1].scale == 1.0


def test_reflection_guard_returns_a_proper_rotation(seq):
    mirrored = seq * np.array([-1.0, 1, 1])
    r, _, _ = kabsch(seq.reshape(-1, 3), mirrored.reshape(-1, 3))
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_per_frame_diagnostics(seq):
    angles = [5, -10, 20, 45]
    src = seq[:4]
    target = np.stack([f @ rot_z(a).T for f, a in zip(src, angles)])
    out, d = procrustes_align(src, target, mode="per_frame")
    np.testing.assert_allclose(out, target, atol=1e-8)
    assert d.rotation_deg_max == pytest.approx(45, abs=1e-4) and d.rotation_deg == pytest.approx(20, abs=1e-4)


def test_nan_joints_are_ignored_and_bad_input_raises(seq):
    src = seq.copy()
    src[0, 0] = np.nan
    out, _ = procrustes_align(src, seq @ rot_z(30).T)
    assert np.isnan(out[0, 0]).all() and np.isfinite(out[1]).all()
    with pytest.raises(ValueError, match="same shape"):
        procrustes_align(seq, seq[:2])
    with pytest.raises(ValueError, match="unknown Procrustes mode"):
        procrustes_align(seq, seq, mode="per_joint")  # type: ignore[arg-type]
