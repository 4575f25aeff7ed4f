"""Page geometry: one affine map from the scan to the straightened page, and its application.

Straightening rotates the scan clockwise by the skew angle about the image centre (same
canvas size, so the page lands where it was before it was skewed) and then undoes the
orientation with an exact quarter turn. Both happen in a single resampling; a page that needs
no deskew is only turned, which is lossless.
"""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np


def straighten_matrix(
    width: int, height: int, skew_deg: float, orientation_deg: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """2x3 matrix mapping scan pixel coordinates to straightened ones, and the output (width, height)."""
    rotate = np.vstack([cv2.getRotationMatrix2D((width / 2.0, height / 2.0), -skew_deg, 1.0), [0.0, 0.0, 1.0]])
    k = (orientation_deg // 90) % 4  # quarter turns (counter-clockwise) to undo, i.e. turn clockwise
    w1, h1 = width - 1.0, height - 1.0
    turn = {
        0: np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        1: np.array([[0.0, -1.0, h1], [1.0, 0.0, 0.0]]),  # clockwise by 90
        2: np.array([[-1.0, 0.0, w1], [0.0, -1.0, h1]]),
        3: np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w1]]),  # clockwise by 270
    }[k]
    size = (width, height) if k % 2 == 0 else (height, width)
    return turn @ rotate, size


def map_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to an (N,2) array of x,y points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def turn_mask(mask: np.ndarray, skew_deg: float, quarter_turns: int) -> np.ndarray:
    """Straighten an analysis mask: rotate clockwise by skew, then undo `quarter_turns` CCW turns."""
    h, w = mask.shape
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -skew_deg, 1.0)
    out = cv2.warpAffine(mask, matrix, (w, h), flags=cv2.INTER_NEAREST)
    if quarter_turns % 4:
        out = np.ascontiguousarray(np.rot90(out, -(quarter_turns % 4)))
    return out


_ROTATE_CODES = {1: cv2.ROTATE_90_CLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_COUNTERCLOCKWISE}


def warp(
    image: np.ndarray, skew_deg: float, orientation_deg: int, fill: int | tuple[int, int, int], bitonal: bool = False
) -> np.ndarray:
    """Straighten `image` (grey, BGR or 0/255 bitonal). A zero skew is an exact quarter turn."""
    k = (orientation_deg // 90) % 4
    if skew_deg == 0.0:
        return cv2.rotate(image, _ROTATE_CODES[k]) if k else image
    h, w = image.shape[:2]
    matrix, size = straighten_matrix(w, h, skew_deg, orientation_deg)
    if image.ndim == 3:
        # One channel at a time: several times faster than OpenCV's interleaved 3-channel warp,
        # and only one extra plane in memory at a time.
        out = np.empty((size[1], size[0], 3), np.uint8)
        for channel, value in enumerate(fill if isinstance(fill, tuple) else (fill,) * 3):
            plane = np.ascontiguousarray(image[:, :, channel])
            out[:, :, channel] = cv2.warpAffine(
                plane, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=int(value)
            )
        return out
    out = cv2.warpAffine(
        image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=int(cast(int, fill))
    )
    if bitonal:
        cv2.threshold(out, 127, 255, cv2.THRESH_BINARY, dst=out)
    return out
