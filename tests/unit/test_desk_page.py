"""The desk page's rendering (functions/desk/page.py): one document, its parts and config inlined."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from functions.desk import page
from functions.desk.page import CONFIG_MARK, SCRIPT_MARK, STYLE_MARK, render_page

STATIC = Path(page.__file__).parent / "static"
CONFIG = {"timezone": "Africa/Johannesburg", "auth": None}


def config_of(html: str) -> object:
    match = re.search(r"<script>window\.DESK_CONFIG = (.*?);</script>", html, re.DOTALL)
    assert match, "no DESK_CONFIG script"
    return json.loads(match.group(1))


def test_the_page_is_one_document_with_its_style_script_and_config_inlined() -> None:
    html = render_page(CONFIG)
    for mark in (STYLE_MARK, SCRIPT_MARK, CONFIG_MARK):
        assert mark not in html
    style = (STATIC / "desk.css").read_text(encoding="utf-8")
    script = (STATIC / "desk.js").read_text(encoding="utf-8")
    assert html.count(f"<style>\n{style}</style>") == 1
    assert html.count(f"<script>\n{script}</script>") == 1
    assert config_of(html) == CONFIG
    # The configuration is set before the script that reads it runs; nothing is fetched.
    assert html.index("window.DESK_CONFIG") < html.index(script)
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", html)


def test_config_strings_cannot_end_the_script_or_open_a_comment() -> None:
    hostile = {
        "timezone": "</script><script>alert(1)</script>",
        "auth": {"domain": "https://x.example/<!--", "client_id": "a&b>c", "redirect_uri": "\u2028\u2029"},
    }
    html = render_page(hostile)
    config_script = html[html.index("window.DESK_CONFIG") :]
    config_script = config_script[: config_script.index("</script>")]
    assert "<" not in config_script
    assert ">" not in config_script.split("=", 1)[1]
    assert "\u2028" not in config_script
    assert "\u2029" not in config_script
    assert config_of(html) == hostile
    assert html.count("</script>") == 2  # the config's and the page script's


def test_a_config_mark_inside_a_config_value_is_not_expanded() -> None:
    html = render_page({"timezone": STYLE_MARK, "auth": None})
    assert config_of(html) == {"timezone": STYLE_MARK, "auth": None}
    assert html.count("<style>") == 1


def test_a_template_without_its_marks_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("desk.css", "desk.js"):
        (tmp_path / name).write_text((STATIC / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "desk.html").write_text(f"<html>{STYLE_MARK}{CONFIG_MARK}</html>", encoding="utf-8")
    monkeypatch.setattr(page, "STATIC", tmp_path)
    page._parts.cache_clear()
    try:
        with pytest.raises(ValueError, match="DESK_SCRIPT"):
            render_page(CONFIG)
        (tmp_path / "desk.html").write_text(f"{STYLE_MARK}{SCRIPT_MARK}{CONFIG_MARK}", encoding="utf-8")
        (tmp_path / "desk.js").write_text("const x = '</script>';", encoding="utf-8")
        page._parts.cache_clear()
        with pytest.raises(ValueError, match=r"desk\.js"):
            render_page(CONFIG)
    finally:
        page._parts.cache_clear()


def test_the_static_files_are_plain_and_self_contained() -> None:
    script = (STATIC / "desk.js").read_text(encoding="utf-8")
    style = (STATIC / "desk.css").read_text(encoding="utf-8")
    html = (STATIC / "desk.html").read_text(encoding="utf-8")
    # No framework, no CDN, no module or font or image to fetch: nothing is downloaded.
    assert " src=" not in html
    assert "<link" not in html.replace('<link rel="icon" href="data:,">', "")
    assert "url(" not in style
    assert "@import" not in style
    assert "@font-face" not in style
    assert not re.search(r"^\s*import\b|\bimport\(", script, re.MULTILINE)
    # The desk only reads: GET is the only method it uses on the service (the one POST is the
    # sign-in's token exchange with Cognito).
    assert script.count("method: 'POST'") == 1
    assert "/oauth2/token" in script
