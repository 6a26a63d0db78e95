"""``report.html`` (export/report.py): one self-contained page per analysis, checked as text and in Chromium.

Known answers: a 10 s synthetic 3D session whose confidence and reprojection
error are set by hand, so the QC numbers the page shows are known; every PNG
of the folder must be on the page byte for byte (as a data: URI); the model
selection and stability blocks must say what summary.json says. The browser
test opens the page in headless Chromium (Debian's ``chromium``; CI installs
it through scripts/setup.sh) with the page's own Content-Security-Policy
removed, so it shows the page needs nothing from anywhere, not merely that it
is forbidden to fetch. Budget: two fits of 300 frames and a few seconds of
Chromium.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.analysis_outputs import OUTPUT_NAMES
from napari_facehmm.analysis_sessions_outputs import SESSIONS_OUTPUT_NAMES
from napari_facehmm.cli import main
from napari_facehmm.errors import DataError
from napari_facehmm.export.report import REPORT_NAME, render_report
from napari_facehmm.export.report_html import CSP
from napari_facehmm.tracking.frame_quality import quality_summary

N_FRAMES = 300
N_MISSING = 30  # frames without keypoint 0


def _known_series(seed: int):
    """A synthetic 3D series: keypoint k has error 0.1 k px; every 4th keypoint likelihood 0.3, the others 0.9."""
    from napari_facehmm.synthetic import simulate_face

    series = simulate_face(N_FRAMES, fps=30.0, seed=seed, n_states=3).to_series()
    n_keypoints = len(series.keypoints)
    positions = series.positions.copy()
    positions[:N_MISSING, 0] = np.nan
    confidence = np.where(np.arange(n_keypoints) % 4 == 0, 0.3, 0.9)[None, :].repeat(N_FRAMES, axis=0)
    error = (0.1 * np.arange(n_keypoints))[None, :].repeat(N_FRAMES, axis=0)
    ncams = np.full((N_FRAMES, n_keypoints), 2.0)
    return series.copy(positions=positions, confidence=confidence, attrs={"error": error, "ncams": ncams})


def _expected_qc(series) -> dict[str, float]:
    n_keypoints = len(series.keypoints)  # 21: keypoints 0, 4, ..., 20 have likelihood 0.3
    low = np.arange(n_keypoints) % 4 == 0
    n_points = N_FRAMES * n_keypoints - N_MISSING
    return {
        "points_tracked_fraction": n_points / (N_FRAMES * n_keypoints),
        "likelihood_median": 0.9,
        "likelihood_below_0_5_fraction": (low.sum() * N_FRAMES - N_MISSING) / n_points,
        # errors 0.0 .. 2.0 in steps of 0.1, keypoint 0 (error 0) missing on N_MISSING frames
        "reprojection_error_px_median": 1.0,
    }


def test_quality_summary_gives_the_known_numbers():
    series = _known_series(seed=1)
    qc = quality_summary(series)
    for key, value in _expected_qc(series).items():
        assert qc[key] == pytest.approx(value, abs=1e-12), key
    assert qc["n_keypoints"] == 21
    assert 1.9 <= qc["reprojection_error_px_p95"] <= 2.0
    empty = series.copy(positions=np.full_like(series.positions, np.nan), attrs={})
    assert quality_summary(empty) == {"n_keypoints": 21, "points_tracked_fraction": 0.0}


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    """``facehmm analyze --states 2-3 --stability-seeds 2`` on the known series: the folder."""
    from napari_facehmm.io.anipose import write_pose3d

    root = tmp_path_factory.mktemp("report")
    source = write_pose3d(_known_series(seed=1), root / "pose.csv")
    out = root / "analysis"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["analyze", str(source), "--states", "2-3", "--restarts", "1", "--iterations", "20",
                     "--stability-seeds", "2", "--out", str(out)])
    assert code == 0
    return out


def test_report_is_one_of_the_outputs_of_a_result_set():
    assert REPORT_NAME in OUTPUT_NAMES and REPORT_NAME in SESSIONS_OUTPUT_NAMES


def test_report_holds_every_figure_the_tables_and_the_qc(analysis):
    page = (analysis / REPORT_NAME).read_text(encoding="utf-8")
    pngs = sorted(analysis.glob("*.png"))
    assert {p.stem for p in pngs} >= {"ethogram", "mean_faces", "frequencies", "transitions", "kinematics",
                                      "model_selection"}
    for png in pngs:
        assert f'src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}"' in page, png.name
    assert len(re.findall(r"<img ", page)) == len(pngs)

    # nothing outside the page: no script, no stylesheet, every src a data: URI, fetching forbidden
    assert "<script" not in page and "<link" not in page
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', page))
    assert f'http-equiv="Content-Security-Policy" content="{CSP}"' in page

    summary = json.loads((analysis / "summary.json").read_text())
    for key, value in _expected_qc(_known_series(seed=1)).items():
        assert summary["qc"][key] == pytest.approx(value, abs=1e-12), key
    assert "reprojection error (px): median</th><td class=k>1</td>" in page
    assert "tracking likelihood: fraction of points below 0.5</th><td class=k>" in page
    assert f"frames with a state</th><td class=k>{summary['n_frames_with_state']:,} of {N_FRAMES:,}" in page
    assert f"source</th><td class=k>{summary['source']}</td>" in page
    assert "max_gap_frames</th><td class=k>5</td>" in page  # the settings

    stats = pd.read_csv(analysis / "state_stats.csv")
    assert "States (state_stats.csv)" in page and "Transitions (transitions.csv)" in page
    for row in stats.itertuples():
        assert f"<td>{row.state}</td><td>{row.name}</td><td>{row.n_frames:,}</td>" in page
    assert "per-frame tables (not shown): states.csv, head_motion.csv" in page


def test_report_shows_model_selection_and_stability(analysis):
    from napari_facehmm.analysis_stability import stability_sentence

    page = (analysis / REPORT_NAME).read_text(encoding="utf-8")
    summary = json.loads((analysis / "summary.json").read_text())
    selection, stability = summary["model_selection"], summary["stability"]
    assert "<h2>Model selection</h2>" in page and f"<b>{selection['reason']}</b>" in page
    scores = pd.read_csv(analysis / "model_selection.csv")
    assert scores.n_states.tolist() == [2, 3]
    assert "Held-out scores per number of states" in page
    names = pd.read_csv(analysis / "state_stats.csv")["name"].tolist()
    assert "<h2>Stability</h2>" in page and stability_sentence(stability, names) in page
    assert stability["n_seeds"] == 2


def test_report_of_an_analysis_without_selection_or_stability_has_neither_block(analysis, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(analysis, folder)
    for name in ("model_selection.csv", "model_selection.png"):
        (folder / name).unlink()
    summary = json.loads((folder / "summary.json").read_text())
    del summary["model_selection"], summary["stability"], summary["qc"]
    (folder / "summary.json").write_text(json.dumps(summary))
    page = render_report(folder)
    assert "Model selection" not in page and "<h2>Stability</h2>" not in page
    assert "model_selection" not in page
    assert "tracking QC</th><td class=k>not recorded" in page


def test_render_report_refuses_a_folder_that_is_no_analysis(tmp_path):
    with pytest.raises(DataError, match=re.escape(f"{tmp_path}: not an analysis folder")):
        render_report(tmp_path)
    (tmp_path / "summary.json").write_text("[1, 2")
    with pytest.raises(DataError, match="summary.json: not a readable analysis summary"):
        render_report(tmp_path)


def test_several_sessions_get_a_report_each_and_one_linking_them(tmp_path):
    from napari_facehmm.io.anipose import write_pose3d

    paths = [write_pose3d(_known_series(seed=seed), tmp_path / f"s{seed}.csv") for seed in (2, 3)]
    out = tmp_path / "results"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["analyze", *map(str, paths), "--states", "3", "--restarts", "1", "--iterations", "20",
                     "--stability-seeds", "0", "--no-figures", "--out", str(out)])
    assert code == 0
    top = (out / REPORT_NAME).read_text(encoding="utf-8")
    for name in ("s2", "s3"):
        assert f'<a href="{name}/{REPORT_NAME}">{name}</a>' in top
        own = (out / name / REPORT_NAME).read_text(encoding="utf-8")
        assert f'<a href="../{REPORT_NAME}">report of all sessions</a>' in own
        assert f"analysis folder {(out / name).resolve()}" in own  # not the hidden folder it was built in
    assert "Sessions and states (sessions.csv)" in top
    # the per-session QC table: each session's median reprojection error (1.0 px)
    assert top.count("<td>1</td><td><a href=") == 2


#: run on load: every image's state and every resource the page fetched, written into the page
_CHECK = """<script>
window.addEventListener('load', () => {
  const images = [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}));
  const fetched = performance.getEntriesByType('resource').map(e => e.name);
  const out = document.createElement('pre');
  out.id = 'facehmm-check';
  out.textContent = JSON.stringify({images, fetched});
  document.body.appendChild(out);
});
</script>"""


def _open_in_chromium(page: str, tmp_path) -> dict:
    """Open ``page`` (HTML) with :data:`_CHECK` added in headless Chromium (no name resolves); what it found."""
    import html

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it): the report is not opened")
    opened = tmp_path / "opened.html"
    opened.write_text(page.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
               "--virtual-time-budget=10000", "--dump-dom", opened.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="facehmm-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium gave no result (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_report_opens_in_chromium_with_every_image_loaded_and_nothing_fetched(analysis, tmp_path):
    page = (analysis / REPORT_NAME).read_text(encoding="utf-8")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    assert meta in page
    # the policy would hide a fetch the page tries (and block the check's script): open it without
    check = _open_in_chromium(page.replace(meta, ""), tmp_path)
    pngs = sorted(p.stem for p in analysis.glob("*.png"))
    assert sorted(image["alt"] for image in check["images"]) == pngs
    broken = [image for image in check["images"] if not image["complete"] or image["width"] <= 0]
    assert not broken, f"images that did not load: {broken}"
    assert check["fetched"] == []


def test_chromium_check_sees_a_broken_image_and_a_fetch(tmp_path):
    """The browser check can fail: a page with a broken image and a remote one is caught."""
    page = ('<!DOCTYPE html><html><body><img alt="broken" src="data:image/png;base64,AAAA">'
            '<img alt="remote" src="http://example.invalid/x.png"></body></html>')
    check = _open_in_chromium(page, tmp_path)
    assert [image["width"] for image in check["images"]] == [0, 0]
    assert check["fetched"] == ["http://example.invalid/x.png"]


def test_batch_tables_come_with_a_report_linking_sessions_and_naming_failures(analysis, tmp_path):
    """``facehmm batch``'s writer of the files beside the session folders (batch/outputs.py)."""
    from napari_facehmm.batch.outputs import read_session_entry, write_tables

    out = tmp_path / "batch"
    shutil.copytree(analysis, out / "s1")
    failures = [{"session": "s4", "stage": "triangulation", "error": "s4-camA.h5: not a readable HDF5 file"}]
    files = write_tables(out, [read_session_entry(out, "s1")], failures, {"n_states": 2, "fitted": True})
    page = files["report"].read_text(encoding="utf-8")
    assert files["report"] == out / REPORT_NAME
    assert '<a href="s1/report.html">s1</a>' in page
    assert "Failed sessions (failures.csv)" in page and "<td>s4</td><td>triangulation</td>" in page
