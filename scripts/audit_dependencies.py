"""Audit installed distributions for known vulnerabilities, with a reviewed allow-list.

Usage (`make audit-deps`):

    .venv/bin/python scripts/audit_dependencies.py \
        --allowlist security/audit-allowlist.yml \
        --snapshot security/advisories-snapshot.json

Everything installed in the interpreter that runs this script is audited
(`importlib.metadata`, the same set as `pip freeze`). Advisories come from the first
source that works, each probed first with a known-vulnerable release so that an empty
answer means "no advisory" and never "no service":

- ``osv``: the OSV API (api.osv.dev), the PyPA advisory database plus GitHub's;
- ``pypi``: PyPI's per-release JSON (``/pypi/<name>/<version>/json``, its
  ``vulnerabilities``: the PyPA database), what ``pip-audit -s pypi`` uses;
- ``snapshot``: a dated offline file (``--snapshot``), used only when neither service
  answers, always reported with its date and refused once older than
  ``--max-snapshot-age-days``. `--write-snapshot` saves one from a live source.

Each finding (package, version, id, aliases, fixed versions) fails the audit unless an
allow-list entry covers it: package, ids (any of the finding's id or aliases),
optionally the versions, a reason, the mitigation, who reviewed it, when, and an
expiry date. Expired entries cover nothing; entries matching nothing are reported as
stale. Exit status: 0 clean, 1 findings not allowed or an invalid allow-list, 2 the
audit could not run (no source, a stale snapshot).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ALLOWLIST = ROOT / "security" / "audit-allowlist.yml"
DEFAULT_SNAPSHOT = ROOT / "security" / "advisories-snapshot.json"
OSV_API = "https://api.osv.dev/v1"
PYPI_API = "https://pypi.org/pypi"
SNAPSHOT_FORMAT = "finassist-advisory-snapshot/1"
# A release with well-known advisories: a source that reports none for it is not
# serving advisory data (a mirror that strips it, a proxy answering 404).
CANARY = ("jinja2", "2.10")
# An allow-list entry is reviewed again at least once a year.
MAX_ENTRY_DAYS = 366
TIMEOUT_S = 10.0
WORKERS = 16

# (url, body or None for GET) -> (HTTP status, body); status 0: no answer at all.
Fetch = Callable[[str, bytes | None], tuple[int, bytes]]


class AuditUnavailable(RuntimeError):
    """No advisory source could be used: the audit did not run."""


@dataclass(frozen=True)
class Finding:
    """One advisory affecting one installed distribution."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    summary: str = ""

    @property
    def names(self) -> frozenset[str]:
        """The advisory's id and aliases, upper-cased."""
        return frozenset(n.upper() for n in (self.id, *self.aliases))


@dataclass(frozen=True)
class Entry:
    """One reviewed exception of the allow-list."""

    package: str
    ids: tuple[str, ...]
    reason: str
    mitigation: str
    reviewed_by: str
    reviewed_on: dt.date
    expires: dt.date
    versions: tuple[str, ...] = ()

    def covers(self, finding: Finding) -> bool:
        """Whether this entry names the finding (whatever its expiry)."""
        if self.package != finding.package:
            return False
        if self.versions and finding.version not in self.versions:
            return False
        return any(i.upper() in finding.names for i in self.ids)


@dataclass
class Report:
    """What the audit found and decided."""

    source: str
    source_note: str
    audited: dict[str, str]
    findings: list[Finding]
    allowed: list[tuple[Finding, Entry]] = field(default_factory=list)
    refused: list[tuple[Finding, str]] = field(default_factory=list)
    stale: list[tuple[Entry, str]] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)
    partial: bool = False

    @property
    def ok(self) -> bool:
        """No finding left without a valid allow-list entry."""
        return not self.refused


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """Every distribution of this interpreter: canonical name -> version."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[canonical(name)] = dist.version
    return dict(sorted(found.items()))


# ------------------------------------------------------------------ OSV matching


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_range(version: Version, events: Sequence[Mapping[str, str]]) -> bool:
    """OSV ECOSYSTEM range evaluation: the last event at or below the version wins."""

    def key(event: Mapping[str, str]) -> tuple[int, Version]:
        (kind, value), *_ = event.items()
        if kind == "introduced" and value == "0":
            return (0, Version("0"))
        parsed = _version(value)
        return (1, parsed) if parsed is not None else (2, Version("0"))

    affected = False
    for event in sorted(events, key=key):
        (kind, value), *_ = event.items()
        bound = Version("0") if value == "0" else _version(value)
        if bound is None:
            continue
        if kind == "introduced" and version >= bound:
            affected = True
        elif kind == "fixed" and version >= bound:
            affected = False
        elif kind == "last_affected" and version > bound:
            affected = False
        elif kind == "limit" and version >= bound:
            affected = False
    return affected


def osv_fixed_versions(record: Mapping[str, Any], package: str) -> tuple[str, ...]:
    """The ``fixed`` events of a record's ranges for one package."""
    fixed = []
    for affected in record.get("affected", []):
        if canonical(affected.get("package", {}).get("name", "")) != package:
            continue
        for rng in affected.get("ranges", []):
            fixed += [e["fixed"] for e in rng.get("events", []) if "fixed" in e]
    return tuple(dict.fromkeys(fixed))


