"""The detector backend: a COCO YOLO-family ONNX model run with ONNX Runtime.

Pure parts (tested with plain arrays): :func:`letterbox`, :func:`decode_yolox`,
:func:`decode_ultralytics`, :func:`nms`, :func:`select`. The shell is :class:`OnnxDetector`,
which reads the output layout from the model, gives a batch-1 YOLOX export a batch
dimension at load time (never editing the file), picks TensorRT/CUDA when present and
the CPU otherwise, and turns a batch of BGR frames into detections in normalised
coordinates.

Two layouts are understood:

- YOLOX (``[B, N, 5 + C]``): BGR 0-255, letterbox at the top-left, raw grid offsets
  decoded here with strides 8/16/32, score = objectness x class score.
- Ultralytics YOLOv8/YOLO11 (``[B, 4 + C, N]``): RGB 0-1, centred letterbox, boxes already
  in input pixels (centre, size), score = class score.
"""

from __future__ import annotations

import ast
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from events.errors import ConfigurationError, DetectorError

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
Frame = npt.NDArray[np.uint8]
"""A picture as OpenCV holds it: height x width x 3, BGR, uint8."""

COCO80 = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic_light",
    "fire_hydrant",
    "stop_sign",
    "parking_meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports_ball",
    "kite",
    "baseball_bat",
    "baseball_glove",
    "skateboard",
    "surfboard",
    "tennis_racket",
    "bottle",
    "wine_glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot_dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted_plant",
    "bed",
    "dining_table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell_phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy_bear",
    "hair_drier",
    "toothbrush",
]
COCO_LABELS = tuple(name.replace("_", " ") for name in COCO80)
"""The 80 COCO class names, index = class id (the order every COCO YOLO export uses)."""


class Layout(StrEnum):
    YOLOX = "yolox"
    ULTRALYTICS = "ultralytics"


@dataclass(frozen=True, slots=True)
class FrameDetection:
    """One object in one frame; the box in normalised image coordinates (0..1)."""

    class_id: int
    label: str
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, slots=True)
class Letterboxed:
    """A batch ready for the model, with what maps its boxes back to the frames."""

    tensor: FloatArray
    scales: FloatArray  # per frame: model pixels per source pixel
    pads: FloatArray  # per frame: (dx, dy) of the picture inside the canvas
    sizes: FloatArray  # per frame: (width, height) of the source


class DetectorBackend(Protocol):
    """What the workers need from a model (contract-tested against the real one)."""

    @property
    def model_id(self) -> str: ...
    def detect(self, frames: Sequence[Frame]) -> list[list[FrameDetection]]: ...


# --- pure core ------------------------------------------------------------------------


def letterbox(frames: Sequence[Frame], size: int, layout: Layout) -> Letterboxed:
    """Resize each frame keeping its aspect ratio onto a ``size``^2 canvas filled with 114,
    straight into the float32 NCHW tensor the model takes."""
    import cv2

    tensor = np.empty((len(frames), 3, size, size), dtype=np.float32)
    scales = np.empty(len(frames), dtype=np.float32)
    pads = np.zeros((len(frames), 2), dtype=np.float32)
    sizes = np.empty((len(frames), 2), dtype=np.float32)
    fill = (114, 114, 114)
    for i, frame in enumerate(frames):
        h, w = frame.shape[:2]
        r = min(size / h, size / w)
        nw, nh = min(size, max(1, round(w * r))), min(size, max(1, round(h * r)))
        dx, dy = (0, 0) if layout is Layout.YOLOX else ((size - nw) // 2, (size - nh) // 2)
        resized = frame if (nw, nh) == (w, h) else cv2.resize(frame, (nw, nh))
        canvas = cv2.copyMakeBorder(
            resized, dy, size - nh - dy, dx, size - nw - dx, cv2.BORDER_CONSTANT, value=fill
        )
        if layout is Layout.YOLOX:
            tensor[i] = canvas.transpose(2, 0, 1)
        else:
            tensor[i] = canvas.transpose(2, 0, 1)[::-1]
        scales[i], pads[i], sizes[i] = r, (dx, dy), (w, h)
    if layout is Layout.ULTRALYTICS:
        tensor *= np.float32(1 / 255)
    return Letterboxed(tensor, scales, pads, sizes)


def yolox_grid(size: int, strides: Sequence[int] = (8, 16, 32)) -> tuple[FloatArray, FloatArray]:
    """Grid offsets (N, 2) and strides (N, 1) of YOLOX's anchor points, row-major per stride."""
    grids, steps = [], []
    for stride in strides:
        n = size // stride
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        grids.append(np.stack((xs, ys), axis=-1).reshape(-1, 2))
        steps.append(np.full((n * n, 1), stride))
    return (
        np.concatenate(grids).astype(np.float32),
        np.concatenate(steps).astype(np.float32),
    )


@dataclass(frozen=True, slots=True)
class Candidates:
    """Boxes above the threshold in one frame: xyxy in model pixels, scores, classes."""

    boxes: FloatArray
    scores: FloatArray
    classes: npt.NDArray[np.int64]


def _candidates(
    boxes_cxcywh: FloatArray,
    class_scores: FloatArray,
    threshold: float,
    allowed: npt.NDArray[np.bool_] | None,
) -> Candidates:
    if allowed is not None:
        class_scores = np.where(allowed, class_scores, 0)
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(classes)), classes]
    keep = scores >= threshold
    b = boxes_cxcywh[keep]
    half = b[:, 2:4] / 2
    xyxy = np.concatenate((b[:, :2] - half, b[:, :2] + half), axis=1)
    return Candidates(xyxy.astype(np.float32), scores[keep].astype(np.float32), classes[keep])


