"""`scripts/report.py`: a seeded run writes the whole self-contained page and a headline."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from scripts import report

HEADLINE = re.compile(
    r"^conversations=(\d+) containment=(0\.\d{3}|1\.000) resolution=(0\.\d{3}) "
    r"handoff_rate=(0\.\d{3}) avg_turns=(\d+\.\d{2}) latency_p50_ms=(\d+) "
    r"latency_p95_ms=(\d+) satisfaction=(\d\.\d{2}) ratings=(\d+) risk_alerts=(\d+)$"
)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert report.main(argv) == 0
    return capsys.readouterr().out.strip().splitlines()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """One seeded run for the module (simulating and charting take a few seconds)."""
    base = tmp_path_factory.mktemp("report")
    out = base / "out" / "report.html"
    buffer = io.StringIO()  # capsys is function-scoped
    with contextlib.redirect_stdout(buffer):
        code = report.main(
            ["--seed-demo", "200", "--demo-dir", str(base / "demo"), "--out", str(out)]
        )
    assert code == 0
    return out, buffer.getvalue().strip().splitlines()


def test_seeded_run_prints_the_headline_last(seeded: tuple[Path, list[str]]) -> None:
    out, lines = seeded
    match = HEADLINE.match(lines[-1])
    assert match, lines[-1]
    conversations, containment, resolution, handoff = match.groups()[:4]
    assert conversations == "200"
    assert float(containment) + float(handoff) == pytest.approx(1.0, abs=0.0011)
    assert 0 < float(resolution) <= float(containment)
    assert int(match.group(10)) > 0  # risk alerts were simulated
    assert any(line.startswith("demo data (throwaway): ") for line in lines)
    assert f"report: {out}" in lines
    ab_lines = [line for line in lines if line.startswith("A/B ")]
    assert [line.split(":")[0] for line in ab_lines] == [
        "A/B reply_tone",
        "A/B offer_human",
    ]


def test_seeded_page_has_every_section_and_inline_charts(
    seeded: tuple[Path, list[str]],
) -> None:
    out, _ = seeded
    page = out.read_text(encoding="utf-8")
    for key, zh, en in report.SECTIONS:
        assert f'<section id="{key}"><h2>{zh} {en}</h2>' in page
    charts = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    for alt in (
        "final outcomes",
        "handoff reasons",
        "turns per conversation",
        "latency histogram",
        "rating distribution",
        "risk alerts",
        "automation per intent",
        "experiment reply_tone",
        "experiment offer_human",
    ):
        assert alt in charts
    # Self-contained: no script, no stylesheet or image fetched from anywhere.
    assert "<script" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    # Both experiments' tests are shown; no conversation id leaks into the page.
    assert page.count("z = ") >= 4 and page.count("t = ") >= 2
    assert "demo-" not in page.replace("demo-profile", "")


def test_seeded_demo_is_deterministic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        run(
            [
                "--seed-demo",
                "40",
                "--demo-dir",
                str(tmp_path / f"demo{i}"),
                "--out",
                str(tmp_path / f"r{i}.html"),
            ],
            capsys,
        )
        for i in (1, 2)
    ]
    assert lines[0][-1] == lines[1][-1]
    assert [x for x in lines[0] if x.startswith("A/B")] == [
        x for x in lines[1] if x.startswith("A/B")
    ]


def test_demo_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "demo-profile.db").write_text("keep me")
    with pytest.raises(FileExistsError):
        report.main(["--seed-demo", "5", "--demo-dir", str(tmp_path)])
    assert (tmp_path / "demo-profile.db").read_text() == "keep me"


def test_empty_databases_give_a_page_without_data(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    lines = run(
        [
            "--database-url",
            db_url,
            "--tracker-url",
            f"sqlite:///{tmp_path / 'empty-trackers.db'}",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert lines[-1] == (
        "conversations=0 containment=na resolution=na handoff_rate=na avg_turns=na "
        "latency_p50_ms=na latency_p95_ms=na satisfaction=na ratings=0 risk_alerts=0"
    )
    page = out.read_text(encoding="utf-8")
    assert "No data. 暂无数据。" in page
    assert "Not enough data to test. 数据不足。" in page


def test_since_filters_old_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = run(
        [
            "--seed-demo",
            "30",
            "--demo-dir",
            str(tmp_path / "demo"),
            "--since",
            "2999-01-01",
            "--out",
            str(tmp_path / "r.html"),
        ],
        capsys,
    )
    assert lines[-1].startswith("conversations=0 ")
