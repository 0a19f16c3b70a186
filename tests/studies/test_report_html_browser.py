"""`atomflow report STORE --html` opened in a real headless browser (Debian's chromium).

The page must be one self-contained file: the browser loads it from disk with the network
disabled, and we read back the DOM it built to find the report's tables and inlined plots.
"""

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from atomflow.studies.lzc_report import write_lzc_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _install_chromium() -> str | None:
    """Debian's chromium: found, or installed when this user may (CI runs as root)."""
    found = shutil.which("chromium")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        env=env,
        capture_output=True,
        timeout=900,
    )
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def chromium():
    path = _install_chromium()
    if path is None:
        pytest.skip("chromium is not installed and cannot be installed here (needs root + apt)")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with a published Li2ZrCl6–N report made from synthetic task outputs."""
    root = tmp_path_factory.mktemp("store")
    folder = root / "results" / "li2zrcl6_n"
    folder.mkdir(parents=True)
    npts, transports, tx = [], [], []
    for x, a, ea in ((0.0, 11.05, 0.32), (0.15, 11.12, 0.25), (0.25, 11.15, 0.29)):
        npts.append(
            {
                "temperature_K": 300.0,
                "lattice": {
                    "a": a,
                    "a_err": 0.01,
                    "c": 5.97,
                    "c_err": 0.01,
                    "V": 632.0,
                    "V_err": 1.0,
                },
            }
        )
        for T in (650.0, 775.0, 900.0):
            D = 1e-3 * np.exp(-ea / (8.617e-5 * T))
            tx.append(x)
            transports.append(
                {
                    "temperature_K": T,
                    "D_cm2_s": D,
                    "D_err_cm2_s": 0.1 * D,
                    "converged": True,
                    "n_mobile": 130,
                    "volume_A3": 12700.0,
                    "fit_start_ps": 1.0,
                    "fit_end_ps": 6.0,
                    "sigma_NE_mS_cm": 100.0,
                    "sigma_EH_mS_cm": 90.0,
                    "sigma_EH_err_mS_cm": 20.0,
                    "sigma_EH_converged": True,
                    "haven_ratio": 1.1,
                }
            )
    reference = {
        "source": "test",
        "lattice": {"0": {"a": 11.053, "c": 5.962}, "0.15": {"a": 11.145, "c": 6.042}},
        "Ea_eV": {"0": 0.349, "0.15": 0.244},
        "sigma_RT_mS_cm": {"0": 0.51, "0.15": 1.5, "0.25": 0.74},
    }
    write_lzc_report(
        folder,
        lattice_x=[0.0, 0.15, 0.25],
        npts=npts,
        transport_x=tx,
        transports=transports,
        reference=reference,
        settings={"potential": "test"},
    )
    return root


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.headers, self.images, self._in_th = 0, [], [], False
        self.json_blocks = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables += 1
        elif tag == "th":
            self._in_th = True
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "script" and attrs.get("id") == "report-data":
            self.json_blocks += 1

    def handle_endtag(self, tag):
        if tag == "th":
            self._in_th = False

    def handle_data(self, data):
        if self._in_th and data.strip():
            self.headers.append(data.strip())


def test_html_report_loads_in_chromium_with_its_tables_and_plots(store, chromium, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "atomflow.cli.main", "report", str(store), "--html"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    page = Path(run.stdout.strip())
    assert page.is_file() and page.suffix == ".html"
    # self-contained: no file next to it is referenced
    assert 'src="lattice_vs_x.png"' not in page.read_text()

    profile = tmp_path / "profile"
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(dom.stdout)
    assert parsed.tables >= 4, dom.stdout[:2000]
    for header in ("x", "a (Å)", "Ea (eV)", "σ(300 K) (mS/cm)", "paper", "reproduced"):
        assert header in parsed.headers
    assert len(parsed.images) == 3
    assert all(src.startswith("data:image/png;base64,") for src in parsed.images)
    assert parsed.json_blocks == 1

    shot = tmp_path / "page.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 2000
    assert pixels[..., :3].std() > 0.05  # text, tables and plots, not a blank page


def test_html_embeds_the_json_report(store):
    from atomflow.studies.html_report import render_html

    html = render_html(store / "results" / "li2zrcl6_n")
    start = html.index('id="report-data">') + len('id="report-data">')
    data = json.loads(html[start : html.index("</script>", start)])
    assert [c["x"] for c in data["compositions"]] == [0.0, 0.15, 0.25]


def test_report_without_a_finished_study_is_a_clear_error(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "atomflow.cli.main", "report", str(tmp_path), "--html"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "no results" in run.stderr and "run the workflow" in run.stderr
