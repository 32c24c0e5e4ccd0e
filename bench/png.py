"""A small PNG writer for benchmark plots: lines and text on an RGB pixel grid, no dependencies.

matplotlib is not among the project's requirements, and a plot of a few curves needs only
pixels, straight lines, a 3x5 pixel font for tick labels and the PNG container (zlib + CRC).
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GREY: Color = (150, 150, 150)
LIGHT: Color = (225, 225, 225)

# 3 pixels wide, 5 high; "#" is ink. Upper case only (text is upper-cased).
_FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    "A": (".#.", "#.#", "###", "#.#", "#.#"),
    "B": ("##.", "#.#", "##.", "#.#", "##."),
    "C": (".##", "#..", "#..", "#..", ".##"),
    "D": ("##.", "#.#", "#.#", "#.#", "##."),
    "E": ("###", "#..", "##.", "#..", "###"),
    "F": ("###", "#..", "##.", "#..", "#.."),
    "G": (".##", "#..", "#.#", "#.#", ".##"),
    "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "I": ("###", ".#.", ".#.", ".#.", "###"),
    "J": ("..#", "..#", "..#", "#.#", ".#."),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "L": ("#..", "#..", "#..", "#..", "###"),
    "M": ("#.#", "###", "###", "#.#", "#.#"),
    "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "O": (".#.", "#.#", "#.#", "#.#", ".#."),
    "P": ("##.", "#.#", "##.", "#..", "#.."),
    "Q": (".#.", "#.#", "#.#", "##.", ".##"),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "S": (".##", "#..", ".#.", "..#", "##."),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"),
    "V": ("#.#", "#.#", "#.#", "#.#", ".#."),
    "W": ("#.#", "#.#", "###", "###", "#.#"),
    "X": ("#.#", "#.#", ".#.", "#.#", "#.#"),
    "Y": ("#.#", "#.#", ".#.", ".#.", ".#."),
    "Z": ("###", "..#", ".#.", "#..", "###"),
    ".": ("...", "...", "...", "...", ".#."),
    ",": ("...", "...", "...", ".#.", "#.."),
    ":": ("...", ".#.", "...", ".#.", "..."),
    "-": ("...", "...", "###", "...", "..."),
    "+": ("...", ".#.", "###", ".#.", "..."),
    "=": ("...", "###", "...", "###", "..."),
    "/": ("..#", "..#", ".#.", "#..", "#.."),
    "(": (".#.", "#..", "#..", "#..", ".#."),
    ")": (".#.", "..#", "..#", "..#", ".#."),
    "%": ("#.#", "..#", ".#.", "#..", "#.#"),
    "<": ("..#", ".#.", "#..", ".#.", "..#"),
    ">": ("#..", ".#.", "..#", ".#.", "#.."),
    " ": ("...", "...", "...", "...", "..."),
}


@dataclass
class Canvas:
    """An RGB image, (0, 0) top left."""

    width: int
    height: int
    background: Color = WHITE
    pixels: bytearray = field(init=False)

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError("a canvas needs at least one pixel")
        self.pixels = bytearray(bytes(self.background) * (self.width * self.height))

    def get(self, x: int, y: int) -> Color:
        i = (y * self.width + x) * 3
        return (self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])

    def set(self, x: int, y: int, color: Color) -> None:
        """Paint one pixel; outside the canvas nothing happens (lines may run off the edge)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i : i + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, width: int = 1) -> None:
        """Bresenham's line, `width` pixels thick (a square brush)."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        low = -(width // 2)
        while True:
            for ox in range(low, low + width):
                for oy in range(low, low + width):
                    self.set(x0 + ox, y0 + oy, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def polyline(self, points: Sequence[tuple[int, int]], color: Color, width: int = 1) -> None:
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            self.line(x0, y0, x1, y1, color, width)

    def text(self, x: int, y: int, text: str, color: Color = BLACK, scale: int = 2) -> None:
        """Write `text` with its top left at (x, y); characters the font lacks show as blanks."""
        for index, char in enumerate(text.upper()):
            glyph = _FONT.get(char, _FONT[" "])
            for row, bits in enumerate(glyph):
                for col, bit in enumerate(bits):
                    if bit == "#":
                        for ox in range(scale):
                            for oy in range(scale):
                                self.set(x + (index * 4 + col) * scale + ox, y + row * scale + oy, color)

    @staticmethod
    def text_width(text: str, scale: int = 2) -> int:
        return max(0, len(text) * 4 - 1) * scale

    def png(self) -> bytes:
        """The image as a PNG file (8-bit RGB, no interlace, every row filter 0)."""
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[row * stride : (row + 1) * stride]) for row in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )

    def save(self, path: Path) -> None:
        path.write_bytes(self.png())


@dataclass(frozen=True)
class Series:
    """One curve: (x, y) points in data units, drawn in `color` and named in the legend."""

    label: str
    points: Sequence[tuple[float, float]]
    color: Color
    width: int = 2


def nice_step(span: float, ticks: int = 6) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about `ticks` ticks over `span`."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10.0 ** _floor_log10(raw)
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent


def _label(value: float, step: float) -> str:
    return f"{value:.0f}" if step >= 1 else f"{value:.1f}" if step >= 0.1 else f"{value:.2f}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_max: float,
    y_max: float,
    width: int = 900,
    height: int = 560,
) -> Canvas:
    """Axes from 0 to `x_max` and `y_max` with grid lines at nice ticks, the series, a legend."""
    canvas = Canvas(width, height)
    left, right, top, bottom = 70, 20, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> int:
        return left + round(min(max(x, 0.0), x_max) / x_max * plot_w)

    def py(y: float) -> int:
        return top + plot_h - round(min(max(y, 0.0), y_max) / y_max * plot_h)

    x_step, y_step = nice_step(x_max), nice_step(y_max)
    tick = 0.0
    while tick <= x_max + 1e-9:
        canvas.line(px(tick), top, px(tick), top + plot_h, LIGHT)
        label = _label(tick, x_step)
        canvas.text(px(tick) - Canvas.text_width(label) // 2, top + plot_h + 8, label)
        tick += x_step
    tick = 0.0
    while tick <= y_max + 1e-9:
        canvas.line(left, py(tick), left + plot_w, py(tick), LIGHT)
        label = _label(tick, y_step)
        canvas.text(left - 8 - Canvas.text_width(label), py(tick) - 5, label)
        tick += y_step
    canvas.line(left, top, left, top + plot_h, BLACK)
    canvas.line(left, top + plot_h, left + plot_w, top + plot_h, BLACK)
    for one in series:
        canvas.polyline([(px(x), py(y)) for x, y in one.points], one.color, one.width)
    canvas.text(left, 12, title)
    canvas.text(left + plot_w - Canvas.text_width(x_label), height - 18, x_label)
    canvas.text(8, 12, y_label)
    for index, one in enumerate(series):
        y = top + 12 + index * 18
        canvas.line(left + 14, y + 4, left + 40, y + 4, one.color, 3)
        canvas.text(left + 48, y, one.label)
    return canvas
