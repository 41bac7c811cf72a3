"""The station report (issue 14): a static site opened by headless Chromium from file://
and from moto's S3 server over HTTP; values checked against the catalog; pictures drawn
from the loudness curves kept at ingest and encode, and reused."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import deque
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import numpy as np
import pytest
import requests

from pipeline import curves
from pipeline.catalog import Catalog
from pipeline.config import load_config
from pipeline.errors import DangkeError
from pipeline.media import meter
from pipeline.report import build_report, plots
from tests.conftest import run_cli, s3_client, set_publish

ARTIFACTS = Path(__file__).parent / "artifacts"


# -- the station -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def station(publish_template, tmp_path_factory) -> Path:
    """The publishing template (three lessons, run once: its report went out with
    generation 1) plus a rejected file and a file still being copied, ingested and
    reported again, then published to its folder store."""
    root = tmp_path_factory.mktemp("report") / "station"
    shutil.copytree(publish_template, root)
    cfg = root / "dangke.toml"
    (root / "inbox" / "壞檔.mp3").write_bytes(b"this is a note, not audio\n" * 10)
    (root / "inbox" / "錄音.mp3.part").write_bytes(b"\xff\xfb" * 100)
    assert run_cli("--config", cfg, "ingest") == 1
    assert run_cli("--config", cfg, "report") == 0
    assert run_cli("--config", cfg, "publish") == 0
    return cfg


def _catalog(cfg: Path) -> Catalog:
    return Catalog(load_config(cfg).library / "catalog.sqlite")


# -- a headless Chromium ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Debian's chromedriver (Selenium), headless, fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="dangke-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1100,1400",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _exists(url: str) -> bool:
    parts = urlparse(url)
    if parts.scheme == "data":
        return True
    if parts.scheme == "file":
        return Path(unquote(parts.path)).is_file()
    return requests.get(url, timeout=30).status_code == 200


def crawl(driver, start: str) -> dict[str, dict]:
    """Open every page reachable from ``start`` inside its folder; for each: console
    errors, images not loaded, links and resources that do not exist."""
    base = start.rsplit("/", 1)[0] + "/"
    todo, seen, pages = deque([start]), {start}, {}
    checked: dict[str, bool] = {}
    while todo:
        url = todo.popleft()
        driver.get(url)
        logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        broken_images = driver.execute_script(
            "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        refs = driver.execute_script(
            "return [].concat(Array.from(document.querySelectorAll('a[href]')).map(a => a.href),"
            " Array.from(document.querySelectorAll('link[href]')).map(l => l.href),"
            " Array.from(document.querySelectorAll('script[src], img[src]')).map(s => s.src))")
        missing = []
        for ref in refs:
            target = urldefrag(ref)[0]
            if target not in checked:
                checked[target] = _exists(target)
            if not checked[target]:
                missing.append(target)
            if target.startswith(base) and target.endswith(".html") and target not in seen:
                seen.add(target)
                todo.append(target)
        pages[url] = {"errors": logs, "broken_images": broken_images, "missing": missing,
                      "text": driver.find_element("tag name", "body").text}
    return pages


def _fonts_of(driver, selector: str) -> list[str]:
    """The platform fonts Chromium used to draw the text of ``selector`` (DevTools CSS domain)."""
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [f["familyName"] for f in fonts]


def _check_site(driver, start: str, shots: str | None = None) -> dict[str, dict]:
    pages = crawl(driver, start)
    assert len(pages) >= 10, sorted(pages)
    for url, page in pages.items():
        assert page["errors"] == [], (url, page["errors"])
        assert page["broken_images"] == [], (url, page["broken_images"])
        assert page["missing"] == [], (url, page["missing"])
    lesson = next(u for u in pages if "/lesson/" in u)
    for url in (start, lesson):
        driver.get(url)
        fonts = _fonts_of(driver, "h1")
        assert any("CJK" in f for f in fonts), (url, fonts)  # Chinese drawn with a CJK font, not boxes
        if shots:
            ARTIFACTS.mkdir(exist_ok=True)
            path = ARTIFACTS / f"{shots}-{'front' if url == start else 'lesson'}.png"
            driver.save_screenshot(str(path))
            print(f"screenshot: {path}")
    return pages


# -- tests -----------------------------------------------------------------------------------

def test_site_from_file_has_no_broken_links_images_or_console_errors(station, browser):
    store = station.parent / "public"
    pages = _check_site(browser, (store / "reports" / "index.html").as_uri(), shots="report-file")
    front = pages[(store / "reports" / "index.html").as_uri()]["text"]
    assert "收件與匯入" in front and "Inbox" in front


def test_site_over_http_from_s3_with_content_types(station, browser, s3_server, tmp_path):
    root = tmp_path / "s3station"
    shutil.copytree(station.parent, root)
    cfg = root / "dangke.toml"
    client = s3_client(s3_server)
    client.create_bucket(Bucket="dk-report")
    client.put_bucket_policy(Bucket="dk-report", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                "Resource": "arn:aws:s3:::dk-report/dangke/*"}]}))
    set_publish(cfg, target="s3://dk-report/dangke", endpoint_url=s3_server, region="us-east-1",
                addressing_style="path")
    assert run_cli("--config", cfg, "publish") == 0
    base = f"{s3_server}/dk-report/dangke/"
    _check_site(browser, base + "reports/index.html", shots="report-s3")
    types = {k: requests.get(base + k, timeout=30).headers["Content-Type"] for k in
             ("reports/index.html", "reports/static/style.css", "reports/static/search.js")}
    assert types == {"reports/index.html": "text/html; charset=utf-8",
                     "reports/static/style.css": "text/css; charset=utf-8",
                     "reports/static/search.js": "text/javascript; charset=utf-8"}
    png = next(k for k in (o["Key"] for o in client.list_objects_v2(Bucket="dk-report", Prefix="dangke/reports/img/")
                           ["Contents"]))
    assert requests.get(f"{s3_server}/dk-report/{png}", timeout=30).headers["Content-Type"] == "image/png"


def test_pages_show_the_catalogs_values(station):
    reports = station.parent / "build" / "reports"
    with _catalog(station) as cat:
        lessons = cat.lessons()
        assert lessons
        for lesson in lessons:
            findings = cat.source(lesson.source_sha256).analysis
            html = (reports / "lesson" / f"{lesson.lesson_id}.html").read_text(encoding="utf-8")
            assert lesson.title in html
            assert f"{findings['integrated_lufs']:.1f} LUFS" in html
            assert f"{findings['lra_lu']:.1f} LU" in html
            links = 0
            for r in cat.renditions():
                if r.source_sha256 == lesson.source_sha256:
                    assert f"{r.integrated_lufs:.1f} LUFS" in html and f"{r.true_peak_dbtp:.1f} dBTP" in html
                    links += f'href="../../{r.key}"' in html
            assert links, lesson.lesson_id  # published renditions are linked (the crawl checks the links)
        rejected = cat.rejections()
    inbox = (reports / "inbox.html").read_text(encoding="utf-8")
    assert rejected and rejected[0].name == "壞檔.mp3"
    assert "壞檔.mp3" in inbox and "無法解碼" in inbox and "not decodable audio" in inbox
    assert "錄音.mp3.part" in inbox and "暫存檔名" in inbox  # waiting, with why
    manifests = list((station.parent / "build" / "devices" / "2027Q1").glob("*/manifest.json"))
    quarter = (reports / "quarter" / "2027Q1.html").read_text(encoding="utf-8")
    assert f"<b>{len(manifests)}</b> / " in quarter
    index = (reports / "quarter" / "2027Q1" / "devices.js").read_text(encoding="utf-8")
    assert index.startswith("window.DANGKE_DEVICES = ")
    devices = json.loads(index[len("window.DANGKE_DEVICES = "):].rstrip().rstrip(";"))
    assert sum(row[4] for row in devices.values()) == len(manifests)


def test_device_search_finds_a_device_in_the_browser(station, browser):
    store = station.parent / "public"
    browser.get((store / "reports" / "quarter" / "2027Q1.html").as_uri())
    box = browser.find_element("id", "device-id")
    box.send_keys("LJ-00001")
    result = browser.find_element("id", "device-result")
    assert "LJ-00001" in result.text
    link = result.find_element("tag name", "a").get_attribute("href")
    assert _exists(urldefrag(link)[0]) and link.endswith("#LJ-00001")


def test_a_second_report_draws_and_writes_nothing_and_a_second_publish_sends_nothing(station, capsys):
    cfg = load_config(station)
    with _catalog(station) as cat:
        again = build_report(cfg, cat, workers=1)
    assert again.pictures >= 3 and again.pictures_drawn == 0 and again.pages_written == 0
    assert run_cli("--config", station, "publish") == 0
    assert "nothing changed" in capsys.readouterr().out


def test_curves_are_kept_for_sources_and_renditions(station):
    with _catalog(station) as cat:
        shas = [l.source_sha256 for l in cat.lessons()] + [r.sha256 for r in cat.renditions()
                                                           if not r.source_sha256.count("+")]
        kept = curves.load(cat, shas)
    assert set(shas) <= set(kept)
    kinds = {kept[s].kind for s in shas}
    assert kinds == {"source", "rendition"}


def test_curve_of_a_tone_reads_its_loudness_and_survives_storage(tmp_path):
    rate = 48000
    t = np.arange(rate * 10) / rate
    x = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    m = meter.Meter(rate, 1)
    light = meter.CurveMeter(rate, 1)
    for i in range(0, x.size, 12345):
        m.feed(x[i:i + 12345])
        light.feed(x[i:i + 12345])
    full = meter.curve(m.frames())
    fast = light.curve()
    whole = meter.measure_array(x, rate).integrated_lufs
    assert full.step_s == fast.step_s == 0.1
    assert abs(full.short_term[-1] - whole) < 0.05 and abs(fast.short_term[-1] - whole) < 0.05
    assert abs(full.momentary[-1] - fast.momentary[-1]) < 0.01
    assert abs(fast.peak[-1] - (-20.0)) < 0.1
    with Catalog(tmp_path / "c.sqlite") as cat:
        curves.store(cat, "ab" * 32, "source", fast)
        back = curves.load(cat, ["ab" * 32])["ab" * 32].curve
    assert np.allclose(back.short_term, fast.short_term, atol=0.051)
    long = meter.CurveMeter(8000, 1)
    long.feed(np.zeros(8000 * 3600, dtype=np.float32))
    c = long.curve()
    assert c.momentary.size <= meter.CURVE_MAX_POINTS and np.isneginf(c.momentary).all()
    assert len(curves.pack(c)) < 2000


def test_pictures_draw_chinese_with_the_cjk_font(tmp_path, recwarn):
    c = meter.CurveMeter(16000, 1)
    c.feed(np.full(16000 * 5, 0.1, dtype=np.float32))
    plots.lesson_picture(c.curve(), [plots.Series("播放器 player", c.curve(), -16.0, "x")], tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert not [w for w in recwarn if "missing from" in str(w.message)]  # matplotlib: "Glyph ... missing from font"


def _speech_curve(seconds: float, level_db: float, seed: int) -> meter.Curve:
    """The curve of noise bursts with pauses (speech-like), measured by the light meter."""
    rate = 8000
    gen = np.random.default_rng(seed)
    x = gen.normal(0, 10 ** (level_db / 20), int(rate * seconds)).astype(np.float32)
    x *= np.repeat(gen.random(int(seconds * 2) + 1) > 0.2, rate // 2)[:x.size]
    c = meter.CurveMeter(rate, 1)
    c.feed(x)
    return c.curve()


def _pixels(path: Path) -> np.ndarray:
    """A PNG's red, green and blue (0 to 1); an alpha channel must be opaque."""
    from matplotlib import image
    px = image.imread(path)
    assert px.shape[2] == 3 or (px[..., 3] == 1).all()
    return px[..., :3]


