"""In a real browser (the system Chromium, driven by Playwright): the UI shows the report's figures, the report's
images decode and the review video plays.  Runs only where Chromium is installed (Debian package ``chromium``)."""

import shutil
import sys

import pytest

from neuropose_assets_tests import REPO

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (shutil.which("chromium") or shutil.which("chromium-browser")),
        reason="Chromium is not installed (apt-get install chromium)",
    ),
]


def test_figures_show_and_the_review_video_plays(tmp_path, cam01):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import browser_check

    found = browser_check.check(cam01, "gait", tmp_path / "shots", tmp_path / "data")
    assert found["ui_images"] and all(w > 0 and done for _, w, _, done in found["ui_images"])
    assert len(found["report_images"]) >= 3 and all(w > 0 for _, w in found["report_images"])
    assert found["video_duration_s"] > 1.5  # 100 frames at 60 fps
    # the results page on the UI's server: the video's row with its outcomes, the player plays, the report opens
    assert found["results_row"].startswith(cam01.stem.lower())
    assert found["results_video_duration_s"] > 1.5
    assert "/results/report/" in found["results_report_url"] and found["results_report_images"] >= 3
    # one click from the UI's home to the row with the video's outcomes and their units; the PDF is served
    assert found["home_to_outcomes_clicks"] <= 2 and found["home_to_outcomes_url"].endswith("/results/")
    assert "[steps/min]" in found["home_to_outcomes_header"]
    assert found["results_pdf"][1:] == [200, "application/pdf", "%PDF-"]
    assert all(w >= 900 for alt, w in found["report_images"] if alt != "key_frames")  # readable figures
