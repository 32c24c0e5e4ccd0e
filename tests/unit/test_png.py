"""The benchmark's PNG writer (pure): a valid PNG file, lines where they were drawn, text."""

from __future__ import annotations

import struct
import zlib

from bench.png import BLACK, WHITE, Canvas, Series, line_chart, nice_step


def decode(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw RGB rows of an 8-bit RGB PNG with filter 0 rows (what we write)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data)
        chunks[kind] = chunks.get(kind, b"") + data
        pos += 12 + length
    width, height, depth, color_type, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, color_type) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    rows = [raw[y * (width * 3 + 1) : (y + 1) * (width * 3 + 1)] for y in range(height)]
    assert all(row[0] == 0 for row in rows)
    return width, height, b"".join(row[1:] for row in rows)


def pixel(rgb: bytes, width: int, x: int, y: int) -> tuple[int, int, int]:
    i = (y * width + x) * 3
    return (rgb[i], rgb[i + 1], rgb[i + 2])


def test_a_line_is_drawn_end_to_end_and_the_file_decodes() -> None:
    canvas = Canvas(20, 10)
    canvas.line(0, 0, 19, 9, BLACK)
    width, height, rgb = decode(canvas.png())
    assert (width, height) == (20, 10)
    assert pixel(rgb, width, 0, 0) == BLACK
    assert pixel(rgb, width, 19, 9) == BLACK
    assert pixel(rgb, width, 19, 0) == WHITE
    assert sum(1 for x in range(20) for y in range(10) if pixel(rgb, width, x, y) == BLACK) == 20


def test_drawing_off_the_canvas_is_clipped() -> None:
    canvas = Canvas(5, 5)
    canvas.line(-10, 2, 30, 2, BLACK, width=3)
    assert canvas.get(0, 1) == canvas.get(4, 3) == BLACK
    assert canvas.get(0, 0) == WHITE


def test_text_puts_ink_inside_its_box() -> None:
    canvas = Canvas(40, 20)
    canvas.text(2, 2, "10 s", scale=2)
    inked = [(x, y) for x in range(40) for y in range(20) if canvas.get(x, y) == BLACK]
    assert inked
    assert all(2 <= x < 2 + Canvas.text_width("10 s") and 2 <= y < 12 for x, y in inked)


def test_tick_steps_are_one_two_or_five_times_a_power_of_ten() -> None:
    assert nice_step(130) == 50
    assert nice_step(10) == 2
    assert nice_step(0.9) == 0.2


def test_a_chart_draws_each_series_in_its_colour() -> None:
    red = (200, 0, 0)
    chart = line_chart(
        [Series("ramp", [(0, 0), (10, 100)], red)],
        title="t",
        x_label="s",
        y_label="n",
        x_max=10,
        y_max=100,
        width=300,
        height=200,
    )
    width, _, rgb = decode(chart.png())
    reds = [(x, y) for x in range(300) for y in range(200) if pixel(rgb, width, x, y) == red]
    assert len(reds) > 150  # the ramp across the plot, and its legend swatch
