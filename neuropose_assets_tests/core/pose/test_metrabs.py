"""MeTRAbs backend without real weights: a tiny SavedModel with the same interface (``fake_metrabs``)."""

import http.server
import multiprocessing
import tarfile
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.io.atomic import sha256_file
from neuropose_assets.core.pose.metrabs_model import (
    DEFAULT_VARIANT,
    ModelAcquisitionError,
    acquire,
    download,
)
from neuropose_assets_tests.conftest import write_video
from neuropose_assets_tests.fake_metrabs import build_fake_metrabs, make_tarball


@pytest.fixture(scope="session")
def fake_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("fake_metrabs")
    model = build_fake_metrabs(d / "saved_model")
    tarball = make_tarball(model, d / "metrabs_fake.tar.gz")
    return {"dir": model, "tarball": tarball, "sha256": sha256_file(tarball), "root": d}


def _nothing_valid(cache: Path, variant: str = "fake") -> bool:
    return not (cache / variant).exists() and not list(cache.glob("*.partial")) and not list(cache.glob(".*staging*"))


def test_unpinned_variant_is_refused_without_a_checksum(tmp_path):
    with pytest.raises(ModelAcquisitionError, match="no pinned SHA-256"):
        acquire(tmp_path, variant="metrabs_mob3l_y4t")


def test_tarball_checksum_mismatch_extracts_nothing(fake_model, tmp_path):
    with pytest.raises(ModelAcquisitionError, match="expected"):
        acquire(tmp_path, variant="fake", sha256="0" * 64, tarball=fake_model["tarball"])
    assert _nothing_valid(tmp_path)


def test_truncated_tarball_is_detected(fake_model, tmp_path):
    cut = tmp_path / "cut.tar.gz"
    data = fake_model["tarball"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelAcquisitionError, match="truncated, corrupt"):
        acquire(tmp_path / "cache", variant="fake", sha256=fake_model["sha256"], tarball=cut)
    assert _nothing_valid(tmp_path / "cache")


def test_traversal_member_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload.txt"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tf:
        tf.add(payload, arcname="../escaped.txt")
    cache = tmp_path / "cache"
    with pytest.raises(ModelAcquisitionError, match="refusing"):
        acquire(cache, variant="fake", sha256=sha256_file(evil), tarball=evil)
    assert not (tmp_path / "escaped.txt").exists()
    assert _nothing_valid(cache)


@pytest.mark.parametrize("missing", ["per_skeleton_joint_edges", "detect_poses_batched"])
def test_missing_attribute_is_named(tmp_path, missing):
    from neuropose_assets.core.pose import load_backend
    from neuropose_assets.core.pose.metrabs import ModelLoadError

    model = build_fake_metrabs(tmp_path / "sm", omit=missing)
    with pytest.raises(ModelLoadError, match=missing):
        load_backend("metrabs", cache=str(tmp_path / "c"), variant="fake", directory=str(model))


