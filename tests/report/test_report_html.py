"""The headless-Chromium check (tests/support/browser.py) catches what it must, so that a clean result
on the real report (tests/e2e/test_pipeline.py, on the sweep report it builds) means something."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import assert_clean, chromium_binary, load_in_chromium

# A 1x1 PNG, for pages that must load cleanly.
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_chromium_is_installed() -> None:
    assert Path(chromium_binary()).is_file()


def test_a_clean_page_passes_and_its_dom_is_read(tmp_path: Path) -> None:
    page = tmp_path / "ok.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body><h1>x</h1>"
        "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>"
        f"<img alt='dot' src='data:image/png;base64,{PIXEL}'></body></html>"
    )
    check = load_in_chromium(page)
    assert_clean(check)
    assert check.dom["title"] == "t" and check.dom["headings"] == ["x"]
    assert check.dom["tables"] == [{"heading": "x", "header": ["a", "b"], "rows": 1, "text": "a\tb\n1\t2"}]
    assert check.dom["images"] == [{"alt": "dot", "decoded": True, "width": 1, "height": 1}]


def test_js_errors_and_broken_images_are_caught(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>bad</title></head><body>"
        "<img alt='missing' src='missing.png'>"
        "<img alt='corrupt' src='data:image/png;base64,iVBORw0KGgoAAAAN'>"
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    check = load_in_chromium(page)
    text = "\n".join(check.errors)
    assert "ERR_FILE_NOT_FOUND" in text, text
    assert "console.error: boom" in text, text
    assert "undefinedFunction is not defined" in text, text
    assert {i["alt"]: i["decoded"] for i in check.dom["images"]} == {"missing": False, "corrupt": False}
    with pytest.raises(AssertionError, match="raised errors"):
        assert_clean(check)
