"""BT.709 limited-range YUV 4:2:0 — the encoder's own format.

Frames are handed to x264 already in yuv420p: a picture is converted once (not once per
frame by ffmpeg), and subtitles and the logo are blended directly in YUV, touching only the
rectangle they cover. Blending commutes with the (affine) colour conversion, so the result
is what blending in RGB and converting would give (up to rounding, and chroma taken as the
alpha-weighted mean of each 2x2 block).
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


def _quad_mean(plane: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block (float32), by four strided adds: much faster than a reduce."""
    out = plane[0::2, 0::2].astype(np.float32)
    out += plane[1::2, 0::2]
    out += plane[0::2, 1::2]
    out += plane[1::2, 1::2]
    out *= 0.25
    return out


def _to_u8(plane: np.ndarray) -> np.ndarray:
    np.rint(plane, out=plane)
    np.clip(plane, 0, 255, out=plane)
    return plane.astype(np.uint8)


def rgb_planes_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An (H, W, 3) uint8 RGB array with even H and W -> uint8 Y (H, W), U and V (H/2, W/2).

    Chroma is converted from the 2x2 mean of R, G, B: the conversion is linear, so that is
    the mean of the full-resolution chroma, at a quarter of the work."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = r.astype(np.float32)
    y *= _M[0, 0]
    y += _M[0, 1] * g.astype(np.float32)
    y += _M[0, 2] * b.astype(np.float32)
    y += _OFFSET[0]
    rm, gm, bm = _quad_mean(r), _quad_mean(g), _quad_mean(b)
    chroma = []
    for row in (1, 2):
        c = rm * _M[row, 0]
        c += gm * _M[row, 1]
        c += bm * _M[row, 2]
        c += _OFFSET[row]
        chroma.append(_to_u8(c))
    return _to_u8(y), chroma[0], chroma[1]


def rgb_to_yuv420(image: Image.Image) -> bytes:
    """An RGB image with even width and height -> raw yuv420p bytes (Y, then U, then V)."""
    y, u, v = rgb_planes_to_yuv420(np.asarray(image.convert("RGB")))
    return b"".join(p.tobytes() for p in (y, u, v))


def _even_box(layer: Image.Image) -> tuple[int, int, int, int] | None:
    """The rectangle a layer covers (non-zero alpha), widened to even coordinates."""
    box = layer.getbbox()  # of an RGBA image: where alpha is not zero
    if box is None:
        return None
    x0, y0, x1, y1 = box
    x0, y0 = x0 - x0 % 2, y0 - y0 % 2
    x1, y1 = min(layer.width, x1 + x1 % 2), min(layer.height, y1 + y1 % 2)
    return x0, y0, x1, y1


class YuvBlend:
    """An RGBA layer reduced to the (even-aligned) rectangle it covers, blended into raw
    yuv420p frames in place."""

    def __init__(self, layer: Image.Image):
        self.width, self.height = layer.size
        self.box = _even_box(layer)
        if self.box is None:
            return
        rgba = np.asarray(layer.crop(self.box))
        alpha = rgba[..., 3].astype(np.float32)
        alpha *= 1 / 255.0
        r, g, b = (rgba[..., i].astype(np.float32) for i in range(3))
        planes = []
        for row in range(3):  # Y, Cb, Cr at full resolution, premultiplied by alpha
            c = r * _M[row, 0]
            c += g * _M[row, 1]
            c += b * _M[row, 2]
            c += _OFFSET[row]
            c *= alpha
            planes.append(c)
        self.a_y = alpha
        self.c_y = planes[0]
        self.a_c = _quad_mean(alpha)
        self.c_cb = _quad_mean(planes[1])
        self.c_cr = _quad_mean(planes[2])

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

    def yuva420(self) -> bytes:
        """The covered rectangle as raw yuva420p (straight alpha), for ffmpeg's ``overlay``
        filter: blending it there gives what :meth:`apply` gives. Chroma is the
        alpha-weighted mean of each 2x2 block, since ``overlay`` weights it by the block's
        mean alpha."""
        assert self.box is not None
        y = np.rint(np.divide(self.c_y, self.a_y, out=np.zeros_like(self.c_y), where=self.a_y > 0))
        planes = [y]
        for color in (self.c_cb, self.c_cr):
            planes.append(np.rint(np.divide(color, self.a_c, out=np.full_like(color, 128.0), where=self.a_c > 0)))
        planes.append(np.rint(self.a_y * 255.0))
        return b"".join(np.clip(p, 0, 255).astype(np.uint8).tobytes() for p in planes)
