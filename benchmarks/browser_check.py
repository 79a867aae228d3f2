"""Check the pictures in a real browser: the Dagster UI shows the report's figures and the review video plays.

Runs ``neuropose-assets run`` on a real clip into a fresh data root (task, outcomes, review video, report), starts
``neuropose-assets ui`` on it, then drives the system Chromium (Debian package ``chromium``; Playwright with
``executable_path``, no browser download) to

* open the ``report`` asset's page for the partition and wait until its inline images are decoded (``naturalWidth``
  > 0), and take a screenshot;
* load the review video in a ``<video>`` element and read its duration (> 0 s) — the browser can decode the H.264;
* open the report HTML itself and count its decoded images.

    .venv/bin/python benchmarks/browser_check.py [--clip VIDEO] [--task arm_raise] [--shots DIR]

Prints what it found and exits non-zero when a check fails.  ``neuropose_assets_tests/test_browser.py`` runs it when
Chromium is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
DEFAULT_CLIP = REPO.parent / "shared" / "dev_data" / "clips" / "onelegstance_armraise_front.mp4"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(port: int, timeout: float = 120) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
            return True
        except OSError:
            time.sleep(1)
    return False


def check(clip: Path, task: str, shots: Path, data: Path) -> dict:
    """Run the checks (module docstring); returns the findings."""
    from playwright.sync_api import sync_playwright

    cli = Path(sys.executable).parent / "neuropose-assets"
    key = clip.stem.lower()
    subprocess.run(
        [str(cli), "run", str(clip), "--task", task, "--cohort", "browser", "--data-root", str(data), "--key", key],
        check=True,
        capture_output=True,
    )
    report = data / "reports" / f"{key}.html"
    video = data / "review" / f"{key}.mp4"
    port = _free_port()
    env = {**os.environ, "NEUROPOSE_INTAKE": str(data / "intake")}
    ui = subprocess.Popen(
        [str(cli), "ui", "--data-root", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    found: dict = {"report": str(report), "review_video": str(video)}
    shots.mkdir(parents=True, exist_ok=True)
    try:
        if not _wait_up(port):
            raise RuntimeError("the UI did not start")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
            # the UI's Content Security Policy forbids evaluating strings; the checks below are our own scripts
            page = browser.new_page(viewport={"width": 1400, "height": 1800}, bypass_csp=True)
            page.goto(f"http://127.0.0.1:{port}/assets/report?partition={key}&view=events", wait_until="networkidle")
            page.wait_for_timeout(2000)
            skip = page.get_by_role("button", name="Skip")  # the UI's first-visit newsletter dialog
            if skip.count():
                skip.first.click()
            page.screenshot(path=str(shots / "ui_report_asset.png"), full_page=True)
            links = page.get_by_text("[Show Markdown]")
            found["ui_images"] = []
            for i in range(links.count()):  # each Markdown metadata entry opens in a dialog
                links.nth(i).click()
                page.wait_for_function(
                    "() => document.querySelectorAll('img[src^=\"data:image\"]').length > 0", timeout=30_000
                )
                page.wait_for_timeout(500)
                found["ui_images"] += page.evaluate("""() => Array.from(document.querySelectorAll(
                    'img[src^="data:image"]')).map(i => [i.alt, i.naturalWidth, i.naturalHeight, i.complete])""")
                page.screenshot(path=str(shots / f"ui_report_plot_{i}.png"))
                page.keyboard.press("Escape")
                page.wait_for_timeout(300)
            page.goto(
                f"http://127.0.0.1:{port}/assets/review_video?partition={key}&view=events", wait_until="networkidle"
            )
            page.wait_for_timeout(2500)
            page.screenshot(path=str(shots / "ui_review_video_asset.png"), full_page=True)
            # from the UI's home to the video's outcomes: the Results link on every UI page, then the row
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(shots / "ui_home.png"))
            clicks = 0
            page.locator("#neuropose-results-link").click()
            clicks += 1
            page.wait_for_load_state("networkidle")
            found["home_to_outcomes_clicks"] = clicks
            found["home_to_outcomes_url"] = page.url
            found["home_to_outcomes_header"] = (
                page.locator(f"tr[id='{key}']").locator("xpath=ancestor::table").locator("thead").inner_text()
            )
            # the results page, on the same guarded server: the row, its review video played over HTTP, its report
            page.goto(f"http://127.0.0.1:{port}/results/cohort/browser", wait_until="networkidle")
            found["results_row"] = page.locator(f"tr[id='{key}']").inner_text()
            pdf_href = page.locator(f"tr[id='{key}'] a", has_text="PDF").get_attribute("href")
            pdf = page.request.get(f"http://127.0.0.1:{port}{pdf_href}")
            found["results_pdf"] = [pdf_href, pdf.status, pdf.headers.get("content-type"), pdf.body()[:5].decode()]
            found["results_video_duration_s"] = page.evaluate(f"""() => new Promise((ok, fail) => {{
                const v = document.querySelector("tr[id='{key}'] video");
                if (!v) {{ fail('no video element'); return; }}
                if (v.readyState >= 1) {{ ok(v.duration); return; }}
                v.addEventListener('loadedmetadata', () => ok(v.duration));
                v.addEventListener('error', () => fail('cannot play: ' + (v.error && v.error.code)));
                v.load(); setTimeout(() => fail('no metadata after 20 s'), 20000);
            }})""")
            page.screenshot(path=str(shots / "results_page.png"), full_page=True)
            page.locator(f"tr[id='{key}'] a", has_text="report").click()
            page.wait_for_load_state("networkidle")
            found["results_report_url"] = page.url
            found["results_report_images"] = page.evaluate("() => document.images.length")
            page.screenshot(path=str(shots / "results_report.png"), full_page=True)
            page.goto(report.as_uri())
            found["report_images"] = page.evaluate(
                "() => Array.from(document.images).map(i => [i.alt, i.naturalWidth])"
            )
            page.screenshot(path=str(shots / "report.png"), full_page=True)
            page.set_content(f'<video id="v" src="{video.as_uri()}" muted controls></video>')
            found["video_duration_s"] = page.evaluate("""() => new Promise((ok, fail) => {
                const v = document.getElementById('v');
                if (v.readyState >= 1) { ok(v.duration); return; }  // metadata already loaded
                v.addEventListener('loadedmetadata', () => ok(v.duration));
                v.addEventListener('error', () => fail('cannot play: ' + (v.error && v.error.code)));
                setTimeout(() => fail('no metadata after 20 s'), 20000);
            })""")
            page.evaluate("() => { document.getElementById('v').currentTime = 1.0; }")
            page.wait_for_timeout(800)
            page.screenshot(path=str(shots / "review_video_frame.png"))
            browser.close()
    finally:
        ui.send_signal(signal.SIGTERM)
        try:
            ui.wait(60)
        except subprocess.TimeoutExpired:
            ui.kill()
    found["ok"] = (
        bool(found.get("ui_images"))
        and all(w > 0 and done for _, w, _, done in found["ui_images"])
        and (len(found.get("report_images", [])) >= 3 and all(w > 0 for _, w in found["report_images"]))
        and (found.get("video_duration_s", 0) > 0)
    )
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--task", default="arm_raise")
    ap.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "neuropose_browser_check")
    ap.add_argument("--data-root", type=Path)
    args = ap.parse_args(argv)
    if chromium() is None:
        print("no Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        found = check(args.clip, args.task, args.shots, args.data_root or Path(tmp) / "data")
    print(json.dumps(found, indent=1))
    print(f"screenshots: {args.shots}")
    return 0 if found["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
