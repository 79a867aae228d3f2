import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from neuropose_assets import stages
from neuropose_assets_tests import REPO

HEAVY = ("tensorflow", "mediapipe", "tslearn", "numba", "cv2", "pandera")


def test_definitions_load_and_validate():
    from neuropose_assets.definitions import defs

    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {
        "raw_video",
        "poses",
        "kinematics",
        "features",
        "task",
        "events",
        "repetitions",
        "outcomes",
        "repetition_dtw",
        "review_video",
        "report",
        "cohort_outcomes",
        "cohort_dtw",
        "subject_changes",
        "normative_comparison",
        "group_comparison",
        "subject_reports",
        "reference_events",
        "opensim_export",
    }
    assert keys == set(stages.assets())
    assert defs.resolve_job_def("review_job").partitions_def.name == "videos"
    assert {s.name for s in defs.sensors} == {"intake_sensor", "cohort_sensor", "review_sensor"}
    assert defs.resolve_job_def("per_video_job").partitions_def.name == "videos"


def test_code_location_import_pulls_in_no_heavy_library():
    code = f"import sys, neuropose_assets.definitions; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_dagster_cli_validates_the_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "NEUROPOSE_DATA_ROOT": str(tmp_path / "data")}
    cli = Path(sys.executable).parent / "dagster"
    out = subprocess.run(
        [str(cli), "definitions", "validate", "-w", "workspace.yaml"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webserver_serves_the_code_location(tmp_path):
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "NEUROPOSE_DATA_ROOT": str(tmp_path / "data")}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("webserver did not start in 90 s")
        query = (
            "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
            "locationOrLoadError { __typename } } } } }"
        )
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        for _ in range(60):
            entries = json.load(urllib.request.urlopen(req, timeout=10))["data"]["workspaceOrError"]["locationEntries"]
            if entries and entries[0]["loadStatus"] == "LOADED":
                break
            time.sleep(0.5)
        assert entries[0]["name"] == "neuropose_assets"
        assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize(
    "module, name, core",
    [
        (
            "neuropose_assets.dagster_defs.assets.poses",
            "PosesConfig",
            "neuropose_assets.core.pose.tracking:TrackingConfig",
        ),
        (
            "neuropose_assets.dagster_defs.assets.features",
            "FeaturesAssetConfig",
            "neuropose_assets.core.kinematics.features:FeaturesConfig",
        ),
        (
            "neuropose_assets.dagster_defs.assets.events",
            "EventsAssetConfig",
            "neuropose_assets.core.analysis.events:EventsConfig",
        ),
        (
            "neuropose_assets.dagster_defs.assets.repetition_dtw",
            "DTWAssetConfig",
            "neuropose_assets.core.comparison.dtw:RepetitionDTWConfig",
        ),
        (
            "neuropose_assets.dagster_defs.assets.cohort_dtw",
            "CohortDTWAssetConfig",
            "neuropose_assets.core.comparison.dtw:CohortDTWConfig",
        ),
    ],
)
def test_run_config_is_generated_from_the_core_models(module, name, core):
    """One source of truth: the Dagster config has exactly the core model's fields, defaults and descriptions."""
    import importlib

    cfg_cls = getattr(importlib.import_module(module), name)
    mod, cls = core.split(":")
    core_cls = getattr(importlib.import_module(mod), cls)
    assert set(cfg_cls.model_fields) == set(core_cls.model_fields)
    assert cfg_cls().to_core() == core_cls()
    documented = [f for f, info in cfg_cls.model_fields.items() if info.description]
    assert len(documented) == len(core_cls.model_fields), (
        f"undocumented: {set(core_cls.model_fields) - set(documented)}"
    )


def test_invalid_run_config_fails_with_the_core_models_message(tmp_path):
    from neuropose_assets.dagster_defs.assets.events import EventsAssetConfig
    from neuropose_assets.dagster_defs.config import config_or_fail

    bad = EventsAssetConfig(squat={"min_prominence": -1.0})
    with pytest.raises(dg.Failure, match="events config is invalid.*min_prominence"):
        config_or_fail(bad, "events")


def test_cli_help_is_plain_text():
    out = subprocess.run(
        [sys.executable, "-m", "neuropose_assets.cli", "--help"], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    assert "``" not in out and ":func:" not in out and "outcomes" in out and "-style materialization" not in out


def test_num_aug_has_one_default():
    import inspect

    from neuropose_assets.core.pose.metrabs import MetrabsBackend
    from neuropose_assets.core.pose.metrabs_model import DEFAULT_NUM_AUG
    from neuropose_assets.dagster_defs.resources import PoseModelResource

    core = inspect.signature(MetrabsBackend.__init__).parameters["num_aug"].default
    assert PoseModelResource().num_aug == core == DEFAULT_NUM_AUG == 5


def test_an_unknown_pose_backend_fails_once_without_retries(tmp_path, gradient_video):
    from neuropose_assets.dagster_defs.resources import PoseModelResource
    from neuropose_assets.definitions import build_defs
    from neuropose_assets.service.runs import failure_message, register_videos

    defs = build_defs(str(tmp_path / "data"), PoseModelResource(backend="openpose"))
    with dg.instance_for_test() as inst:
        from neuropose_assets.core.io.storage import Layout

        register_videos(inst, Layout(tmp_path / "data"), {"v": gradient_video}, "c")
        res = defs.resolve_job_def("per_video_job").execute_in_process(
            partition_key="v",
            instance=inst,
            raise_on_error=False,
            asset_selection=[dg.AssetKey("raw_video"), dg.AssetKey("poses")],
        )
    assert not res.success and "unknown pose backend 'openpose'" in failure_message(res)
    assert not [e for e in res.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_the_io_manager_refuses_object_storage_with_a_clear_message():
    from neuropose_assets.dagster_defs.io_manager import ParquetIOManager

    @dg.asset
    def table():
        import polars as pl

        return pl.DataFrame({"a": [1]})

    with pytest.raises(Exception) as err:
        dg.materialize([table], resources={"io_manager": ParquetIOManager(data_root="memory://bucket")})
    cause = err.value.__cause__ or err.value
    assert "local file system" in str(cause) and "'memory' storage" in str(cause)


def test_the_stage_list_matches_the_code():
    """Each stage's asset is defined where the list says, in the job it says, partitioned as it says, with the config
    model and contract it names; the core modules it names exist; the job's selection is exactly its stages."""
    import importlib

    from data_contracts import SCHEMAS
    from neuropose_assets.dagster_defs.steps import Part
    from neuropose_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for s in stages.STAGES:
        module, name = stages.definition_at(s.asset)
        definition = getattr(importlib.import_module(f"neuropose_assets.dagster_defs.assets.{module}"), name)
        assert dg.AssetKey(s.asset) in definition.keys, s
        own = getattr(importlib.import_module(f"neuropose_assets.dagster_defs.assets.{s.defs}"), s.function)
        assert s.asset in (own.outs if isinstance(own, Part) else {k.path[-1] for k in own.keys}), s
        node = graph.get(dg.AssetKey(s.asset))
        assert node.partitions_def.name == {"video": "videos", "cohort": "cohorts"}[s.partitions], s
        assert s.contract is None or s.contract in SCHEMAS, s
        for name in s.core.split(", "):
            assert (REPO / "neuropose_assets" / "core" / (name if name.endswith("/") else f"{name}.py")).exists(), s
        if s.config:
            module, cls = s.config.split(":")
            model = getattr(importlib.import_module(f"neuropose_assets.{module}"), cls)
            fields = definition.op.config_schema.config_type.fields  # the Dagster config mirrors the core model
            if stages.step_of(s.asset) in stages.STEPS:  # a fused step: one section per stage
                fields = fields[s.function].config_type.fields
            assert set(fields) == set(model.model_fields), s
    for job in stages.JOBS:
        selected = {k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.selected_asset_keys}
        assert selected == set(stages.assets(job)), job
    assert set(SCHEMAS) == set(stages.assets(tables=True))  # every contract belongs to a stage, and the reverse
