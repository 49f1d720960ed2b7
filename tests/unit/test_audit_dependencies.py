"""The dependency audit (scripts/audit_dependencies.py), without the network."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import audit_dependencies as audit_mod
from scripts.audit_dependencies import (
    AuditUnavailable,
    Entry,
    Finding,
    OsvSource,
    PypiSource,
    SnapshotSource,
    audit,
    choose_source,
    decide,
    merge_aliases,
    osv_affects,
    parse_allowlist,
)

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 7)


def record(pkg: str = "demo", events: list | None = None, **extra: Any) -> dict:
    return {
        "id": extra.pop("id", "GHSA-aaaa-bbbb-cccc"),
        "aliases": extra.pop("aliases", ["CVE-2026-0001"]),
        "affected": [
            {
                "package": {"ecosystem": extra.pop("ecosystem", "PyPI"), "name": pkg},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": events or [{"introduced": "0"}, {"fixed": "2.0"}],
                    }
                ],
                "versions": extra.pop("versions", []),
            }
        ],
        **extra,
    }


# ------------------------------------------------------------------ OSV ranges


@pytest.mark.parametrize(
    ("events", "version", "affected"),
    [
        ([{"introduced": "0"}, {"fixed": "2.0"}], "1.9.9", True),
        ([{"introduced": "0"}, {"fixed": "2.0"}], "2.0", False),
        ([{"introduced": "1.5"}, {"fixed": "2.0"}], "1.4", False),
        ([{"introduced": "1.5"}, {"fixed": "2.0"}], "1.5", True),
        ([{"introduced": "0"}, {"last_affected": "1.8"}], "1.8", True),
        ([{"introduced": "0"}, {"last_affected": "1.8"}], "1.8.1", False),
        # two affected windows, the 1.x line patched in 1.4.2
        (
            [
                {"introduced": "0"},
                {"fixed": "1.4.2"},
                {"introduced": "2.0"},
                {"fixed": "2.3"},
            ],
            "1.9",
            False,
        ),
        (
            [
                {"introduced": "0"},
                {"fixed": "1.4.2"},
                {"introduced": "2.0"},
                {"fixed": "2.3"},
            ],
            "2.1",
            True,
        ),
        ([{"introduced": "0"}], "99.0", True),  # no fix yet
        ([{"introduced": "0"}, {"fixed": "5.14.0"}], "5.8.0", True),
        (
            [{"introduced": "0"}, {"fixed": "1.10.13"}],
            "1.10.9",
            True,
        ),  # not "1.10.9" > "1.10.13"
    ],
)
def test_osv_ranges(events: list, version: str, affected: bool) -> None:
    assert osv_affects(record(events=events), "demo", version) is affected


def test_osv_explicit_versions_other_packages_and_withdrawn() -> None:
    listed = record(events=[{"introduced": "9.0"}], versions=["1.0"])
    assert osv_affects(listed, "demo", "1.0")
    assert not osv_affects(record(), "other", "1.0")
    assert not osv_affects(record(ecosystem="npm"), "demo", "1.0")
    assert not osv_affects(record(withdrawn="2026-01-01T00:00:00Z"), "demo", "1.0")
    assert osv_affects(record(pkg="Demo_Pkg"), "demo-pkg", "1.0")


def test_aliases_of_one_vulnerability_are_merged() -> None:
    pysec = Finding("demo", "1.0", "PYSEC-2026-1", ("CVE-2026-0001",), ("2.0",))
    ghsa = Finding("demo", "1.0", "GHSA-aaaa", ("CVE-2026-0001", "PYSEC-2026-1"))
    other = Finding("demo", "1.0", "GHSA-zzzz", ("CVE-2026-0002",))
    merged = merge_aliases([pysec, ghsa, other])
    assert [m.id for m in merged] == ["GHSA-aaaa", "GHSA-zzzz"]
    assert merged[0].names == {"GHSA-AAAA", "CVE-2026-0001", "PYSEC-2026-1"}


# ------------------------------------------------------------------ allow-list


def entry_dict(**overrides: Any) -> dict[str, Any]:
    base = {
        "package": "demo",
        "ids": ["CVE-2026-0001"],
        "reason": "pinned by Rasa",
        "mitigation": "not reachable",
        "reviewed_by": "reviewer",
        "reviewed_on": "2026-12-01",
        "expires": "2027-03-01",
    }
    base.update(overrides)
    return base


def entries(*items: dict[str, Any]) -> list[Entry]:
    return parse_allowlist({"entries": list(items)})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reason": ""}, "missing"),
        ({"mitigation": None}, "missing"),
        ({"reviewed_by": ""}, "missing"),
        ({"expires": "soon"}, "not a YYYY-MM-DD"),
        ({"expires": "2026-11-01"}, "expires before"),
        ({"expires": "2028-01-01"}, "within a year"),
        ({"ids": "CVE-2026-0001"}, "list of advisory ids"),
    ],
)
def test_invalid_entries_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        entries(entry_dict(**overrides))


def finding(**overrides: Any) -> Finding:
    values = {
        "package": "demo",
        "version": "1.0",
        "id": "GHSA-aaaa-bbbb-cccc",
        "aliases": ("CVE-2026-0001",),
    }
    values.update(overrides)
    return Finding(**values)


def test_entry_matches_by_id_or_alias_package_and_version() -> None:
    by_alias = entries(entry_dict())
    allowed, refused, stale = decide([finding()], by_alias, TODAY)
    assert [f.id for f, _ in allowed] == ["GHSA-aaaa-bbbb-cccc"] and not refused
    assert not stale
    by_id = entries(entry_dict(ids=["ghsa-aaaa-bbbb-cccc"]))  # case does not matter
    assert decide([finding()], by_id, TODAY)[0]
    other_package = entries(entry_dict(package="Other"))
    assert decide([finding()], other_package, TODAY)[1][0][1] == "not in the allow-list"
    pinned = entries(entry_dict(versions=["0.9"]))
    assert not decide([finding()], pinned, TODAY)[0]  # reviewed for another version
    assert decide([finding(version="0.9")], pinned, TODAY)[0]


def test_expired_entry_covers_nothing() -> None:
    expired = entries(entry_dict(reviewed_on="2026-01-01", expires="2026-12-06"))
    allowed, refused, stale = decide([finding()], expired, TODAY)
    assert not allowed
    assert refused == [(finding(), "allow-list entry expired on 2026-12-06")]
    assert not stale  # it still names the finding: renew it, do not delete it
    still_valid = entries(entry_dict(expires=TODAY.isoformat()))
    assert decide([finding()], still_valid, TODAY)[0]


def test_stale_ids_are_reported() -> None:
    listed = entries(
        entry_dict(ids=["CVE-2026-0001", "CVE-2020-9999"]),
        entry_dict(package="gone", ids=["CVE-2021-1"]),
    )
    _allowed, _refused, stale = decide([finding()], listed, TODAY)
    assert [(e.package, i) for e, i in stale] == [
        ("demo", "CVE-2020-9999"),
        ("gone", "CVE-2021-1"),
    ]


def test_the_committed_allowlist_is_valid() -> None:
    path = ROOT / "security" / "audit-allowlist.yml"
    listed = parse_allowlist(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert listed
    assert all(len(e.mitigation) > 40 and len(e.reason) > 20 for e in listed)
    names = {(e.package, i) for e in listed for i in e.ids}
    assert ("python-socketio", "CVE-2025-61765") in names
    assert not any(e.package == "pip" for e in listed)  # upgraded, not allowed


# ------------------------------------------------------------------ sources


class FakeHttp:
    def __init__(self, answers: dict[str, tuple[int, Any]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, url: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.calls.append(url)
        for prefix, (status, payload) in self.answers.items():
            if url.startswith(prefix):
                data = payload(body) if callable(payload) else payload
                return status, json.dumps(data).encode() if data is not None else b""
        return 0, b"connection refused"


def test_unreachable_sources_fail_loudly() -> None:
    offline = FakeHttp({})
    with pytest.raises(AuditUnavailable) as failed:
        choose_source(
            [OsvSource(offline, "https://osv"), PypiSource(offline, "https://p")]
        )
    assert "NOT audited" in str(failed.value)
    assert "osv querybatch" in str(failed.value) and "pypi jinja2" in str(failed.value)


def test_pypi_index_without_per_release_json_is_not_a_pass() -> None:
    """A 404 for a release that exists (this machine's index) must not mean "clean"."""
    index = FakeHttp({"https://p/": (404, None)})
    with pytest.raises(AuditUnavailable, match="does not serve per-release JSON"):
        PypiSource(index, "https://p").probe()
    stripped = FakeHttp({"https://p/": (200, {"info": {}, "vulnerabilities": []})})
    with pytest.raises(AuditUnavailable, match="serves no advisory data"):
        PypiSource(stripped, "https://p").probe()


def test_pypi_source_reports_each_release() -> None:
    vuln = {
        "id": "PYSEC-2026-1",
        "aliases": ["CVE-2026-0001"],
        "fixed_in": ["2.0"],
        "summary": "bad",
        "withdrawn": None,
    }
    http = FakeHttp(
        {
            "https://p/jinja2/2.10/": (200, {"vulnerabilities": [vuln]}),
            "https://p/demo/1.0/": (200, {"vulnerabilities": [vuln]}),
            "https://p/clean/3.0/": (200, {"vulnerabilities": []}),
            "https://p/local/0.1/": (404, None),
        }
    )
    source = PypiSource(http, "https://p")
    source.probe()
    report = audit(
        {"demo": "1.0", "clean": "3.0", "local": "0.1"}, source, "pypi", [], TODAY
    )
    assert [(f.package, f.id, f.fixed) for f in report.findings] == [
        ("demo", "PYSEC-2026-1", ("2.0",))
    ]
    assert report.not_covered == ["local"]  # not on PyPI: said, not hidden
    assert not report.ok


def test_osv_source_batches_and_fetches_each_advisory_once() -> None:
    def batch(body: bytes) -> dict:
        queries = json.loads(body)["queries"]
        return {
            "results": [
                {"vulns": [{"id": "GHSA-aaaa-bbbb-cccc"}]}
                if q["package"]["name"] in ("demo", "jinja2", "twin")
                else {}
                for q in queries
            ]
        }

    advisory = record()
    advisory["affected"].append(
        {"package": {"ecosystem": "PyPI", "name": "twin"}, "versions": ["1.0"]}
    )
    http = FakeHttp(
        {
            "https://osv/querybatch": (200, batch),
            "https://osv/vulns/": (200, advisory),
        }
    )
    source = OsvSource(http, "https://osv")
    source.probe()
    report = audit(
        {"demo": "1.0", "twin": "1.0", "clean": "1.0"},
        source,
        "osv",
        entries(entry_dict(), entry_dict(package="twin")),
        TODAY,
    )
    assert [f.package for f in report.findings] == ["demo", "twin"]
    assert report.ok and len(report.allowed) == 2
    assert sum("/vulns/" in c for c in http.calls) == 1  # cached per run


def write_snapshot(tmp_path: Path, generated: str, complete: bool = False) -> Path:
    path = tmp_path / "snap.json"
    path.write_text(
        json.dumps(
            {
                "format": "finassist-advisory-snapshot/1",
                "generated": generated,
                "complete": complete,
                "source": "test",
                "packages": ["demo"],
                "advisories": [record()],
            }
        )
    )
    return path


def test_snapshot_is_dated_reported_and_refused_when_old(tmp_path: Path) -> None:
    fresh = SnapshotSource(write_snapshot(tmp_path, "2026-12-01"), TODAY, 30)
    note = fresh.probe()
    assert "OFFLINE SNAPSHOT" in note and "2026-12-01" in note and "PARTIAL" in note
    report = audit({"demo": "1.0", "other": "2.0"}, fresh, note, [], TODAY)
    assert report.partial and report.not_covered == ["other"]
    assert [f.id for f in report.findings] == ["GHSA-aaaa-bbbb-cccc"]
    old = SnapshotSource(write_snapshot(tmp_path, "2026-10-01"), TODAY, 30)
    with pytest.raises(AuditUnavailable, match="67 days old"):
        old.probe()
    with pytest.raises(AuditUnavailable, match="does not exist"):
        SnapshotSource(tmp_path / "missing.json", TODAY, 30).probe()


def test_main_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_mod, "installed", lambda: {"demo": "1.0"})
    monkeypatch.setattr(audit_mod, "http_fetch", FakeHttp({}))
    snapshot = write_snapshot(tmp_path, "2026-12-01")
    allow = tmp_path / "allow.yml"
    common = [
        "--source",
        "snapshot",
        "--snapshot",
        str(snapshot),
        "--today",
        "2026-12-07",
    ]
    allow.write_text(yaml.safe_dump({"entries": []}))
    assert audit_mod.main([*common, "--allowlist", str(allow)]) == 1
    allow.write_text(yaml.safe_dump({"entries": [entry_dict()]}))
    out = tmp_path / "report.json"
    assert audit_mod.main([*common, "--allowlist", str(allow), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["allowed"][0]["package"] == "demo"
    allow.write_text(yaml.safe_dump({"entries": [entry_dict(reason="")]}))
    assert audit_mod.main([*common, "--allowlist", str(allow)]) == 1
    # auto: both services down -> the snapshot, said so; no snapshot -> exit 2
    auto = ["--snapshot", str(snapshot), "--today", "2026-12-07"]
    allow.write_text(yaml.safe_dump({"entries": []}))
    assert audit_mod.main([*auto, "--allowlist", str(allow)]) == 1
    allow.write_text(yaml.safe_dump({"entries": [entry_dict()]}))
    assert audit_mod.main([*auto, "--allowlist", str(allow)]) == 0
    missing = ["--snapshot", str(tmp_path / "none.json"), "--allowlist", str(allow)]
    assert audit_mod.main(missing) == 2
    stale = tmp_path / "old.json"
    stale.write_text(write_snapshot(tmp_path, "2026-01-01").read_text())
    assert (
        audit_mod.main(
            ["--source", "snapshot", "--snapshot", str(stale), "--today", "2026-12-07"]
        )
        == 2
    )
