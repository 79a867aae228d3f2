"""Review video and contact sheet on a synthetic video with a known stick figure; plots and their Markdown."""

import numpy as np
import polars as pl

from neuropose_assets.core.kinematics.skeletons import BLAZEPOSE_33
from neuropose_assets.core.pose.base import FramePoses
from neuropose_assets.core.pose.estimate import build_poses_table
from neuropose_assets.core.review.render import contact_sheet, event_label, jpeg_bytes, render_review_video
from neuropose_assets_tests.conftest import write_video
from neuropose_assets_tests.synthetic import _native, body


def _poses(n: int, w: int, h: int) -> pl.DataFrame:
    """A standing figure (synthetic.body) drawn in the middle of a w×h frame, the subject; a second person far
    left."""
    b = body()
    uv = b[:, [2, 1]] * 0.2 + np.array([w / 2, h * 0.25])  # seen from the front: u = z, v = y; 0.2 px/mm
    other = uv + np.array([-w * 0.35, 0])
    frames = []
    for _ in range(n):
        p2 = np.stack([_native(uv), _native(other)]).astype(np.float32)
        frames.append(
            FramePoses(
                np.array([[w / 2 - 30, 10, 60, 200, 0.9], [20, 10, 60, 200, 0.9]], np.float32),
                np.zeros((2, 33, 3), np.float32),
                p2,
                np.ones((2, 33), np.float32),
            )
        )
    return build_poses_table(frames, [np.array([0, 1])] * n, 0, np.arange(n) / 25.0, BLAZEPOSE_33.joints)