def decode_yolox(
    output: FloatArray,
    grid: tuple[FloatArray, FloatArray],
    threshold: float,
    allowed: npt.NDArray[np.bool_] | None = None,
) -> list[Candidates]:
    """Decode raw YOLOX rows ``x, y, w, h, obj, classes...`` per frame of the batch."""
    grids, strides = grid
    result = []
    for rows in output:
        likely = rows[:, 4] >= threshold  # score = objectness x class <= objectness
        rows, g, s = rows[likely], grids[likely], strides[likely]
        best = rows[:, 5:].max(axis=1) * rows[:, 4]
        keep = best >= threshold
        rows, g, s = rows[keep], g[keep], s[keep]
        centres = (rows[:, :2] + g) * s
        sizes = np.exp(rows[:, 2:4]) * s
        scores = rows[:, 5:] * rows[:, 4:5]
        result.append(
            _candidates(np.concatenate((centres, sizes), axis=1), scores, threshold, allowed)
        )
    return result


def decode_ultralytics(
    output: FloatArray, threshold: float, allowed: npt.NDArray[np.bool_] | None = None
) -> list[Candidates]:
    """Decode Ultralytics rows (``[B, 4 + C, N]``: cx, cy, w, h, class scores) per frame."""
    result = []
    for columns in output:
        rows = columns.T
        best = rows[:, 4:].max(axis=1)
        rows = rows[best >= threshold]
        result.append(_candidates(rows[:, :4], rows[:, 4:], threshold, allowed))
    return result


def iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    """Intersection over union of one xyxy box with many."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9), dtype=np.float32)


def nms(candidates: Candidates, iou_threshold: float = 0.45) -> npt.NDArray[np.int64]:
    """Greedy per-class non-maximum suppression; indices of the kept boxes, best first."""
    if len(candidates.scores) == 0:
        return np.empty(0, dtype=np.int64)
    # Offsetting each class far apart makes one pass class-aware.
    offset = candidates.classes[:, None].astype(np.float32) * 8192.0
    boxes = candidates.boxes + offset
    order = candidates.scores.argsort()[::-1]
    keep = []
    while order.size:
        best = order[0]
        keep.append(best)
        rest = order[1:]
        order = rest[iou(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def select(
    candidates: Candidates,
    letterboxed: Letterboxed,
    index: int,
    labels: Sequence[str],
    iou_threshold: float = 0.45,
) -> list[FrameDetection]:
    """NMS, then map boxes from model pixels to the frame's normalised coordinates."""
    kept = nms(candidates, iou_threshold)
    dx, dy = letterboxed.pads[index]
    w, h = letterboxed.sizes[index]
    r = letterboxed.scales[index]
    found = []
    for i in kept:
        x1, y1, x2, y2 = candidates.boxes[i]
        nx1, nx2 = (np.clip((np.array((x1, x2)) - dx) / r / w, 0, 1)).tolist()
        ny1, ny2 = (np.clip((np.array((y1, y2)) - dy) / r / h, 0, 1)).tolist()
        class_id = int(candidates.classes[i])
        label = labels[class_id] if class_id < len(labels) else f"class {class_id}"
        conf = float(min(1.0, max(0.0, candidates.scores[i])))
        found.append(FrameDetection(class_id, label, conf, nx1, ny1, nx2, ny2))
    return found


def model_id_of(path: Path) -> str:
    """A model's id: its file name and the start of its sha256 (a new file, a new id)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{path.stem}-{digest[:12]}"


# --- ONNX Runtime shell ---------------------------------------------------------------


def _with_batch_dimension(model_bytes: bytes) -> bytes:
    """A batch-1 export with its Reshape shapes rewritten ``[1, ...] -> [0, ...]`` (copy the
    batch from the input) and a named batch dimension, so the graph takes any batch."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(model_bytes)
    shapes = {n.input[1] for n in model.graph.node if n.op_type == "Reshape"}
    for init in model.graph.initializer:
        if init.name in shapes:
            value = numpy_helper.to_array(init)
            if value.ndim == 1 and value.size >= 2 and value[0] == 1 and -1 in value:
                init.CopyFrom(numpy_helper.from_array(np.concatenate(([0], value[1:])), init.name))
    for tensor in (*model.graph.input, *model.graph.output):
        tensor.type.tensor_type.shape.dim[0].dim_param = "batch"
    del model.graph.value_info[:]  # shapes inferred for batch 1; ONNX Runtime re-infers
    return bytes(model.SerializeToString())