def osv_affects(record: Mapping[str, Any], package: str, version: str) -> bool:
    """Whether an OSV record affects `package` at `version` (PyPI ecosystem)."""
    if record.get("withdrawn"):
        return False
    parsed = _version(version)
    for affected in record.get("affected", []):
        pkg = affected.get("package", {})
        if pkg.get("ecosystem") != "PyPI" or canonical(pkg.get("name", "")) != package:
            continue
        if version in affected.get("versions", []):
            return True
        if parsed is None:
            continue
        for rng in affected.get("ranges", []):
            if rng.get("type") in ("ECOSYSTEM", "SEMVER") and _in_range(
                parsed, rng.get("events", [])
            ):
                return True
    return False


def finding_from_osv(record: Mapping[str, Any], package: str, version: str) -> Finding:
    """A finding from an OSV record."""
    return Finding(
        package=package,
        version=version,
        id=record["id"],
        aliases=tuple(record.get("aliases", [])),
        fixed=osv_fixed_versions(record, package),
        summary=(record.get("summary") or record.get("details") or "")[:200],
    )


# ------------------------------------------------------------------ sources


def http_fetch(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    """GET (or POST a JSON body); status 0 when nothing answered."""
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "finassist-audit"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        return 0, str(exc).encode()


def _json(status: int, body: bytes, what: str) -> Any:
    if status != 200:
        detail = body.decode(errors="replace")[:120] if status == 0 else ""
        raise AuditUnavailable(f"{what}: HTTP {status or 'no answer'} {detail}".strip())
    try:
        return json.loads(body)
    except ValueError as exc:
        raise AuditUnavailable(f"{what}: not JSON") from exc


class OsvSource:
    """The OSV API: one batch query, then each advisory once (cached per run)."""

    name = "osv"

    def __init__(self, fetch: Fetch | None = None, api: str = OSV_API) -> None:
        self.fetch, self.api = fetch or (lambda url, body: http_fetch(url, body)), api
        self._records: dict[str, dict[str, Any]] = {}

    def probe(self) -> str:
        name, version = CANARY
        ids = self._query([(name, version)])[0]
        if not ids:
            raise AuditUnavailable(f"osv: no advisory for {name} {version}")
        return f"{self.api} (answered for {name} {version})"

    def _query(self, packages: Sequence[tuple[str, str]]) -> list[list[str]]:
        queries = [
            {"package": {"name": n, "ecosystem": "PyPI"}, "version": v}
            for n, v in packages
        ]
        results: list[list[str]] = []
        for start in range(0, len(queries), 500):
            chunk = queries[start : start + 500]
            body = json.dumps({"queries": chunk}).encode()
            data = _json(*self.fetch(f"{self.api}/querybatch", body), "osv querybatch")
            for result in data.get("results", []):
                results.append([v["id"] for v in result.get("vulns", [])])
        if len(results) != len(packages):
            raise AuditUnavailable("osv querybatch: answers do not match the queries")
        return results

    def record(self, vuln_id: str) -> dict[str, Any]:
        if vuln_id not in self._records:
            status, body = self.fetch(f"{self.api}/vulns/{vuln_id}", None)
            self._records[vuln_id] = _json(status, body, f"osv vulns/{vuln_id}")
        return self._records[vuln_id]

    def findings(self, packages: Mapping[str, str]) -> list[Finding]:
        pairs = list(packages.items())
        ids = self._query(pairs)
        wanted = sorted({i for found in ids for i in found})
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(self.record, wanted))
        found = []
        for (name, version), vuln_ids in zip(pairs, ids, strict=True):
            for vuln_id in vuln_ids:
                found.append(finding_from_osv(self.record(vuln_id), name, version))
        return found

    def records(self) -> list[dict[str, Any]]:
        return list(self._records.values())


