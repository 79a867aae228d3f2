"""Probe the second hardening round (issue "Hardening, second round"): every reproduction of the issue, against the real
CLI, the real `neuropose-assets ui` (daemon, code server, guarded webserver) and real kills; prints each case and the
tally per group as "held / tried".

    .venv/bin/python benchmarks/probe_hardening.py [--groups guard,names,stalls,garbage,archives,cli] [--keep DIR]

Takes ~5 min on 2 cores (the stalls group waits for run monitoring and a silent daemon's 60-s heartbeat limit).
The ENOSPC case mounts a small tmpfs and is skipped when mounting is not permitted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from neuropose_assets_tests.cli.test_daemon import _wait as wait  # noqa: E402  (the daemon tests' poll)

CLI = [sys.executable, "-m", "neuropose_assets.cli"]
RESULTS: dict[str, list[tuple[str, bool, str]]] = {}
DATA = Path()  # the UI's data root (set in main)


def case(group: str, name: str, held: bool, detail: str = "") -> bool:
    RESULTS.setdefault(group, []).append((name, bool(held), detail))
    print(f"  [{'held' if held else 'FAIL'}] {group}: {name}{' — ' + detail if detail else ''}", flush=True)
    return bool(held)


def cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 600):
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout
    )


def clean_error(res) -> bool:
    """Exit 2, one clear message, no traceback."""
    return res.returncode == 2 and "Traceback" not in res.stderr and res.stderr.strip() != ""


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


# -------------------------------------------------------------------------------------------------------- the UI


class UI:
    """`neuropose-assets ui` on ``data`` watching ``intake`` with fast sensor ticks, in its own session."""

    def __init__(self, data: Path, intake: Path, port: int, **env: str) -> None:
        self.data, self.port = data, port
        self.env = {
            **os.environ,
            "NEUROPOSE_INTAKE": str(intake),
            "NEUROPOSE_INTAKE_STABLE_SECONDS": "1",
            "NEUROPOSE_INTAKE_INTERVAL_SECONDS": "3",
            "NEUROPOSE_COHORT_INTERVAL_SECONDS": "3",
            "NEUROPOSE_POSE_SLOTS": "1",
            **env,
        }
        self.proc = None

    def start(self) -> bool:
        self.log = open(self.data.parent / f"ui-{time.time():.0f}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*CLI, "ui", "--data-root", str(self.data), "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return bool(wait(self.up, 120))

    def up(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=2)
            return True
        except OSError:
            return False

    def children(self) -> dict[str, int]:
        rec = json.loads((self.data / "dagster_home" / "ui.json").read_text())
        return {n: c["pid"] for n, c in rec["children"].items()}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def instance(data: Path):
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(data / "dagster_home")
    return DagsterInstance.get()


def key_of(rel: str) -> str:
    """The partition key the intake gave ``rel`` (path below the intake folder): pseudonymous here, so read from the
    private manifest (``NEUROPOSE_PSEUDONYMISE=all``)."""
    manifest = DATA / "private" / "pseudonyms.json"
    if manifest.exists():
        return next((k for k, v in json.loads(manifest.read_text()).items() if v == rel), rel)
    return rel


def runs_of(inst, rel: str) -> list:
    """The per-video runs (not the review runs) of intake file ``rel``."""
    return [
        r for r in inst.get_runs() if r.tags.get("dagster/partition") == key_of(rel) and r.job_name == "per_video_job"
    ]


def worker_in_poses(inst, rel: str) -> int | None:
    """The pid of the worker of the first run of intake file ``rel`` once its poses step has started."""
    from dagster import DagsterEventType

    for run in runs_of(inst, rel)[-1:]:
        starts = inst.all_logs(run.run_id, of_type=DagsterEventType.STEP_START)
        if any(e.step_key == "poses" for e in starts):
            for e in inst.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
                if (e.dagster_event.message or "").startswith("Started process for run"):
                    return int(e.dagster_event.engine_event_data.metadata["pid"].value)
    return None


def succeeded(inst, rel: str):
    from dagster import DagsterRunStatus

    return any(r.status == DagsterRunStatus.SUCCESS for r in runs_of(inst, rel))


def clip(cam01: Path, out: Path, slower: int = 1, frames: int | None = None) -> Path:
    tmp = out.with_name(f".{out.name}")
    args = ["-frames:v", str(frames)] if frames else []
    if slower == 1:
        ffmpeg("-i", str(cam01), *args, "-c", "copy", str(tmp))
    else:
        ffmpeg(
            "-i",
            str(cam01),
            "-vf",
            f"setpts={slower}*PTS",
            "-r",
            "30",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(tmp),
        )
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------------------------------------------------- groups


def probe_guard(ui: UI) -> None:
    url = f"http://127.0.0.1:{ui.port}/graphql"
    mutation = (
        'mutation { addDynamicPartition(partitionsDefName: "videos", partitionKey: "probe-injected", '
        'repositorySelector: {repositoryName: "__repository__", repositoryLocationName: "neuropose_assets"}) '
        "{ __typename } }"
    )

    def status(req) -> int:
        try:
            return urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as err:
            return err.code

    inst = instance(ui.data)
    twice = urllib.parse.urlencode([("query", "{ version }"), ("query", mutation)])
    code = status(urllib.request.Request(f"{url}?{twice}"))
    case(
        "guard",
        "duplicated query parameters (the first a query, the last a mutation)",
        code == 400 and not inst.has_dynamic_partition("videos", "probe-injected"),
        f"HTTP {code}",
    )
    body = json.dumps({"query": "{ version }"}).encode()
    code = status(
        urllib.request.Request(url, body, {"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"})
    )
    case("guard", "Sec-Fetch-Site: same-site (a page on another 127.0.0.1 port)", code == 403, f"HTTP {code}")
    code = status(
        urllib.request.Request(
            f"{url}?{urllib.parse.urlencode({'query': mutation})}",
            b"a=1",
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    case(
        "guard",
        "form body with the mutation in the query string",
        code == 415 and not inst.has_dynamic_partition("videos", "probe-injected"),
        f"HTTP {code}",
    )
    batch = json.dumps([{"query": mutation}, {"query": "{ version }"}]).encode()
    code = status(
        urllib.request.Request(
            url, batch, {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{ui.port + 1}"}
        )
    )
    case("guard", "batched JSON array from another port's page", code == 403, f"HTTP {code}")
    code = status(
        urllib.request.Request(
            f"{url}?{urllib.parse.urlencode({'query': mutation})}",
            headers={"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
        )
    )
    case("guard", "an <img> tag on a same-site page", code == 403, f"HTTP {code}")
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(
            f"ws://127.0.0.1:{ui.port}/graphql",
            origin=f"http://127.0.0.1:{ui.port + 1}",
            subprotocols=["graphql-ws"],
            open_timeout=10,
        ) as ws:
            ws.send(json.dumps({"type": "connection_init"}))
            held, detail = False, "accepted"
    except InvalidStatus as err:
        held, detail = err.response.status_code == 403, f"HTTP {err.response.status_code}"
    case("guard", "WebSocket subscription from another port's page", held, detail)
    code = status(
        urllib.request.Request(url, body, {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{ui.port}"})
    )
    case("guard", "the UI's own request still passes", code == 200, f"HTTP {code}")


def probe_names(ui: UI, intake: Path, cam01: Path, tmp: Path) -> None:
    from dagster import DagsterRunStatus

    folder = intake / "Jane_Doe_2026" / "S01"
    folder.mkdir(parents=True)
    clip(cam01, folder / "Jane_Doe_2026_walk.mp4", frames=20)
    arm = clip(cam01, tmp / "arm.mp4", frames=24)
    archive = tmp / "jane.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(arm, "S02/Jane_Doe_2026_arm.mp4")
    env = {"NEUROPOSE_PSEUDONYMISE": "all", "NEUROPOSE_INTAKE": str(intake)}
    res = cli(
        "ingest", str(archive), "--task", "arm_raise", "--cohort", "jane_doe_2026", "--data-root", str(ui.data), env=env
    )
    case(
        "names",
        "ingest into an existing Jane_Doe_2026/ as jane_doe_2026: no sibling folder",
        res.returncode == 0 and sorted(p.name for p in intake.iterdir()) == ["Jane_Doe_2026"],
        res.stderr[-200:],
    )
    named = clip(cam01, tmp / "Jane_Doe_2026_cli.mp4", frames=22)
    res = cli("run", str(named), "--cohort", "Jane_Doe_2026", "--task", "generic", "--data-root", str(ui.data), env=env)
    inst = instance(ui.data)

    def done():
        runs = [r for r in inst.get_runs() if r.job_name == "per_video_job"]
        return len([r for r in runs if r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)]) >= 3

    wait(done, 300)
    time.sleep(8)  # the cohort and review runs after them
    cohorts = inst.get_dynamic_partitions("cohorts")
    case("names", "one cohort for the folder, --cohort as typed and in lower case", len(cohorts) == 1, str(cohorts))
    import re

    name = re.compile(rb"jane[ _-]?doe", re.IGNORECASE)  # 7+ letters: base64 images never match by chance
    leaks = []
    for p in ui.data.rglob("*"):
        rel = p.relative_to(ui.data)
        if rel.parts[0] == "private":
            continue
        if name.search(str(rel).encode()) or (p.is_file() and name.search(p.read_bytes())):
            leaks.append(str(rel))
    declared = []
    import polars as pl

    for f in (ui.data / "assets" / "task").glob("*.parquet"):
        declared += pl.read_parquet(f)["declared_by"].drop_nulls().to_list()
    case(
        "names",
        "'declared by' of an ingested video names the rule, not the member path",
        declared and not any("jane" in d.lower() for d in declared),
        "; ".join(sorted(set(declared))),
    )
    case(
        "names",
        "no name anywhere under the data root (SQLite runs.db, event log, files) outside private/",
        not leaks and res.returncode == 0,
        ", ".join(leaks[:5]) or f"run exit {res.returncode}",
    )


def probe_stalls(ui: UI, intake: Path, cam01: Path) -> UI:
    (intake / "stall").mkdir(parents=True, exist_ok=True)
    inst = instance(ui.data)
    clip(cam01, intake / "stall" / "a.mp4")
    if not wait(lambda: worker_in_poses(inst, "stall/a.mp4"), 180, step=0.2):
        case("stalls", "run a reached pose estimation", False)
        return ui
    daemon = ui.children()["daemon"]
    os.kill(daemon, signal.SIGKILL)
    restarted = wait(lambda: ui.children()["daemon"] != daemon and alive(ui.children()["daemon"]), 15, step=0.5)
    res = cli("health", "--data-root", str(ui.data), env=ui.env)
    ok = wait(lambda: succeeded(inst, "stall/a.mp4"), 120)
    case(
        "stalls",
        "kill -9 of the daemon mid-run: a new daemon, the run finishes",
        restarted and ok and len(runs_of(inst, "stall/a.mp4")) == 1,
        f"health right after: exit {res.returncode}",
    )
    os.kill(ui.children()["daemon"], signal.SIGSTOP)  # alive but silent
    time.sleep(66)
    res = cli("health", "--data-root", str(ui.data), env=ui.env)
    os.kill(ui.children()["daemon"], signal.SIGCONT)
    case(
        "stalls",
        "health with a silent daemon (heartbeat > 30 s + 30 s)",
        res.returncode == 1 and "silent" in res.stdout,
        next((ln for ln in res.stdout.splitlines() if "daemon" in ln), ""),
    )
    clip(cam01, intake / "stall" / "b.mp4", slower=10)  # ~30 s of pose: outlives health and the restart
    orphan = wait(lambda: worker_in_poses(inst, "stall/b.mp4"), 120, step=0.2)
    first = ui.children()
    os.kill(ui.proc.pid, signal.SIGKILL)
    ui.proc.wait(10)
    gone = wait(lambda: not ui.up() and not alive(first["daemon"]) and not alive(first["webserver"]), 20, step=0.5)
    res = cli("health", "--data-root", str(ui.data), env=ui.env)
    case(
        "stalls",
        "kill -9 of the UI: its daemon and webserver die with it; health fails on the orphaned run worker",
        gone and alive(orphan or 0) and res.returncode == 1 and "still run" in res.stdout,
        next((ln for ln in res.stdout.splitlines() if "daemon" in ln), ""),
    )
    again = UI(ui.data, intake, ui.port, **{k: v for k, v in ui.env.items() if k.startswith("NEUROPOSE_")})
    started = again.start()
    retried = wait(lambda: succeeded(inst, "stall/b.mp4"), 240)
    failed = [r for r in runs_of(inst, "stall/b.mp4") if r.status.value == "FAILURE"]
    case(
        "stalls",
        "a new ui on the same port: orphans stopped, the dead run failed by monitoring and retried",
        started and not alive(orphan or 0) and retried and failed,
        f"{len(runs_of(inst, 'stall/b.mp4'))} run(s)",
    )
    clip(cam01, intake / "stall" / "c.mp4", frames=30)
    case(
        "stalls",
        "the only pose slot is free again: the next video runs",
        wait(lambda: succeeded(inst, "stall/c.mp4"), 180),
    )
    res = cli("health", "--data-root", str(ui.data), env=again.env)
    case("stalls", "health is green again", res.returncode == 0, res.stdout.replace("\n", " | ")[:300])
    return again


def probe_fifo(ui: UI, intake: Path) -> None:
    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.dagster_defs.sensors import load_intake_state, report_tag

    (intake / "stall").mkdir(parents=True, exist_ok=True)
    os.mkfifo(intake / "stall" / "pipe.mp4")
    time.sleep(12)  # a few sensor ticks: the daemon must not block on it, and the problem is remembered as reported
    reported = load_intake_state(Layout(ui.data))["reported"]
    case(
        "garbage",
        "a FIFO in the intake is reported (once: remembered) and never opened",
        report_tag("special:stall/pipe.mp4") in reported and ui.up(),
    )


def probe_garbage(cam01: Path, tmp: Path) -> None:
    import cv2
    import numpy as np

    data = tmp / "garbage-data"
    whole = tmp / "whole.mp4"
    ffmpeg("-i", str(cam01), "-c", "copy", "-movflags", "+faststart", str(whole))
    cut = tmp / "cut97.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.97)])
    res = cli("run", str(cut), "--task", "generic", "--no-review", "--data-root", str(data))
    line = next((ln.strip() for ln in res.stdout.splitlines() if "could not be decoded" in ln), "")
    case(
        "garbage", "MP4 truncated to 97 % (index first): analysed, with a warning and the count", bool(line), line[:140]
    )
    for ext, fmt in (("jpg", "JPEG"), ("png", "PNG")):
        pic = tmp / f"photo.{ext}"
        cv2.imwrite(str(pic), np.full((120, 160, 3), 128, np.uint8))
        renamed = tmp / f"photo_{ext}.mp4"
        shutil.copyfile(pic, renamed)
        res = cli("run", str(renamed), "--task", "generic", "--no-review", "--data-root", str(data))
        case(
            "garbage",
            f"a {fmt} renamed .mp4 is refused as not a video",
            res.returncode == 1 and f"{fmt} picture, not a video" in res.stdout,
            res.stdout.strip().splitlines()[-1][:140] if res.stdout.strip() else res.stderr[-140:],
        )


def probe_archives(tmp: Path) -> None:
    data, intake = tmp / "zip-data", tmp / "zip-intake"
    intake.mkdir()

    def ingest(archive: Path, *extra: str, cwd=None, intake_arg=None):
        return cli(
            "ingest", str(archive), "--intake", intake_arg or str(intake), "--data-root", str(data), *extra, cwd=cwd
        )

    def placed() -> int:
        return sum(1 for p in intake.rglob("*") if p.is_file())

    bomb = tmp / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, zf.open("c/big.mp4", "w") as f:
        chunk = bytes(1 << 20)
        for _ in range(1024):  # 1 GiB of zeros
            f.write(chunk)
    res = ingest(bomb)
    case(
        "archives",
        f"{bomb.stat().st_size / 1e6:.1f} MB zip expanding to 1 GiB",
        clean_error(res) and "zip bomb" in res.stderr and placed() == 0,
        res.stderr.strip().splitlines()[-1][:120] if res.stderr else "",
    )
    many = tmp / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(20_000):
            zf.writestr(f"c/{i}.mp4", b"v")
    t0 = time.perf_counter()
    res = ingest(many)
    dt = time.perf_counter() - t0
    case(
        "archives",
        "20,000-member archive refused at once",
        clean_error(res) and "entries" in res.stderr and placed() == 0,
        f"{dt:.1f} s",
    )
    small = tmp / "small-fs"
    small.mkdir()
    mounted = (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(small)], capture_output=True).returncode
        == 0
    )
    if mounted:
        try:
            big = tmp / "big.zip"
            with zipfile.ZipFile(big, "w") as zf:
                zf.writestr("c/a.mp4", os.urandom(12 << 20))
            res = cli("ingest", str(big), "--intake", str(small), "--data-root", str(data))
            case(
                "archives",
                "out of space: one message, nothing left",
                clean_error(res) and "free" in res.stderr and not any(small.rglob("*.mp4")),
                res.stderr.strip()[:120],
            )
        finally:
            subprocess.run(["umount", str(small)], check=False)
    else:
        print("  [skip] archives: out of space (mounting a tmpfs is not permitted here)")
    long = tmp / "long.zip"
    with zipfile.ZipFile(long, "w") as zf:
        zf.writestr(f"c/{'x' * 300}.mp4", b"v")
    res = ingest(long)
    case("archives", "a 300-character member name", clean_error(res) and placed() == 0, res.stderr.strip()[:120])
    legacy = tmp / "legacy.zip"
    with zipfile.ZipFile(legacy, "w") as zf:
        zf.writestr("c/José.mp4", b"v")
    raw = bytearray(legacy.read_bytes().replace("é".encode(), b"\xe9\xe9"))
    with zipfile.ZipFile(legacy) as zf:
        offsets, pos = [i.header_offset for i in zf.infolist()], zf.start_dir
    import struct

    for off in offsets:  # clear the UTF-8 flag: a Latin-1 name, as old tools write
        struct.pack_into("<H", raw, off + 6, struct.unpack_from("<H", raw, off + 6)[0] & ~0x800)
    struct.pack_into("<H", raw, pos + 8, struct.unpack_from("<H", raw, pos + 8)[0] & ~0x800)
    legacy.write_bytes(bytes(raw))
    res = ingest(legacy)
    case(
        "archives",
        "a member name that is not UTF-8",
        clean_error(res) and "not UTF-8" in res.stderr and placed() == 0,
        res.stderr.strip().splitlines()[-1][:120] if res.stderr else "",
    )
    good = tmp / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("S01/walk.mp4", b"v1")
        zf.writestr("S02/walk.mp4", b"v2")
    work = tmp / "work"
    work.mkdir()
    res = ingest(good, "--cohort", "rel", "--task", "gait", cwd=work, intake_arg="relative/dir")
    proto = work / "relative" / "dir" / "rel" / "protocol.yaml"
    case(
        "archives",
        "--intake relative/dir with --task: placed, the rule written",
        res.returncode == 0 and proto.exists() and "gait" in proto.read_text(),
        res.stderr.strip()[-120:],
    )
    before = proto.read_bytes()
    clash = tmp / "clash.zip"
    with zipfile.ZipFile(clash, "w") as zf:
        zf.writestr("S03/new.mp4", b"v3")
        zf.writestr("S01/walk.mp4", b"again")
    res = ingest(clash, "--cohort", "rel", "--task", "squat", cwd=work, intake_arg="relative/dir")
    case(
        "archives",
        "a failed ingest writes nothing, its protocol rule included",
        clean_error(res) and proto.read_bytes() == before and not (work / "relative" / "dir" / "rel" / "S03").exists(),
    )


def probe_cli(tmp: Path) -> None:
    video = tmp / "v.mp4"
    video.write_bytes(b"x")
    data = tmp / "cli-data"
    for name, args in (
        ("expected_repetitions=99999999999999999999999", ["--param", "expected_repetitions=99999999999999999999999"]),
        ("walkway_m=1e400", ["--param", "walkway_m=1e400"]),
        ("--key ../../etc/x", ["--key", "../../etc/x"]),
        ("--cohort '!!!'", ["--cohort", "!!!"]),
    ):
        res = cli("run", str(video), "--task", "tug", *args, "--data-root", str(data))
        case(
            "cli",
            name,
            clean_error(res) and len(res.stderr.strip().splitlines()) <= 3,
            res.stderr.strip().splitlines()[-1][:120],
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", default="guard,names,stalls,garbage,archives,cli")
    ap.add_argument("--keep", help="work in this folder and keep it")
    args = ap.parse_args()
    groups = set(args.groups.split(","))
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="probe-hardening-"))
    tmp.mkdir(parents=True, exist_ok=True)
    from neuropose_assets.core.io.samples import fetch_samples
    from neuropose_assets.core.io.storage import default_cache_dir

    cam01 = fetch_samples(default_cache_dir() / "samples", ["pose2sim_single_cam01"])["pose2sim_single_cam01"]
    t0 = time.time()
    try:
        if groups & {"guard", "names", "stalls", "garbage"}:
            global DATA
            data, intake = tmp / "data", tmp / "intake"
            DATA = data
            intake.mkdir(exist_ok=True)
            ui = UI(data, intake, 3300 + os.getpid() % 500, NEUROPOSE_PSEUDONYMISE="all")
            print(f"starting the UI on port {ui.port} ...", flush=True)
            if not ui.start():
                print("the UI did not start", file=sys.stderr)
                return 1
            try:
                if "guard" in groups:
                    probe_guard(ui)
                if "names" in groups:
                    probe_names(ui, intake, cam01, tmp)
                if "garbage" in groups:
                    probe_fifo(ui, intake)
                if "stalls" in groups:
                    ui = probe_stalls(ui, intake, cam01)
            finally:
                ui.stop()
        if "garbage" in groups:
            probe_garbage(cam01, tmp)
        if "archives" in groups:
            probe_archives(tmp)
        if "cli" in groups:
            probe_cli(tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nheld / tried per group ({time.time() - t0:.0f} s):")
    for group, rows in RESULTS.items():
        print(f"  {group:9s} {sum(r[1] for r in rows)} / {len(rows)}")
    return 0 if all(r[1] for rows in RESULTS.values() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
