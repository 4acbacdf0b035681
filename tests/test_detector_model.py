"""The real model on real photographs, and the historical analysis of clips made from them.

Skipped, with the reason, when the shared YOLOX-Nano model is absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from detector.analysis import AnalysisConfig, analyse_segment
from detector.model import DetectorConfig, Layout, OnnxDetector, iou
from events.errors import ConfigurationError, MediaError
from tests.detection_support import (
    PERSON_AND_MOTORCYCLE,
    photo,
    require_model,
    scene_clip,
    segment_for,
    walking,
)


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    return OnnxDetector(require_model(), DetectorConfig(confidence_threshold=0.5))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    scene_clip(root / "Door/accuracy.mp4", PERSON_AND_MOTORCYCLE, 30)
    scene_clip(root / "Door/static.mp4", (), 20)
    scene_clip(root / "Door/walk.mp4", walking("astronaut", 5), 5)
    return root


def test_the_model_finds_a_person_and_a_cat_in_photographs(detector: OnnxDetector) -> None:
    assert detector.layout is Layout.YOLOX and detector.size == 416
    assert detector.model_id.startswith("yolox_nano-")
    astronaut, cat = detector.detect([photo("astronaut"), photo("chelsea")])
    assert [d.label for d in astronaut] == ["person"] and astronaut[0].confidence > 0.8
    assert astronaut[0].x1 < 0.1 and astronaut[0].x2 > 0.6 and astronaut[0].y2 > 0.9
    assert "cat" in [d.label for d in cat]


def test_a_batch_gives_the_same_detections_as_single_frames(detector: OnnxDetector) -> None:
    frames = [photo(n) for n in ("astronaut", "chelsea", "coffee", "camera")] * 2
    batched = detector.detect(frames)
    single = [detector.detect([f])[0] for f in frames]
    for a, b in zip(batched, single, strict=True):
        assert [d.label for d in a] == [d.label for d in b]
        for x, y in zip(a, b, strict=True):
            assert x.confidence == pytest.approx(y.confidence, abs=1e-4)
            assert x.x1 == pytest.approx(y.x1, abs=1e-4)


def test_class_filter_and_bad_configuration() -> None:
    model = require_model()
    cars_only = OnnxDetector(model, DetectorConfig(class_filter=frozenset({"car"})))
    assert cars_only.detect([photo("astronaut")]) == [[]]
    with pytest.raises(ConfigurationError, match="unknown classes"):
        OnnxDetector(model, DetectorConfig(class_filter=frozenset({"unicorn"})))
    with pytest.raises(ConfigurationError, match="does not exist"):
        OnnxDetector(model.with_name("missing.onnx"))


def _box_iou(found: object, expected: tuple[float, float, float, float]) -> float:
    a = np.array([[found.x1, found.y1, found.x2, found.y2]], np.float32)  # type: ignore[attr-defined]
    return float(iou(np.array(expected, np.float32), a)[0])


def test_historical_analysis_finds_each_subject_in_its_window_and_nothing_else(
    detector: OnnxDetector, clips: Path
) -> None:
    segment = segment_for(clips, "Door/accuracy.mp4", 30)
    result = analyse_segment(segment, clips, detector, AnalysisConfig(fps=2))
    assert result.frames_sampled == 60
    found = {(e.label, e.offset_s) for e in result.events}
    for scene, label in zip(PERSON_AND_MOTORCYCLE, ("person", "motorcycle"), strict=True):
        inside = [e for e in result.events if e.label == label]
        assert inside, f"no {label} found"
        assert all(scene.start_s <= e.offset_s < scene.end_s for e in inside), found
        assert all(_box_iou(e.box, scene.box(640, 360)) > 0.5 for e in inside)
    windows = [(s.start_s, s.end_s) for s in PERSON_AND_MOTORCYCLE]
    outside = [e for e in result.events if not any(a <= e.offset_s < b for a, b in windows)]
    assert outside == []
    first = next(e for e in result.events if e.label == "person")
    assert first.detected_at == segment.start + (first.detected_at - segment.start)
    assert first.frame_number == round(first.offset_s * segment.fps)


def test_motion_prefilter_skips_a_static_clip_and_analyses_a_moving_one(
    detector: OnnxDetector, clips: Path
) -> None:
    static_segment = segment_for(clips, "Door/static.mp4", 20)
    static = analyse_segment(static_segment, clips, detector, AnalysisConfig())
    assert static.frames_sampled == 40 and static.frames_analysed <= 2
    assert static.frames_skipped == static.frames_sampled - static.frames_analysed
    walk = analyse_segment(
        segment_for(clips, "Door/walk.mp4", 5), clips, detector, AnalysisConfig()
    )
    assert walk.frames_analysed == walk.frames_sampled == 10
    assert sum(e.label == "person" for e in walk.events) >= 8


def test_a_missing_or_broken_segment_is_a_media_error(detector: OnnxDetector, clips: Path) -> None:
    segment = segment_for(clips, "Door/static.mp4", 20)
    shutil.copy(clips / "Door/static.mp4", clips / "Door/broken.mp4")
    (clips / "Door/broken.mp4").write_bytes(b"not a video")
    broken = segment.model_copy(update={"path": "Door/broken.mp4"})
    with pytest.raises(MediaError, match="could not decode"):
        analyse_segment(broken, clips, detector, AnalysisConfig())
    gone = segment.model_copy(update={"path": "Door/gone.mp4"})
    with pytest.raises(MediaError, match="missing"):
        analyse_segment(gone, clips, detector, AnalysisConfig())