class PypiSource:
    """PyPI's per-release JSON API: one request per installed distribution."""

    name = "pypi"

    def __init__(self, fetch: Fetch | None = None, api: str = PYPI_API) -> None:
        self.fetch, self.api = fetch or (lambda url, body: http_fetch(url, body)), api
        self._records: dict[str, dict[str, Any]] = {}

    def _release(self, name: str, version: str) -> dict[str, Any]:
        return _json(
            *self.fetch(f"{self.api}/{name}/{version}/json", None),
            f"pypi {name} {version}",
        )

    def probe(self) -> str:
        name, version = CANARY
        try:
            data = self._release(name, version)
        except AuditUnavailable as exc:
            raise AuditUnavailable(
                f"{exc} (a release that exists: this index does not serve "
                "per-release JSON, so every package would pass unaudited)"
            ) from exc
        if not data.get("vulnerabilities"):
            raise AuditUnavailable(
                f"pypi: no vulnerabilities listed for {name} {version}: this index "
                "serves no advisory data"
            )
        return f"{self.api} (answered for {name} {version})"

    def _one(self, item: tuple[str, str]) -> list[Finding]:
        name, version = item
        status, body = self.fetch(f"{self.api}/{name}/{version}/json", None)
        if status == 404:  # not published on PyPI (a local build): said so below
            return [Finding(name, version, "NOT-ON-PYPI")]
        data = _json(status, body, f"pypi {name} {version}")
        found = []
        for vuln in data.get("vulnerabilities") or []:
            if vuln.get("withdrawn"):
                continue
            record = {
                "id": vuln["id"],
                "aliases": vuln.get("aliases") or [],
                "summary": vuln.get("summary") or vuln.get("details") or "",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": name},
                        "versions": [version],
                        "ranges": [
                            {
                                "type": "ECOSYSTEM",
                                "events": [{"introduced": "0"}]
                                + [{"fixed": f} for f in vuln.get("fixed_in") or []],
                            }
                        ],
                    }
                ],
            }
            self._records[f"{name}:{vuln['id']}"] = record
            found.append(finding_from_osv(record, name, version))
        return found

    def findings(self, packages: Mapping[str, str]) -> list[Finding]:
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(self._one, packages.items()))
        return [f for found in results for f in found]

    def records(self) -> list[dict[str, Any]]:
        return list(self._records.values())


class SnapshotSource:
    """A dated offline file of OSV records (`--snapshot`), for machines offline."""

    name = "snapshot"

    def __init__(self, path: Path, today: dt.date, max_age_days: int) -> None:
        self.path, self.today, self.max_age_days = path, today, max_age_days
        self.data: dict[str, Any] = {}

    def probe(self) -> str:
        if not self.path.exists():
            raise AuditUnavailable(f"snapshot {self.path} does not exist")
        try:
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise AuditUnavailable(f"snapshot {self.path} is not JSON") from exc
        if self.data.get("format") != SNAPSHOT_FORMAT:
            raise AuditUnavailable(f"snapshot {self.path} is not {SNAPSHOT_FORMAT}")
        generated = dt.date.fromisoformat(self.data["generated"])
        age = (self.today - generated).days
        if age > self.max_age_days:
            raise AuditUnavailable(
                f"snapshot: {self.path} is from {generated} ({age} days old, more "
                f"than {self.max_age_days}): refresh it with --write-snapshot where "
                "a live source answers"
            )
        kind = "COMPLETE" if self.data.get("complete") else "PARTIAL"
        return (
            f"OFFLINE SNAPSHOT {self.path.name}, generated {generated} "
            f"({age} days old), {kind}: {self.data.get('source', 'unknown source')}"
        )

    @property
    def partial(self) -> bool:
        return not self.data.get("complete")

    def covered(self) -> set[str]:
        """The packages the snapshot holds every advisory of (as of its date)."""
        return {canonical(n) for n in self.data.get("packages", [])}

    def findings(self, packages: Mapping[str, str]) -> list[Finding]:
        found = []
        for record in self.data.get("advisories", []):
            for affected in record.get("affected", []):
                name = canonical(affected.get("package", {}).get("name", ""))
                version = packages.get(name)
                if version and osv_affects(record, name, version):
                    found.append(finding_from_osv(record, name, version))
                    break
        return found

    def records(self) -> list[dict[str, Any]]:
        return list(self.data.get("advisories", []))


# ------------------------------------------------------------------ allow-list


def _date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{what}: {value!r} is not a YYYY-MM-DD date") from exc