def test_the_review_video_is_h264_with_the_subject_and_events_drawn(tmp_path):
    import av

    w, h, n = 320, 240, 40
    video = write_video(tmp_path / "in.mp4", [np.full((h, w, 3), 60, np.uint8)] * n, fps=25.0)
    events = pl.DataFrame(
        {"event": ["heel_strike"], "side": ["left"], "frame": [10], "time_s": [0.4]},
        schema_overrides={"frame": pl.Int32},
    )
    res = render_review_video(video, _poses(n, w, h), events, tmp_path / "review.mp4", skeleton=BLAZEPOSE_33)
    assert (res.frames, res.width_px, res.height_px) == (n, w, h) and res.frames_per_s > 0
    with av.open(str(tmp_path / "review.mp4")) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == n
    f = frames[20].astype(int)
    reddish = (f[..., 0] > 150) & (f[..., 2] < 110)  # the subject's right side
    bluish = (f[..., 2] > 150) & (f[..., 0] < 110)  # its left side
    assert reddish[:, w // 3 :].sum() > 20 and bluish[:, w // 3 :].sum() > 20
    grey = (np.abs(f[..., 0] - 150) < 25) & (np.abs(f[..., 1] - 150) < 25) & (np.abs(f[..., 2] - 150) < 25)
    assert grey[:, : w // 3].sum() > 10  # the other person, dimmed, on the left
    assert len(res.key_frames) == 1 and res.key_frames[0][0] == "HS L"
    sheet = contact_sheet(res.key_frames)
    assert sheet.shape[0] > res.key_frames[0][2].shape[0] and jpeg_bytes(sheet)[:3] == b"\xff\xd8\xff"
    assert contact_sheet([]) is None and event_label("seat_off", None) == "seat-off"


def test_figures_are_readable_wide_large_type_and_no_label_on_another():
    """Every figure ≥ 900 px wide, no text under 9 pt, no two texts overlapping — also with many events close
    together (a fast sit-to-stand: five event kinds per repetition) and on the per-task cohort charts."""
    from neuropose_assets.core.analysis.events import analyse_task
    from neuropose_assets.core.analysis.tasks import TaskSpec
    from neuropose_assets.core.review import plots
    from neuropose_assets_tests import synthetic as S

    cases = []
    feats, _ = S.walk(fps=60.0)
    res = analyse_task(feats, TaskSpec(task="gait"))
    assert res.events.height >= 8
    cases += [
        plots.signal_plot(feats, res.events, res.repetitions, TaskSpec(task="gait")),
        plots.angles_plot(feats, TaskSpec(task="gait")),
        plots.gait_cycle_plot(feats, res.repetitions),
    ]
    sts, _ = S.sit_to_stand(reps=5)
    spec = TaskSpec(task="sit_to_stand")
    res_sts = analyse_task(sts, spec)
    assert res_sts.events.height >= 15
    cases.append(plots.signal_plot(sts, res_sts.events, res_sts.repetitions, spec))
    table = pl.DataFrame(
        {
            "partition": [f"patient_{i:03d}_visit_2" for i in range(12)],
            "task": ["gait"] * 6 + ["sit_to_stand"] * 6,
            "cadence_steps_min": [101.5 + i for i in range(6)] + [None] * 6,
            "five_sts_time_s": [None] * 6 + [9.5, 12.25, None, 30.0, 11.0, 8.0],
            "repetitions": [None] * 6 + [5, 5, 3, 5, 5, 5],
        }
    )
    charts = plots.cohort_charts(table)
    assert set(charts) == {"gait", "sit_to_stand"}
    cases += list(charts.values())
    timeline = [
        (s, {"gait_speed_m_s": (v, v - 0.04, v + 0.04), "cadence_steps_min": (100 + 3 * i, 97 + 3 * i, 103 + 3 * i)})
        for i, (s, v) in enumerate([("2026-01-10", 0.52), ("2026-04-10", 0.61), ("2026-10-01", 0.75)])
    ]
    cases.append(
        plots.subject_timeline(
            timeline, ["gait_speed_m_s", "cadence_steps_min"], "P017: gait", {"gait_speed_m_s": 0.11}
        )
    )
    assert plots.subject_timeline(timeline[:1], ["gait_speed_m_s"], "one session") is None
    for fig in cases:
        assert fig.get_size_inches()[0] * plots.DPI >= plots.MIN_WIDTH_PX
        assert plots.smallest_font_pt(fig) >= plots.MIN_FONT_PT
        assert plots.overlapping_texts(fig) == [], fig.texts
        png = plots.png(fig)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(png) < 250_000  # small enough for the event log
    assert plots.md_image(b"x", "alt").startswith("![alt](data:image/png;base64,")
    assert plots.gait_cycle_plot(feats, res.repetitions.clear()) is None


def test_the_overlap_check_catches_overlapping_labels():
    from neuropose_assets.core.review import plots

    fig, ax = plots._figure(3.0)
    ax.text(0.5, 0.5, "HS L")
    ax.text(0.505, 0.5, "TO L")
    assert plots.overlapping_texts(fig)
    plots.close(fig)


def test_review_labels_one_per_side_and_the_subject_label_clear_of_them(monkeypatch):
    from neuropose_assets.core.review import render
    from neuropose_assets.core.review.render import EVENT_HOLD_S, active_events

    ev = [("toe_off", "left", 10, 0.40), ("heel_strike", "left", 15, 0.60), ("toe_off", "right", 16, 0.64)]
    assert active_events(ev, 12, 0.48) == {"left": "TO L"}
    assert active_events(ev, 16, 0.64) == {"left": "HS L", "right": "TO R"}  # never TO L and HS L at once
    assert active_events(ev, 40, 0.64 + EVENT_HOLD_S + 0.01) == {}
    drawn = []
    monkeypatch.setattr(
        render, "_text", lambda img, text, org, size, colour=None: drawn.append(render._text_box(text, org, size))
    )
    uv = np.full((len(render.CLINICAL_JOINTS), 2), np.nan)
    uv[render._CI["head"]] = (20, 30)  # the head in the top-left corner, where the time and events are written
    render.annotate(
        np.zeros((480, 640, 3), np.uint8),
        [(3, True, uv)],
        1.0,
        0.6,
        {"left": "HS L", "right": "TO R", None: "seat-off"},
    )
    assert len(drawn) == 5
    for i, a in enumerate(drawn):
        for b in drawn[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_review_frames_are_the_pose_models_frames_also_for_rotated_phone_video(tmp_path):
    """decode_scaled (FFmpeg, scaled) must give the same upright frames as iter_frames (what the poses saw)."""
    from neuropose_assets.core.io.video import iter_frames, probe_video
    from neuropose_assets.core.review.render import decode_scaled
    from neuropose_assets_tests import media

    frames = []
    for i in range(6):
        img = np.zeros((120, 200, 3), np.uint8)
        img[10:40, 10 + 5 * i : 60 + 5 * i] = 255  # a bright block near the top-left, moving right
        frames.append(img)
    landscape = write_video(tmp_path / "landscape.mp4", frames, fps=25.0)
    phone = tmp_path / "phone.mp4"
    media.ffmpeg("-display_rotation:v:0", "90", "-i", str(landscape), "-c", "copy", str(phone))
    probe = probe_video(phone)
    assert probe.rotation_deg in (90, 270) and (probe.width_px, probe.height_px) == (120, 200)
    ours = list(decode_scaled(phone, probe.width_px, probe.height_px, probe.rotation_deg))
    theirs = [f.rgb for f in iter_frames(phone)]
    assert len(ours) == len(theirs) == 6
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape == (200, 120, 3)
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 8  # the same picture, the same way up
