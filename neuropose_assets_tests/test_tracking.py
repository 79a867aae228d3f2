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
