"""PNG helpers (no bpy)."""

from __future__ import annotations

import struct

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that define the pixels; everything else (tEXt render times, eXIf, pHYs ...) is dropped so
# that the same render gives the same bytes.
PIXEL_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"sRGB", b"gAMA", b"cHRM", b"iCCP"}


def strip_png_metadata(data: bytes) -> bytes:
    """``data`` without its metadata chunks (Blender writes render times and dates into PNGs)."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    kept = [SIGNATURE]
    offset = len(SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        end = offset + 12 + length
        if data[offset + 4 : offset + 8] in PIXEL_CHUNKS:
            kept.append(data[offset:end])
        offset = end
    return b"".join(kept)
