"""Frame-sized buffers go straight to the OS: glibc's allocator tuned once per process.

glibc raises its mmap threshold each time a large block is freed (up to 32 MB), after which frame
buffers (a 720p BGR frame is 2.7 MB, a face detector's upscaled input 6 MB) are carved from the
per-thread arenas of the decode, analytics and privacy threads, and those arenas keep the freed
memory. Measured with ``oversight bench memory`` (720p, YOLOX-nano + YuNet): 100-120 MB of RSS per
added camera with the dynamic threshold, about 45 MB with it fixed at 1 MB. Fixing it costs an
mmap/munmap per frame buffer, a few microseconds against milliseconds of decoding.

The number of arenas is capped too (glibc's default is 8 per core): each camera brings a reader,
decoder, analytics and privacy thread, and an arena per thread keeps its own freed small blocks.
With one arena per core the same bench gave 46-53 MB per added camera instead of 64-71.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter numbers in glibc's malloc.h
M_ARENA_MAX = -8
FRAME_THRESHOLD = 1 << 20  # blocks of 1 MB and more: frames, blobs, encoded segments


def keep_frames_off_heap() -> bool:
    """Fix glibc's mmap threshold at 1 MB and cap its arenas at one per core; False (and nothing
    done) off glibc, e.g. musl or macOS."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, FRAME_THRESHOLD))
    mallopt(M_ARENA_MAX, max(2, os.cpu_count() or 1))
    if not ok:
        log.warning("mallopt(M_MMAP_THRESHOLD) refused: frame buffers may stay in thread arenas")
    return ok
