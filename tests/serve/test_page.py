"""The review page in headless Chromium (Debian's chromium, driven by Playwright): it loads from the server
alone, shows the demo article's flags, and an accepted suggestion changes the downloaded text."""
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"  # installed by the README's first command (Debian's chromium)
SEED = Path(__file__).resolve().parents[2] / "seeds" / "article_backtranslated.txt"


def test_review_page_flags_accepts_and_downloads(server, tmp_path):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    article = SEED.read_text(encoding="utf-8")
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(accept_downloads=True)
            page.on("request", lambda request: requested.append(request.url))
            page.goto(server + "/")
            page.fill("#input", article)
            page.click("#check")
            page.wait_for_selector("mark")
            flagged = page.locator("mark").all_inner_texts()
            assert {"pariad", "guides", "Explosion"} <= set(flagged)
            page.locator("mark", has_text="pariad").first.click()
            page.locator("#card .replacement").first.click()
            assert "pariad" not in page.locator("mark").all_inner_texts()
            page.locator("mark", has_text="guides").first.click()
            page.click("#reject")
            with page.expect_download() as download:
                page.click("#download")
            saved = tmp_path / "fixed.txt"
            download.value.save_as(saved)
        finally:
            browser.close()
    fixed = saved.read_text(encoding="utf-8")
    assert "pariah" in fixed and "pariad" not in fixed and "two guides" in fixed
    assert fixed == article.replace("pariad", "pariah", 1)
    assert all(url.startswith(server) or url.startswith("blob:") for url in requested), requested
