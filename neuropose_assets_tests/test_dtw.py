import numpy as np
import pytest

from neuropose_assets.core.dtw import DTWConfig, dtw_distance, pairwise_dtw, prepare_sequence


@pytest.fixture
def seq():
    return np.random.default_rng(42).standard_normal((30, 4))


def test_dtw_of_a_sequence_with_itself_is_zero(seq):
    d, n = dtw_distance(seq, seq)
    assert d == 0.0 and n == 30


def test_time_stretched_copy_has_zero_distance(seq):
    stretched = np.repeat(seq, 2, axis=0)  # every frame held twice
    assert dtw_distance(seq, stretched)[0] == pytest.approx(0.0, abs=1e-12)


def test_constant_offset_follows_tslearn_convention():
    a, b = np.zeros((5, 3)), np.ones((5, 3))
    # diagonal path, 5 steps of squared distance 3 -> sqrt(15)
    assert dtw_distance(a, b)[0] == pytest.approx(np.sqrt(15.0))


@pytest.mark.parametrize("radius", [None, 3])
def test_parity_with_dtaidistance_exact(radius):
    from dtaidistance import dtw_ndim

    rng = np.random.default_rng(7)
    for _ in range(5):
        a, b = rng.standard_normal((40, 3)), rng.standard_normal((35, 3))
        ours = dtw_distance(a, b, sakoe_chiba_radius=radius)[0]
        theirs = dtw_ndim.distance(a, b, window=None if radius is None else radius + 1 + abs(40 - 35), use_c=False)
        if radius is None:
            assert ours == pytest.approx(theirs, abs=1e-9)
        else:
            assert ours >= dtw_distance(a, b)[0] - 1e-12  # a band can only raise the cost


def test_pairwise_is_symmetric_with_zero_diagonal(seq):
    seqs = {"a": seq, "b": seq[::2], "c": seq + 1}
    df = pairwise_dtw(seqs)
    assert df.height == 9
    m = {(r["a"], r["b"]): r["distance"] for r in df.iter_rows(named=True)}
    for x in seqs:
        assert m[(x, x)] == 0
        for y in seqs:
            assert m[(x, y)] == m[(y, x)]
    assert (df["rms_distance"] >= 0).all()


def test_prepare_sequence_nan_policies():
    import polars as pl

    df = pl.DataFrame({"a": [1.0, None, 3.0, 4.0], "b": [0.0, 0.0, None, 1.0]})
    interp = prepare_sequence(df, DTWConfig(columns=("a", "b")))
    np.testing.assert_allclose(interp, [[1, 0], [2, 0], [3, 0.5], [4, 1]])
    dropped = prepare_sequence(df, DTWConfig(columns=("a", "b"), nan_policy="drop"))
    assert dropped.shape == (2, 2)
    with pytest.raises(KeyError):
        prepare_sequence(df, DTWConfig(columns=("zzz",)))
