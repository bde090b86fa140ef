#!/usr/bin/env python3
"""Checks what headless Chromium made of an HTML report (stdlib only).

  check_browser_output.py dom DOM_FILE LOG_FILE SVG_ID...
      The dumped DOM has the ready flag, no recorded console errors, and
      every listed <svg> id with child elements; the Chromium log has no
      console message from the page.
  check_browser_output.py png PNG_FILE
      The screenshot is not blank: many distinct colours, and a fair share
      of pixels that are neither white nor the page background.

Prints one line per failure and exits 1 if any; 0 and "ok" otherwise.
"""

import html.parser
import re
import struct
import sys
import zlib


class SvgChildren(html.parser.HTMLParser):
    """Counts the elements under each <svg id=...>."""

    def __init__(self):
        super().__init__()
        self.children = {}
        self.stack = []  # ids of open svgs (None for nested non-svg)
        self.root_attrs = {}
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.root_attrs = attrs
        for svg_id in self.stack:
            self.children[svg_id] += 1
        if tag == "svg" and "id" in attrs:
            self.children.setdefault(attrs["id"], 0)
            self.stack.append(attrs["id"])

    def handle_startendtag(self, tag, attrs):
        for svg_id in self.stack:
            self.children[svg_id] += 1

    def handle_endtag(self, tag):
        if tag == "svg" and self.stack:
            self.stack.pop()


def check_dom(dom_path, log_path, ids):
    failures = []
    with open(dom_path, encoding="utf-8", errors="replace") as f:
        dom = f.read()
    parser = SvgChildren()
    parser.feed(dom)
    if parser.root_attrs.get("data-report-ready") != "1":
        failures.append("page script did not finish (no data-report-ready)")
    errors = parser.root_attrs.get("data-console-errors")
    if errors:
        failures.append("console errors recorded by the page: " + errors)
    for svg_id in ids:
        count = parser.children.get(svg_id)
        if count is None:
            failures.append("missing <svg id=%r>" % svg_id)
        elif count < 2:
            failures.append("<svg id=%r> is empty (%d children)" % (svg_id, count))
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if re.search(r":CONSOLE[:(]", line) or "Uncaught" in line:
                failures.append("console message: " + line.strip())
    return failures


def decode_png(path):
    """Returns (width, height, channels, rows of bytes) of an 8-bit PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: offset 0: not a PNG file" % path)
    pos, idat, width = 8, [], 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour not in (2, 6):
                raise ValueError("%s: offset %d: unsupported PNG (depth %d, "
                                 "colour type %d)" % (path, pos, depth, colour))
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                row[i] = (row[i] + row[i - channels]) & 0xFF
        elif kind == 2:
            row = bytearray((a + b) & 0xFF for a, b in zip(row, previous))
        elif kind == 3:
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = row[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[i] = (row[i] + pred) & 0xFF
        rows.append(row)
        previous = row
    return width, height, channels, rows


def check_png(path):
    width, height, channels, rows = decode_png(path)
    colours, counts = set(), {}
    for row in rows[::4]:  # every 4th row and pixel is plenty
        for x in range(0, width * channels, 4 * channels):
            pixel = bytes(row[x:x + 3])
            colours.add(pixel)
            counts[pixel] = counts.get(pixel, 0) + 1
    sampled = sum(counts.values())
    # Ink: pixels that are neither the most common colour (the page
    # background) nor white (the panels).
    background = max(counts, key=lambda c: (counts[c], c)) if counts else None
    ink = sum(n for c, n in counts.items()
              if c != background and c != b"\xff\xff\xff")
    failures = []
    if len(colours) < 50:
        failures.append("%s: only %d distinct colours" % (path, len(colours)))
    if sampled == 0 or ink < 0.02 * sampled:
        failures.append("%s: nearly blank (%d of %d sampled pixels drawn)"
                        % (path, ink, sampled))
    print("%s: %dx%d, %d distinct colours, %.1f %% drawn"
          % (path, width, height, len(colours), 100.0 * ink / max(1, sampled)))
    return failures


def main(argv):
    if len(argv) >= 4 and argv[1] == "dom":
        failures = check_dom(argv[2], argv[3], argv[4:])
    elif len(argv) == 3 and argv[1] == "png":
        failures = check_png(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for failure in failures:
        print("FAIL: " + failure)
    if not failures:
        print("ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
