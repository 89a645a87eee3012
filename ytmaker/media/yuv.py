"""BT.709 limited-range YUV 4:2:0 — the encoder's own format.

Frames are handed to x264 already in yuv420p: a still is converted once (not once per
frame by ffmpeg), and the avatar's decoded frames get their subtitles blended directly in
YUV. Blending commutes with the (affine) colour conversion, so the result is what blending
in RGB and converting would give.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Rows: Y, Cb, Cr from R'G'B' in 0..255, limited range (Y 16-235, C 16-240).
_M = np.array(
    [
        [0.2126, 0.7152, 0.0722],
        [-0.2126 / 1.8556, -0.7152 / 1.8556, 0.9278 / 1.8556],
        [0.7874 / 1.5748, -0.7152 / 1.5748, -0.0722 / 1.5748],
    ],
    dtype=np.float32,
) * np.array([[219 / 255], [224 / 255], [224 / 255]], dtype=np.float32)
_OFFSET = np.array([16, 128, 128], dtype=np.float32)


def _planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-resolution float Y, Cb, Cr."""
    ycc = rgb.astype(np.float32) @ _M.T + _OFFSET
    return ycc[..., 0], ycc[..., 1], ycc[..., 2]


def _half(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape
    return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def rgb_to_yuv420(image: Image.Image) -> bytes:
    """An RGB image with even width and height -> raw yuv420p bytes (Y, then U, then V)."""
    y, cb, cr = _planes(np.asarray(image.convert("RGB")))
    out = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, _half(cb), _half(cr))]
    return b"".join(p.tobytes() for p in out)


class YuvBlend:
    """An RGBA layer reduced to the (even-aligned) rectangle it covers, blended into raw
    yuv420p frames in place."""

    def __init__(self, layer: Image.Image):
        self.width, self.height = layer.size
        box = layer.getbbox()
        self.box = None
        if box is None:
            return
        x0, y0, x1, y1 = box
        x0, y0 = x0 - x0 % 2, y0 - y0 % 2
        x1, y1 = min(self.width, x1 + x1 % 2), min(self.height, y1 + y1 % 2)
        self.box = (x0, y0, x1, y1)
        rgba = np.asarray(layer.crop(self.box)).astype(np.float32)
        alpha = rgba[..., 3] / 255.0
        y, cb, cr = _planes(rgba[..., :3])
        self.a_y = alpha
        self.c_y = y * alpha
        a_c = _half(alpha)
        self.a_c = a_c
        self.c_cb = _half(cb * alpha)
        self.c_cr = _half(cr * alpha)

    def apply(self, frame: bytearray) -> None:
        if self.box is None:
            return
        w, h = self.width, self.height
        x0, y0, x1, y1 = self.box
        buf = np.frombuffer(frame, dtype=np.uint8)
        luma = buf[: w * h].reshape(h, w)
        cb = buf[w * h : w * h * 5 // 4].reshape(h // 2, w // 2)
        cr = buf[w * h * 5 // 4 :].reshape(h // 2, w // 2)
        region = luma[y0:y1, x0:x1]
        region[:] = np.rint(region * (1 - self.a_y) + self.c_y)
        for plane, color in ((cb, self.c_cb), (cr, self.c_cr)):
            region = plane[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
            region[:] = np.rint(region * (1 - self.a_c) + color)