def preferred_providers(available: Sequence[str]) -> list[str]:
    """TensorRT, then CUDA, then the CPU: whichever this ONNX Runtime build offers."""
    order = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    return [p for p in order if p in available] or ["CPUExecutionProvider"]


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    confidence_threshold: float = 0.5
    class_filter: frozenset[str] = frozenset()
    iou_threshold: float = 0.45
    max_batch: int = 8


class OnnxDetector:
    """A YOLO-family ONNX model; ``detect`` takes BGR frames, returns per-frame detections."""

    def __init__(self, path: Path, config: DetectorConfig | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - a packaging mistake
            raise ConfigurationError("onnxruntime is not installed") from e
        if not path.is_file():
            raise ConfigurationError(
                f"ML_MODEL_PATH {path} does not exist; set it to a YOLOX or YOLOv8 ONNX file"
            )
        self.path = path
        self.config = config or DetectorConfig()
        self._model_id = model_id_of(path)
        raw = path.read_bytes()
        try:
            session = ort.InferenceSession(
                raw, providers=preferred_providers(ort.get_available_providers())
            )
            self.layout, self.size = self._inspect(session)
            batch_dim = session.get_inputs()[0].shape[0]
            if self.layout is Layout.YOLOX and batch_dim == 1:
                session = ort.InferenceSession(
                    _with_batch_dimension(raw), providers=session.get_providers()
                )
        except DetectorError:
            raise
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise DetectorError(f"cannot load the model {path}: {e}") from e
        self._session = session
        self._input = session.get_inputs()[0].name
        self.providers = tuple(session.get_providers())
        self.labels = self._labels(session)
        self._grid = yolox_grid(self.size)
        self._allowed = self._allowed_mask()

    @property
    def model_id(self) -> str:
        return self._model_id

    def detect(self, frames: Sequence[Frame]) -> list[list[FrameDetection]]:
        found: list[list[FrameDetection]] = []
        step = self.config.max_batch
        for start in range(0, len(frames), step):
            found.extend(self._detect_batch(frames[start : start + step]))
        return found

    def infer(self, tensor: FloatArray) -> FloatArray:
        """The bare model call (the benchmark's limit)."""
        try:
            out = self._session.run(None, {self._input: tensor})[0]
        except Exception as e:
            raise DetectorError(f"inference failed: {e}") from e
        return np.asarray(out, dtype=np.float32)

    def _detect_batch(self, frames: Sequence[Frame]) -> list[list[FrameDetection]]:
        if not frames:
            return []
        boxed = letterbox(frames, self.size, self.layout)
        output = self.infer(boxed.tensor)
        threshold = self.config.confidence_threshold
        if self.layout is Layout.YOLOX:
            candidates = decode_yolox(output, self._grid, threshold, self._allowed)
        else:
            candidates = decode_ultralytics(output, threshold, self._allowed)
        return [
            select(c, boxed, i, self.labels, self.config.iou_threshold)
            for i, c in enumerate(candidates)
        ]

    def _inspect(self, session: object) -> tuple[Layout, int]:
        inputs = session.get_inputs()  # type: ignore[attr-defined]
        outputs = session.get_outputs()  # type: ignore[attr-defined]
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise DetectorError("expected one image input [batch, 3, height, width]")
        height, width = inputs[0].shape[2:]
        if not isinstance(height, int) or height != width:
            raise DetectorError(f"expected a fixed square input, got {inputs[0].shape}")
        shape = outputs[0].shape
        if len(shape) != 3:
            raise DetectorError(f"unknown output layout {shape}")
        if isinstance(shape[2], int) and isinstance(shape[1], int) and shape[2] < shape[1]:
            if shape[2] < 6:
                raise DetectorError(f"unknown output layout {shape}")
            return Layout.YOLOX, height
        if isinstance(shape[1], int) and shape[1] >= 5:
            return Layout.ULTRALYTICS, height
        raise DetectorError(f"unknown output layout {shape}")

    def _labels(self, session: object) -> tuple[str, ...]:
        meta = session.get_modelmeta().custom_metadata_map  # type: ignore[attr-defined]
        names = meta.get("names")
        if names:  # Ultralytics writes {0: 'person', ...}
            try:
                parsed = ast.literal_eval(names)
                return tuple(str(parsed[i]) for i in sorted(parsed))
            except (ValueError, SyntaxError, TypeError, KeyError):
                log.warning("cannot read class names from the model metadata; using COCO's")
        return COCO_LABELS

    def _allowed_mask(self) -> npt.NDArray[np.bool_] | None:
        wanted = self.config.class_filter
        if not wanted:
            return None
        unknown = wanted - set(self.labels)
        if unknown:
            raise ConfigurationError(f"ML_CLASS_FILTER names unknown classes: {sorted(unknown)}")
        return np.array([label in wanted for label in self.labels])