def parse_allowlist(raw: Any) -> list[Entry]:
    """The allow-list's entries, each validated.

    Raises:
        ValueError: an entry lacks a field, has a bad date, or is valid for more
            than a year after its review.
    """
    if raw is None:
        return []
    if not isinstance(raw, dict) or not isinstance(raw.get("entries", []), list):
        raise ValueError("the allow-list is a mapping with a list `entries`")
    entries = []
    for number, item in enumerate(raw.get("entries") or [], start=1):
        where = f"allow-list entry {number}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: not a mapping")
        missing = [
            key
            for key in (
                "package",
                "ids",
                "reason",
                "mitigation",
                "reviewed_by",
                "reviewed_on",
                "expires",
            )
            if not item.get(key)
        ]
        if missing:
            raise ValueError(f"{where} ({item.get('package')}): missing {missing}")
        ids = item["ids"]
        if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
            raise ValueError(f"{where}: ids is a list of advisory ids")
        reviewed = _date(item["reviewed_on"], f"{where} reviewed_on")
        expires = _date(item["expires"], f"{where} expires")
        if expires < reviewed:
            raise ValueError(f"{where}: expires before it was reviewed")
        if (expires - reviewed).days > MAX_ENTRY_DAYS:
            raise ValueError(f"{where}: review it again within a year, not later")
        entries.append(
            Entry(
                package=canonical(item["package"]),
                ids=tuple(ids),
                reason=str(item["reason"]).strip(),
                mitigation=str(item["mitigation"]).strip(),
                reviewed_by=str(item["reviewed_by"]).strip(),
                reviewed_on=reviewed,
                expires=expires,
                versions=tuple(str(v) for v in item.get("versions") or ()),
            )
        )
    return entries


def load_allowlist(path: Path) -> list[Entry]:
    """The allow-list file (a missing file allows nothing)."""
    if not path.exists():
        return []
    return parse_allowlist(yaml.safe_load(path.read_text(encoding="utf-8")))


def decide(
    findings: Iterable[Finding], entries: Sequence[Entry], today: dt.date
) -> tuple[
    list[tuple[Finding, Entry]], list[tuple[Finding, str]], list[tuple[Entry, str]]
]:
    """Which findings the allow-list covers, which it does not, which ids are stale.

    Returns:
        (allowed, refused with the reason, stale entry ids).
    """
    allowed, refused = [], []
    used: set[tuple[int, str]] = set()
    for finding in findings:
        covering = [e for e in entries if e.covers(finding)]
        for entry in covering:
            for i in entry.ids:
                if i.upper() in finding.names:
                    used.add((id(entry), i))
        valid = [e for e in covering if e.expires >= today]
        if valid:
            allowed.append((finding, valid[0]))
        elif covering:
            refused.append(
                (finding, f"allow-list entry expired on {covering[0].expires}")
            )
        else:
            refused.append((finding, "not in the allow-list"))
    stale = [
        (entry, i) for entry in entries for i in entry.ids if (id(entry), i) not in used
    ]
    return allowed, refused, stale


# ------------------------------------------------------------------ running


def choose_source(sources: Sequence[Any]) -> tuple[Any, str, list[str]]:
    """The first source whose probe passes, its note, and why the others failed.

    Raises:
        AuditUnavailable: none of them can be used.
    """
    failures = []
    for source in sources:
        try:
            return source, source.probe(), failures
        except AuditUnavailable as exc:
            failures.append(str(exc))
    raise AuditUnavailable(
        "no advisory source could be used, the dependencies were NOT audited:\n  "
        + "\n  ".join(failures)
    )