class _Server:
    """Serves the tarball on 127.0.0.1: /good, /truncated (announces the full length, sends half), /wrong."""

    def __init__(self, data: bytes) -> None:
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = {"/good": data, "/truncated": data[: len(data) // 2], "/wrong": data[::-1]}[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(fake_model):
    s = _Server(fake_model["tarball"].read_bytes())
    yield s
    s.httpd.shutdown()


def test_download_verifies_and_failures_leave_nothing(fake_model, server, tmp_path):
    sha = fake_model["sha256"]
    with pytest.raises(ModelAcquisitionError, match="truncated|broke off"):
        download(f"{server.url}/truncated", tmp_path / "a.tar.gz", sha, timeout_s=10)
    with pytest.raises(ModelAcquisitionError, match="SHA-256"):
        download(f"{server.url}/wrong", tmp_path / "a.tar.gz", sha, timeout_s=10)
    assert list(tmp_path.iterdir()) == []
    loc = acquire(tmp_path / "cache", variant="fake", sha256=sha, url=f"{server.url}/good")
    assert (loc.path / "saved_model.pb").exists() and loc.checksum == sha and loc.source.endswith("/good")
    again = acquire(tmp_path / "cache", variant="fake", sha256=sha, url=f"{server.url}/wrong")  # cached: no download
    assert again.path == loc.path


def test_no_network_message_says_what_to_do(tmp_path):
    with pytest.raises(ModelAcquisitionError, match="NEUROPOSE_METRABS_TARBALL"):
        acquire(tmp_path, variant=DEFAULT_VARIANT, url="http://127.0.0.1:9/none.tar.gz", timeout_s=5)
    assert _nothing_valid(tmp_path, DEFAULT_VARIANT)


def _acquire_in_child(cache: str, tarball: str, sha: str, q) -> None:
    loc = acquire(cache, variant="fake", sha256=sha, tarball=tarball)
    q.put(str(loc.path))


def test_two_concurrent_loaders_share_one_extraction(fake_model, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_acquire_in_child, args=(str(tmp_path), str(fake_model["tarball"]), fake_model["sha256"], q))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    paths = {q.get(timeout=5), q.get(timeout=5)}
    assert len(paths) == 1 and (Path(paths.pop()) / "saved_model.pb").exists()
    assert not list(tmp_path.glob(".*staging*"))


def test_intrinsics_from_fov():
    from neuropose_assets.core.pose.metrabs import intrinsics_from_fov

    k = intrinsics_from_fov(1920, 1080, 90.0)
    assert k[0, 0] == pytest.approx(960.0) and (k[0, 2], k[1, 2]) == (960.0, 540.0)
    with pytest.raises(ValueError):
        intrinsics_from_fov(10, 10, 180.0)


@pytest.mark.e2e
def test_metrabs_through_dagster_tarball_to_features(fake_model, tmp_path, world):
    import dagster as dg

    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.core.io.tables import read_provenance
    from neuropose_assets.dagster_defs.resources import PoseModelResource
    from neuropose_assets.definitions import build_defs
    from neuropose_assets.service.runs import failure_message, register_videos

    frames = [np.full((240, 320, 3), 60 + 8 * i, np.uint8) for i in range(20)] + [np.zeros((240, 320, 3), np.uint8)]
    video = write_video(tmp_path / "subject.mp4", frames, fps=20)
    layout = Layout(tmp_path / "data")
    pose_model = PoseModelResource(
        backend="metrabs",
        model_cache=str(tmp_path / "models"),
        metrabs_variant="fake",
        metrabs_sha256=fake_model["sha256"],
        metrabs_tarball=str(fake_model["tarball"]),
        batch_size=4,
        num_aug=1,
    )
    defs = build_defs(str(layout.root), pose_model)
    with dg.instance_for_test() as instance:
        register_videos(instance, layout, {"subject": video}, "mixed")
        res = defs.resolve_job_def("per_video_job").execute_in_process(
            partition_key="subject", instance=instance, raise_on_error=False
        )
        assert res.success, failure_message(res)
        poses = pl.read_parquet(layout.asset_file("poses", "subject"))
        assert poses["frame"].n_unique() == 21
        assert poses.filter(pl.col("frame") < 20).height == 40  # two persons per lit frame
        gap = poses.filter(pl.col("frame") == 20)
        assert gap.height == 1 and gap["track"][0] is None  # the black frame is an explicit gap
        subject = poses.filter(pl.col("is_subject"))
        assert subject["box_w_px"].unique().to_list() == [400.0]  # the larger, longer-tracked person
        prov = read_provenance(layout.asset_file("features", "subject"))
        assert prov["model"]["name"] == "metrabs" and prov["model"]["checksum"] == fake_model["sha256"]
        assert prov["model"]["settings"]["num_aug"] == 1 and prov["model"]["settings"]["batch_size"] == 4
        feats = pl.read_parquet(layout.asset_file("features", "subject"))
        assert feats["root_z_mm"][0] == pytest.approx(3000.0, abs=1e-3)  # absolute camera depth of the pelvis
        from neuropose_assets.core.kinematics.features import flexion_deg

        def joint(name):
            return np.stack([feats[f"left_{name}_{a}_mm"].to_numpy() for a in "xyz"], 1)

        knee = flexion_deg(joint("hip"), joint("knee"), joint("ankle"))  # the fake model's own geometry
        assert np.all(np.diff(knee[:8]) < 0)  # brightness 60→116: the ankle comes back under the knee
        assert feats["knee_angle_l_deg"][20] is None  # the fitted angle: null where nobody is seen
        # the fake model's skeleton is not a body: where the fit cannot determine the knee, it says so (no number)
        nulls = read_provenance(layout.asset_file("kinematics", "subject"))["configs"]["kinematics"]["null"]
        if feats["knee_angle_l_deg"][:20].null_count():
            assert "knee_angle_l" in nulls and "frame(s)" in nulls["knee_angle_l"]["reason"]

        # comparing models in one cohort is refused unless explicitly allowed
        for asset in ("features", "repetitions", "task"):  # cam01's BlazePose outputs, as if run here
            (layout.assets / asset).mkdir(parents=True, exist_ok=True)
            (layout.assets / asset / "cam01.parquet").write_bytes(
                world["layout"].asset_file(asset, "cam01").read_bytes()
            )
        register_videos(instance, layout, {"cam01": world["layout"].root}, "mixed")
        job = defs.resolve_job_def("cohort_job")
        refused = job.execute_in_process(partition_key="mixed", instance=instance, raise_on_error=False)
        assert not refused.success and "mixes pose models" in failure_message(refused)
        allowed = job.execute_in_process(
            partition_key="mixed",
            instance=instance,
            run_config={"ops": {"cohort_dtw": {"config": {"allow_mixed_models": True}}}},
        )
        assert allowed.success


@pytest.mark.realmodel
def test_real_metrabs_on_a_sample_clip(cam01):
    """Opt-in: runs when the real model is in the cache (``neuropose-assets model install``)."""
    from neuropose_assets.core.io.storage import default_cache_dir
    from neuropose_assets.core.pose.metrabs_model import PINNED, _cached

    cache = Path(default_cache_dir() / "models")
    if _cached(cache / DEFAULT_VARIANT, PINNED[DEFAULT_VARIANT][1]) is None:
        pytest.skip(f"real MeTRAbs weights not in {cache} (install with `neuropose-assets model install`)")
    from neuropose_assets.core.pose import load_backend
    from neuropose_assets.core.pose.estimate import estimate_video

    backend = load_backend("metrabs", cache=str(cache), num_aug=1, batch_size=8)
    run = estimate_video(backend, cam01)
    assert run.frames_with_subject > 90
