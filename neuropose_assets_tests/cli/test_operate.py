"""Operate and measure: `benchmark` (real clip, per-frame latencies, CPU comparison, append-only log), `version`
and `health` (every check, failing ones exit non-zero)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.pose import bench

CLI = [sys.executable, "-m", "neuropose_assets.cli"]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})


@pytest.mark.e2e
def test_benchmark_a_real_clip_with_the_cpu_comparison_and_the_log(cam01, tmp_path):
    log = tmp_path / "LOG.md"
    res = _cli(
        "benchmark", str(cam01), "--passes", "2", "--compare-cpu", "--json", str(tmp_path / "b.json"), "--log", str(log)
    )
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads((tmp_path / "b.json").read_text())
    a = r["aggregate"]
    assert a["passes_measured"] == 1 and a["frames_per_pass"] == 100 and len(r["passes"]) == 2
    lat = a["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] and lat["mean"] > 0
    # per-frame timings, not an average: one latency per frame, and they differ
    assert len(r["passes"][1]["latencies_ms"]) == 100 and np.std(r["passes"][1]["latencies_ms"]) > 0
    assert a["pose_fps"] > 0 and a["chain_fps"] <= a["pose_fps"] and a["peak_rss_mb"] > 100
    assert r["device"].startswith("cpu") and r["versions"]["mediapipe"] == "0.10.21"
    assert r["model"]["checksum"] and r["machine"]["cores"] >= 1
    # CPU-only machine: both sides run on the CPU, so the 3D joints must be identical
    c = r["compare_cpu"]
    assert c["max_abs_diff_mm"] == 0.0 and c["rows_compared"] == 100 and c["speedup"] > 0
    assert "per-frame inference latency" in res.stdout and "speed-up" in res.stdout
    first = log.read_text()
    assert first.count("\n## ") == 1 and "| pose stage |" in first and "--compare-cpu" in first
    bench.append_log(log, bench.log_section(r))  # a second run appends; the first section stays byte-identical
    assert log.read_text().startswith(first) and log.read_text().count("\n## ") == 2


def test_aggregate_excludes_the_warmup_and_pools_per_frame_latencies():
    warm = bench.PassResult(3, [100.0, 100.0, 100.0], 1.0, {"features": 0.5}, 10.0)
    p1 = bench.PassResult(3, [1.0, 2.0, 3.0], 0.3, {"features": 0.1}, 20.0)
    p2 = bench.PassResult(3, [4.0, 5.0, 6.0], 0.6, {"features": 0.3}, 30.0)
    a = bench.aggregate([warm, p1, p2])
    assert a["latency_ms"]["p50"] == pytest.approx(3.5) and a["latency_ms"]["mean"] == pytest.approx(3.5)
    assert a["latency_ms"]["p99"] == pytest.approx(np.percentile([1, 2, 3, 4, 5, 6], 99))
    assert a["pose_fps"] == pytest.approx((10 + 5) / 2) and a["peak_rss_mb"] == 30.0
    assert a["chain_stage_s"]["features"] == pytest.approx(0.2) and a["warmup"]["pose_s"] == 1.0
    with pytest.raises(ValueError, match="warm-up"):
        bench.aggregate([warm])


def test_poses_divergence_is_the_largest_joint_difference():
    a = pl.DataFrame(
        {
            "frame": [0, 1, 2],
            "track": [0, 0, None],
            "nose_x_mm": [1.0, 2.0, None],
            "nose_y_mm": [0.0, 0.0, None],
            "nose_u_px": [5.0, 5.0, None],
        }
    )
    assert bench.poses_divergence_mm(a, a) == (0.0, 3)
    b = a.with_columns(pl.when(pl.col("frame") == 1).then(pl.col("nose_y_mm") - 1.5).otherwise(pl.col("nose_y_mm")))
    assert bench.poses_divergence_mm(a, b) == (1.5, 3)
    with pytest.raises(ValueError, match="frames"):
        bench.poses_divergence_mm(a, a.head(2))


def test_version_lists_models_and_libraries_without_importing_them():
    res = _cli("version", "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    bp = info["models"][0]
    assert bp["name"] == "blazepose_ghum_3d" and bp["verified"] and len(bp["sha256"]) == 64
    assert {"dagster", "mediapipe", "numpy", "python"} <= set(info["libraries"])
    code = (
        "import sys; from neuropose_assets.health import version_info; version_info(); "
        "print(sorted(m for m in ('mediapipe', 'tensorflow', 'tslearn') if m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_health_reports_every_check_and_fails_on_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))  # restored afterwards (ensure_dagster_home sets it)
    root = tmp_path / "data"
    env = {"NEUROPOSE_INTAKE": str(tmp_path / "intake"), "NEUROPOSE_MODEL_CACHE": str(tmp_path / "models")}
    res = _cli("health", "--json", "--data-root", str(root), env=env)  # creates the root 0700, no instance yet
    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert res.returncode == 1 and checks["instance"]["status"] == "fail"
    assert checks["data_root"]["status"] == "ok" and oct(root.stat().st_mode & 0o777) == "0o700"
    import dagster as dg

    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.instance import apply_pose_slots, ensure_dagster_home

    ensure_dagster_home(Layout(root))
    with dg.DagsterInstance.from_config(str(root / "dagster_home")) as inst:
        apply_pose_slots(inst)
    (tmp_path / "intake").mkdir()
    res = _cli("health", "--data-root", str(root), env=env)
    assert res.returncode == 0, res.stdout  # warnings (no daemon, no UI) do not fail
    lines = {line.split()[1]: line.split()[0] for line in res.stdout.splitlines()}
    assert lines == {
        "data_root": "ok",
        "intake": "ok",
        "instance": "ok",
        "pose_pool": "ok",
        "daemon": "warn",
        "sensors": "ok",
        "pose_model": "ok",
        "disk": "ok",
        "webserver": "warn",
    }
    os.chmod(root, 0o755)  # patient data readable by others
    res = _cli("health", "--json", "--data-root", str(root), env=env)
    bad = {c["name"]: c for c in json.loads(res.stdout)["checks"]}["data_root"]
    assert res.returncode == 1 and bad["status"] == "fail" and "chmod 700" in bad["detail"]


def test_health_verifies_an_installed_metrabs_model(tmp_path, monkeypatch):
    from neuropose_assets.core.pose.metrabs_model import DEFAULT_VARIANT, MARKER, PINNED, directory_fingerprint
    from neuropose_assets.health import metrabs_models

    model = tmp_path / "models" / DEFAULT_VARIANT / "saved"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "variables" / "variables.index").write_bytes(b"index")
    (model.parent / MARKER).write_text(
        json.dumps(
            {
                "variant": DEFAULT_VARIANT,
                "archive_sha256": PINNED[DEFAULT_VARIANT][1],
                "saved_model": "saved",
                "fingerprint": directory_fingerprint(model),
            }
        )
    )
    monkeypatch.setenv("NEUROPOSE_MODEL_CACHE", str(tmp_path / "models"))
    assert [m["verified"] for m in metrabs_models()] == [True]
    (model / "saved_model.pb").write_bytes(b"another graph")  # changed after extraction
    assert [m["verified"] for m in metrabs_models()] == [False]


def test_health_webserver_check_against_real_sockets(tmp_path):
    """A stand-in server answering /server_info and the guard's /__neuropose__/ui: on loopback it passes; recorded as
    loopback but listening on every address it fails; a UI deliberately on 0.0.0.0 warns; another webserver than the
    one the UI started fails; a webserver still answering for a UI that died (an orphan) fails."""
    import http.server
    import threading

    from neuropose_assets.health import _webserver

    class Info(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            info = (
                {"webserver_pid": os.getpid()}
                if self.path == "/__neuropose__/ui"
                else {"dagster_webserver_version": "test"}
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(json.dumps(info).encode())

        def log_message(self, *args):
            pass

    def serve(host: str):
        srv = http.server.HTTPServer((host, 0), Info)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    def ui(host: str, port: int, webserver_pid: int = os.getpid()) -> dict:
        return {"host": host, "port": port, "pid": 1, "children": {"webserver": {"pid": webserver_pid}}}

    lo = serve("127.0.0.1")
    port = lo.server_address[1]
    try:
        assert _webserver(ui("127.0.0.1", port), True).status == "ok"
        impostor = _webserver(ui("127.0.0.1", port, webserver_pid=4242424), True)
        assert impostor.status == "fail" and "not by the UI's webserver (pid 4242424)" in impostor.detail
        orphan = _webserver(ui("127.0.0.1", port), False)  # ui.json left by a UI that died, its webserver answering
        assert orphan.status == "fail" and "orphan" in orphan.detail
    finally:
        lo.shutdown()
        lo.server_close()
    assert _webserver(ui("127.0.0.1", port), False).status == "warn"  # nobody answers: just not running
    wide = serve("0.0.0.0")
    port = wide.server_address[1]
    try:
        exposed = _webserver(ui("127.0.0.1", port), True)  # started "on loopback", listening everywhere
        assert exposed.status == "fail" and "0.0.0.0" in exposed.detail
        assert _webserver(ui("0.0.0.0", port), True).status == "warn"
    finally:
        wide.shutdown()
    assert _webserver(None, False).status == "warn"


def test_pose_pool_follows_the_hardware_and_is_applied_to_the_instance(monkeypatch):
    import dagster as dg

    from neuropose_assets.core.io.concurrency import POSE_POOL, pose_slots
    from neuropose_assets.instance import apply_pose_slots

    assert pose_slots("blazepose", cores=8, override="") == (8, "BlazePose on the CPU: one per core (8 core(s))")
    assert pose_slots("metrabs", cores=8, gpus=2, override="")[0] == 2
    assert pose_slots("metrabs", cores=8, gpus=0, override="")[0] == 1
    assert pose_slots("blazepose", cores=8, override="3")[0] == 3
    with pytest.raises(ValueError, match="positive integer"):
        pose_slots("blazepose", override="0")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    from neuropose_assets.core.io.concurrency import gpu_count

    assert gpu_count() == 0
    monkeypatch.setenv("NEUROPOSE_POSE_SLOTS", "3")
    with dg.instance_for_test() as inst:
        assert apply_pose_slots(inst, "blazepose") == (3, "$NEUROPOSE_POSE_SLOTS=3")
        assert inst.event_log_storage.get_concurrency_info(POSE_POOL).slot_count == 3
        monkeypatch.delenv("NEUROPOSE_POSE_SLOTS")
        n, _ = apply_pose_slots(inst, "blazepose")
        assert n == (os.cpu_count() or 1) == inst.event_log_storage.get_concurrency_info(POSE_POOL).slot_count