def merge_aliases(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per vulnerability: records that alias each other are merged.

    OSV answers with both the PyPA record (PYSEC-...) and GitHub's (GHSA-...) of one
    vulnerability; they name each other (and the CVE) as aliases.
    """
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.package, f.id)):
        for i, known in enumerate(merged):
            if known.package == finding.package and known.names & finding.names:
                names = (known.id, *known.aliases, finding.id, *finding.aliases)
                merged[i] = Finding(
                    known.package,
                    known.version,
                    known.id,
                    tuple(dict.fromkeys(n for n in names if n != known.id)),
                    tuple(dict.fromkeys((*known.fixed, *finding.fixed))),
                    known.summary or finding.summary,
                )
                break
        else:
            merged.append(finding)
    return merged


def audit(
    packages: Mapping[str, str],
    source: Any,
    note: str,
    entries: Sequence[Entry],
    today: dt.date,
) -> Report:
    """Audit `packages` with a source whose probe passed and judge the findings."""
    raw = source.findings(packages)
    unknown = sorted({f.package for f in raw if f.id == "NOT-ON-PYPI"})
    findings = merge_aliases(f for f in raw if f.id != "NOT-ON-PYPI")
    report = Report(source.name, note, dict(packages), findings)
    report.allowed, report.refused, report.stale = decide(findings, entries, today)
    report.not_covered = unknown
    if isinstance(source, SnapshotSource):
        report.partial = source.partial
        covered = source.covered()
        report.not_covered += sorted(p for p in packages if p not in covered)
    return report


def render(report: Report, failures: Sequence[str] = ()) -> str:
    """The report as text for the terminal and CI logs."""
    lines = [f"advisory source: {report.source_note}"]
    lines += [f"  (not used: {f})" for f in failures]
    lines.append(f"audited {len(report.audited)} installed distributions")
    if report.partial:
        lines.append(
            "WARNING: the snapshot is PARTIAL: only its listed packages were checked, "
            "and only against the advisories it holds; this is not a full audit"
        )
    if report.not_covered:
        lines.append(
            f"NOT AUDITED ({len(report.not_covered)}): " + ", ".join(report.not_covered)
        )
    for finding, entry in report.allowed:
        lines.append(
            f"ALLOWED  {_describe(finding)}\n"
            f"         until {entry.expires}, reviewed {entry.reviewed_on} by "
            f"{entry.reviewed_by}: {entry.mitigation[:160]}"
        )
    for finding, why in report.refused:
        lines.append(f"FAIL     {_describe(finding)}\n         {why}")
    for entry, vuln_id in report.stale:
        lines.append(
            f"STALE    allow-list entry {entry.package} {vuln_id} matches no "
            "finding: remove it"
        )
    lines.append(
        f"{len(report.findings)} known vulnerabilities: {len(report.allowed)} "
        f"allowed, {len(report.refused)} not allowed, {len(report.stale)} stale "
        "allow-list ids"
    )
    return "\n".join(lines)


def _describe(finding: Finding) -> str:
    aliases = f" ({', '.join(finding.aliases)})" if finding.aliases else ""
    fixed = ", ".join(finding.fixed) or "none"
    return (
        f"{finding.package} {finding.version} {finding.id}{aliases} fixed in: {fixed}"
    )


def write_snapshot(
    path: Path, source: Any, packages: Mapping[str, str], today: dt.date
) -> None:
    """Save what a live source returned as a complete snapshot for offline runs."""
    data = {
        "format": SNAPSHOT_FORMAT,
        "generated": today.isoformat(),
        "source": f"{source.name} live query",
        "complete": True,
        "packages": sorted(packages),
        "advisories": source.records(),
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allowlist", type=Path, default=DEFAULT_ALLOWLIST)
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument(
        "--source", choices=("auto", "osv", "pypi", "snapshot"), default="auto"
    )
    parser.add_argument("--max-snapshot-age-days", type=int, default=30)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--json", type=Path, help="also write the report as JSON")
    parser.add_argument("--write-snapshot", type=Path, help="save a live answer")
    parser.add_argument(
        "--fail-on-stale", action="store_true", help="stale entries fail the audit"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        entries = load_allowlist(args.allowlist)
    except ValueError as exc:
        print(f"audit: invalid allow-list {args.allowlist}: {exc}", file=sys.stderr)
        return 1
    live = [OsvSource(), PypiSource()]
    snapshot = SnapshotSource(args.snapshot, args.today, args.max_snapshot_age_days)
    chosen = {
        "auto": [*live, snapshot],
        "osv": live[:1],
        "pypi": live[1:],
        "snapshot": [snapshot],
    }[args.source]
    if args.write_snapshot:
        chosen = [s for s in chosen if s is not snapshot]
    packages = installed()
    try:
        source, note, failures = choose_source(chosen)
        report = audit(packages, source, note, entries, args.today)
    except AuditUnavailable as exc:
        print(f"audit: FAILED, {exc}", file=sys.stderr)
        return 2
    print(render(report, failures))
    if args.write_snapshot:
        write_snapshot(args.write_snapshot, source, packages, args.today)
        print(f"snapshot written to {args.write_snapshot}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "source": report.source_note,
                    "partial": report.partial,
                    "not_audited": report.not_covered,
                    "allowed": [asdict(f) for f, _ in report.allowed],
                    "refused": [{**asdict(f), "why": w} for f, w in report.refused],
                    "stale": [{"package": e.package, "id": i} for e, i in report.stale],
                },
                indent=1,
            )
        )
    print(f"audit took {time.monotonic() - started:.1f} s")
    if not report.ok or (args.fail_on_stale and report.stale):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
