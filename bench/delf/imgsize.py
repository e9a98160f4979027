#!/usr/bin/env python3
"""Print "width<TAB>height<TAB>format" for a JPEG or PNG file, read from its header only.

Stdlib only (no PIL on the build machines). Exit status 1 and nothing on stdout when the
file is not a readable JPEG/PNG, so the caller can skip it.
Usage: imgsize.py FILE [FILE...]  ->  one line per file: path, width, height, format, bytes
"""
import os
import struct
import sys

# SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def png_size(f):
    head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", head[16:24])
    return w, h


def jpeg_size(f):
    if f.read(2) != b"\xff\xd8":
        return None
    while True:
        b = f.read(1)
        while b and b != b"\xff":  # skip fill / stray bytes between segments
            b = f.read(1)
        while b == b"\xff":
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length field
        if marker == 0xD9 or marker == 0xDA:
            return None  # end of image / start of scan before any frame header
        seg = f.read(2)
        if len(seg) < 2:
            return None
        length = struct.unpack(">H", seg)[0]
        if length < 2:
            return None
        if marker in _SOF:
            body = f.read(5)
            if len(body) < 5:
                return None
            h, w = struct.unpack(">HH", body[1:5])
            return w, h
        f.seek(length - 2, os.SEEK_CUR)


def size(path):
    with open(path, "rb") as f:
        magic = f.read(2)
        f.seek(0)
        if magic == b"\x89P":
            s = png_size(f)
            return (s[0], s[1], "png") if s else None
        if magic == b"\xff\xd8":
            s = jpeg_size(f)
            return (s[0], s[1], "jpeg") if s else None
    return None


def main(argv):
    bad = 0
    for p in argv[1:]:
        try:
            s = size(p)
        except OSError:
            s = None
        if s is None or s[0] <= 0 or s[1] <= 0:
            bad += 1
            continue
        print(f"{p}\t{s[0]}\t{s[1]}\t{s[2]}\t{os.path.getsize(p)}")
    return 1 if bad and bad == len(argv) - 1 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
