"""Detection's pure core: letterbox and box mapping, decoding, NMS, debounce, markers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.timeline import Sighting as TimelineSighting
from api.timeline import markers
from detector.debounce import DebouncePolicy, Sighting, debounce
from detector.frames import SamplePlan, sample_command, scaled_size
from detector.historical import JobFilter
from detector.live import frames_wanted
from detector.model import (
    Candidates,
    Layout,
    decode_ultralytics,
    decode_yolox,
    iou,
    letterbox,
    nms,
    select,
    yolox_grid,
)
from detector.motion import Activity, MotionSample, activity
from events.errors import MediaError
from tests.factories import T0, segment_closed

LABELS = tuple(f"c{i}" for i in range(80))


@settings(max_examples=60, deadline=None)
@given(
    w=st.integers(16, 1920),
    h=st.integers(16, 1080),
    layout=st.sampled_from(list(Layout)),
    box=st.tuples(*[st.floats(0.05, 0.45)] * 2, *[st.floats(0.55, 0.95)] * 2),
)
def test_a_box_maps_back_to_the_frame_it_came_from(w, h, layout, box):
    frame = np.zeros((h, w, 3), np.uint8)
    boxed = letterbox([frame], 416, layout)
    r, (dx, dy) = boxed.scales[0], boxed.pads[0]
    x1, y1, x2, y2 = box
    model_box = np.array([[x1 * w * r + dx, y1 * h * r + dy, x2 * w * r + dx, y2 * h * r + dy]])
    candidates = Candidates(
        model_box.astype(np.float32), np.array([0.9], np.float32), np.array([3])
    )
    [found] = select(candidates, boxed, 0, LABELS)
    assert found.label == "c3"
    assert found.x1 == pytest.approx(x1, abs=2e-3) and found.y2 == pytest.approx(y2, abs=2e-3)
    assert boxed.tensor.shape == (1, 3, 416, 416)


def test_letterbox_follows_each_layouts_convention():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[..., 0] = 255  # blue in BGR
    yolox = letterbox([frame], 416, Layout.YOLOX)
    assert yolox.pads[0].tolist() == [0, 0]  # top-left
    assert yolox.tensor[0, 0, 0, 0] == 255  # BGR, 0-255
    assert yolox.tensor[0, 0, 415, 0] == 114  # the fill below the picture
    ultra = letterbox([frame], 416, Layout.ULTRALYTICS)
    assert ultra.pads[0].tolist() == [0, 104]  # centred
    assert ultra.tensor[0, 2, 208, 10] == pytest.approx(1.0)  # RGB: blue is channel 2, /255


def test_yolox_rows_decode_with_their_grid_cell_and_stride():
    grid = yolox_grid(416)
    assert grid[0].shape == (3549, 2)
    output = np.zeros((1, 3549, 85), np.float32)
    anchor = 52 * 52 + 26 * 3 + 5  # stride 16, cell x=5, y=3
    output[0, anchor, :5] = (0.5, 0.5, np.log(4), np.log(2), 0.9)
    output[0, anchor, 5 + 7] = 0.8
    [c] = decode_yolox(output, grid, 0.5)
    assert c.classes.tolist() == [7]
    assert c.scores[0] == pytest.approx(0.72)
    cx, cy, bw, bh = (5 + 0.5) * 16, (3 + 0.5) * 16, 4 * 16, 2 * 16
    assert c.boxes[0] == pytest.approx([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])


def test_ultralytics_columns_decode_and_the_class_filter_applies():
    output = np.zeros((1, 84, 10), np.float32)
    output[0, :4, 2] = (100, 50, 20, 10)
    output[0, 4 + 2, 2] = 0.9
    [c] = decode_ultralytics(output, 0.5)
    assert c.classes.tolist() == [2] and c.boxes[0].tolist() == [90, 45, 110, 55]
    allowed = np.zeros(80, bool)
    allowed[0] = True
    [none] = decode_ultralytics(output, 0.5, allowed)
    assert len(none.scores) == 0


boxes_strategy = st.lists(
    st.tuples(
        st.floats(0, 300), st.floats(0, 300), st.floats(5, 100), st.floats(5, 100),
        st.floats(0.1, 1), st.integers(0, 2),
    ),
    min_size=1,
    max_size=40,
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(boxes_strategy)
def test_nms_keeps_the_best_and_no_two_overlapping_boxes_of_a_class(rows):
    array = np.array(rows, np.float32)
    boxes = np.stack(
        [array[:, 0], array[:, 1], array[:, 0] + array[:, 2], array[:, 1] + array[:, 3]], 1
    )
    c = Candidates(boxes, array[:, 4], array[:, 5].astype(np.int64))
    kept = nms(c, 0.45)
    assert int(np.argmax(c.scores)) in kept.tolist() or c.scores[kept[0]] == c.scores.max()
    for i in kept:
        for j in kept:
            if i != j and c.classes[i] == c.classes[j]:
                assert iou(c.boxes[i], c.boxes[j][None])[0] <= 0.45 + 1e-6
    for j in set(range(len(rows))) - set(kept.tolist()):  # each dropped box had a reason
        same = [i for i in kept if c.classes[i] == c.classes[j] and c.scores[i] >= c.scores[j]]
        assert any(iou(c.boxes[i], c.boxes[j][None])[0] > 0.45 for i in same)


def test_a_person_in_view_for_two_minutes_raises_four_or_five_alerts_not_hundreds():
    camera = uuid4()
    sightings = [Sighting(camera, "person", T0 + timedelta(seconds=s / 2)) for s in range(240)]
    outcome = debounce({}, sightings, DebouncePolicy(cooldown_s=30))
    assert 4 <= len(outcome.raised) <= 5


sighting_strategy = st.lists(
    st.tuples(st.sampled_from(["person", "car"]), st.integers(0, 600)), max_size=60
)


@settings(max_examples=100, deadline=None)
@given(sighting_strategy, st.floats(1, 120))
def test_classes_debounce_independently_and_alerts_respect_the_cooldown(items, cooldown):
    camera = uuid4()
    sightings = [
        Sighting(camera, label, T0 + timedelta(seconds=s))
        for label, s in sorted(items, key=lambda x: x[1])
    ]
    policy = DebouncePolicy(cooldown_s=cooldown)
    together = debounce({}, sightings, policy)
    raised = {sightings[i] for i in together.raised}
    for label in ("person", "car"):
        alone = [s for s in sightings if s.label == label]
        separately = debounce({}, alone, policy)
        assert {alone[i] for i in separately.raised} == {s for s in raised if s.label == label}
        times = sorted(s.at for s in raised if s.label == label)
        assert all((b - a).total_seconds() >= cooldown for a, b in itertools.pairwise(times))


def test_per_class_cooldowns_parse():
    policy = DebouncePolicy.parse(30, "car=120, person = 10")
    assert policy.cooldown_for("car") == 120 and policy.cooldown_for("person") == 10
    assert policy.cooldown_for("dog") == 30


def test_markers_merge_a_class_within_the_gap_and_keep_classes_apart():
    t = datetime(2026, 11, 24, 14, 32, tzinfo=UTC)
    seen = [TimelineSighting("person", t + timedelta(seconds=s), 0.5 + s / 100) for s in (0, 4, 8)]
    seen += [TimelineSighting("person", t + timedelta(seconds=60), 0.7)]
    seen += [TimelineSighting("car", t + timedelta(seconds=2), 0.9)]
    merged = markers(seen, merge_s=10)
    assert [(m.label, m.count) for m in merged] == [("person", 3), ("car", 1), ("person", 1)]
    assert merged[0].end == t + timedelta(seconds=8) and merged[0].max_confidence == 0.58


def test_sampling_plans():
    assert frames_wanted(1.0, 1.0) == 1 and frames_wanted(2.0, 2.5) == 5
    assert frames_wanted(0.2, 1.0) == 1
    assert scaled_size(1920, 1080) == (640, 360) and scaled_size(320, 240) == (320, 240)
    with pytest.raises(MediaError):
        scaled_size(0, 0)
    command = sample_command("a.mp4", SamplePlan(fps=2, width=640, height=360))
    assert "fps=2:round=down,scale=640:360:flags=fast_bilinear" in command
    assert command[-4:] == ["rawvideo", "-pix_fmt", "bgr24", "pipe:1"]


def test_job_filter_by_camera_and_time():
    segment = segment_closed(index=0, seconds=60)
    assert JobFilter().accepts(segment)
    assert not JobFilter(camera_ids=frozenset({uuid4()})).accepts(segment)
    assert JobFilter(since=segment.start + timedelta(seconds=30)).accepts(segment)
    assert not JobFilter(since=segment.end).accepts(segment)
    assert not JobFilter(until=segment.start).accepts(segment)


def test_motion_activity_joins_moving_samples_into_spans() -> None:
    changed = [0.9, 0.0, 0.2, 0.3, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0]  # one sample a second
    samples = [MotionSample(float(i), c) for i, c in enumerate(changed)]
    assert activity(samples, min_changed=0.1) == [Activity(2.0, 4.0, 0.3), Activity(8.0, 9.0, 0.5)]
    assert activity(samples, min_changed=0.1, join_s=5.0) == [Activity(2.0, 9.0, 0.5)]
    assert activity([], 0.1) == [] and activity(samples[:1], 0.0) == []  # the first: no baseline


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=60), st.floats(0.01, 1), st.floats(0.1, 10))
def test_motion_spans_are_ordered_apart_and_cover_every_moving_sample(
    changed: list[float], threshold: float, join_s: float
) -> None:
    samples = [MotionSample(i * 0.5, c) for i, c in enumerate(changed)]
    spans = activity(samples, threshold, join_s)
    assert all(a.start_s <= a.end_s for a in spans)
    assert all(b.start_s - a.end_s >= join_s for a, b in itertools.pairwise(spans))
    for s in samples[1:]:
        if s.changed >= threshold:
            assert any(a.start_s <= s.at_s <= a.end_s and a.peak >= s.changed for a in spans)