def test_a_picture_has_the_pixels_of_a_full_draw(tmp_path):
    # the painter draws only what changes over a kept frame and legends: after pictures of
    # other lengths, time units and renditions, each still equals a full draw of its figure
    long, short = _speech_curve(1500, -26, 1), _speech_curve(45, -18, 2)
    pictures = [
        (long, [plots.Series("播放器 player", _speech_curve(1500, -16, 3), -16.0, "a"),
                plots.Series("廣播 broadcast", _speech_curve(1500, -23, 4), -23.0, "b")]),
        (short, [plots.Series("播放器 player", _speech_curve(45, -16, 5), -16.0, "c"),
                 plots.Series("廣播 broadcast", _speech_curve(45, -23, 6), -24.0, "d")]),
        (short, [plots.Series("網頁 web", short, -18.0, "e")]),
        (None, [plots.Series("播放器 player", long, -16.0, "f")]),
        (long, [plots.Series("播放器 player", short, -16.0, "g"), plots.Series("網頁 web", long, -18.0, "h")]),
    ]
    for i, (source, series) in enumerate(pictures):
        fast, full = tmp_path / f"{i}.png", tmp_path / f"{i}-full.png"
        plots.lesson_picture(source, series, fast)
        plots._painters[2 if source is not None else 1].fig.savefig(full, format="png", dpi=100)
        a, b = _pixels(fast), _pixels(full)
        assert a.shape == b.shape == ((600, 800, 3) if source is not None else (380, 800, 3))
        assert np.abs(a - b).max() <= 1 / 255 + 1e-6, i  # the legends are laid over: rounding only
        assert (np.abs(a - b) > 1e-6).any(axis=2).sum() < 100, i


def test_pictures_drawn_by_worker_processes_equal_those_drawn_here(tmp_path):
    source = _speech_curve(300, -24, 7)
    jobs = [(str(tmp_path / "pool" / f"{i}.png"), source,
             [plots.Series("播放器 player", _speech_curve(300, -16, 8 + i % 3), -16.0 - i % 3, str(i))])
            for i in range(plots.PARALLEL_FROM)]
    (tmp_path / "pool").mkdir()
    with plots.Drawing(jobs, workers=2) as drawing:
        assert drawing.wait() == len(jobs)
    (tmp_path / "here").mkdir()
    for path, src, series in jobs[:4]:
        here = tmp_path / "here" / Path(path).name
        plots.draw_one((str(here), src, series))
        assert np.array_equal(_pixels(Path(path)), _pixels(here))
    assert all(Path(j[0]).read_bytes()[:4] == b"\x89PNG" for j in jobs)


def test_no_cjk_font_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("DANGKE_CJK_FONT", raising=False)
    monkeypatch.setattr(plots, "FONT_DIRS", (str(tmp_path),))
    with pytest.raises(DangkeError, match="fonts-noto-cjk"):
        plots.cjk_font()
