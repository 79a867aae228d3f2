import numpy as np
import pytest

from neuropose_assets.core.pose.tracking import TrackingConfig, box_iou, select_subject, track_boxes


def box(x, y, w=100, h=200, c=0.9):
    return [x, y, w, h, c]


def test_iou():
    a = np.array([box(0, 0, 10, 10)], float)
    b = np.array([box(0, 0, 10, 10), box(5, 0, 10, 10), box(50, 50, 10, 10)], float)
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 50 / 150, 0.0])


def test_two_people_keep_their_ids_when_detection_order_swaps_and_across_a_gap():
    frames = []
    for i in range(10):
        left, right = box(100 + i, 100), box(600 - i, 100, 150, 300)
        frames.append(np.array([left, right] if i % 2 else [right, left], float))
    frames.insert(5, np.zeros((0, 5)))  # nobody detected in one frame
    ids = track_boxes(frames, TrackingConfig(max_gap_frames=2))
    left_ids = {int(t[np.argmin(b[:, 0])]) for b, t in zip(frames, ids) if len(b)}
    assert len(left_ids) == 1
    assert max(int(t.max()) for t in ids if len(t)) == 1


def test_subject_policies():
    frames = [np.array([box(0, 0, 50, 50), box(900, 500, 300, 300)], float) for _ in range(5)]
    frames += [np.array([box(0, 0, 50, 50)], float) for _ in range(3)]
    ids = track_boxes(frames)
    assert select_subject(frames, ids, policy="longest_track") == 0
    assert select_subject(frames, ids, policy="largest_box") == 1
    assert select_subject(frames, ids, policy="most_central", image_size=(2000, 1200)) == 1
    assert select_subject([np.zeros((0, 5))], [np.zeros(0, int)]) is None
    with pytest.raises(ValueError, match="unknown subject policy"):
        select_subject(frames, ids, policy="tallest")  # type: ignore[arg-type]


def test_fragments_of_one_walking_person_are_joined_across_gaps():
    """A person crossing the view, lost three times (occluded / the model looks at someone else): one track."""
    from neuropose_assets.core.pose.tracking import join_fragments

    fps = 30.0
    frames = []
    for i in range(300):
        lost = (40 <= i < 70) or (120 <= i < 125) or (200 <= i < 260)  # gaps of 1.0 s, 0.17 s, 2.0 s
        frames.append(np.zeros((0, 5)) if lost else np.array([box(100 + 4 * i, 300)], float))  # 0.6 box heights/s
    times = np.arange(300) / fps
    raw = track_boxes(frames, TrackingConfig(max_gap_frames=10))
    assert len({int(t) for ids in raw for t in ids}) == 3  # the IoU tracker alone splits it
    joined = join_fragments(frames, raw, times, TrackingConfig(max_gap_frames=10))
    assert {int(t) for ids in joined for t in ids} == {0}


def test_a_different_person_elsewhere_is_not_joined_and_single_person_recordings_merge():
    from neuropose_assets.core.pose.tracking import join_fragments

    frames = [np.array([box(100, 300)], float)] * 20 + [np.array([box(1500, 300, 60, 120)], float)] * 20
    times = np.arange(40) / 30.0
    ids = track_boxes(frames)
    assert len({int(t) for t in np.concatenate(join_fragments(frames, ids, times))}) == 2  # jump + size change
    merged = join_fragments(frames, ids, times, all_persons_detected=True)  # nobody else was ever in view
    assert {int(t) for t in np.concatenate(merged)} == {0}
    two_at_once = frames[:5] + [np.array([box(100, 300), box(900, 300)], float)]
    ids2 = track_boxes(two_at_once)
    assert (
        len({int(t) for t in np.concatenate(join_fragments(two_at_once, ids2, times[:6], all_persons_detected=True))})
        == 2
    )


def test_tracking_config_carries_the_subject_policy_and_validates():
    cfg = TrackingConfig(subject_policy="largest_box", iou_threshold=0.5)
    assert TrackingConfig.model_validate_json(cfg.model_dump_json()) == cfg
    with pytest.raises(ValueError):
        TrackingConfig(subject_policy="tallest")
