"""The customer web chat page (webchat/static/), checked without a browser."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEBCHAT = ROOT / "webchat"
STATIC = WEBCHAT / "static"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}

# What the Playwright test and the README rely on.
TEST_IDS = [
    "lang-switch",
    "logout",
    "customer-name",
    "message-input",
    "send",
    "messages",
    "msg-user",
    "msg-bot",
    "msg-agent",
    "typing",
    "delivery",
    "quick-reply",
    "agent-banner",
    "connection",
    "end-chat",
    "rating",
    *(f"rating-{n}" for n in range(1, 6)),
    "rating-comment",
    "rating-submit",
    "rating-thanks",
]


class Page(HTMLParser):
    """Ids, data-testids, labels and resource URLs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, tuple[str, dict[str, str | None]]] = {}
        self.test_ids: set[str] = set()
        self.label_for: set[str] = set()
        self.i18n_keys: set[str] = set()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self.html_lang: str | None = None
        self.csp: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.by_id[str(found["id"])] = (tag, found)
        if found.get("data-testid"):
            self.test_ids.add(str(found["data-testid"]))
        if tag == "label" and found.get("for"):
            self.label_for.add(str(found["for"]))
        for attr in ("data-i18n", "data-i18n-placeholder", "data-i18n-aria-label"):
            if found.get(attr):
                self.i18n_keys.add(str(found[attr]))
        for attr in ("src", "href", "action", "formaction", "poster"):
            if found.get(attr):
                self.urls.append(str(found[attr]))
        if tag == "script":
            self.scripts.append(str(found.get("src")))
        if tag == "html":
            self.html_lang = found.get("lang")
        if tag == "meta" and found.get("http-equiv") == "Content-Security-Policy":
            self.csp = found.get("content")


@pytest.fixture(scope="module")
def page() -> Page:
    parser = Page()
    parser.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def script() -> str:
    return (STATIC / "webchat.js").read_text(encoding="utf-8")


def code_of(script: str) -> str:
    """The script without comments (the header comment names the forbidden sinks)."""
    script = re.sub(r"/\*.*?\*/", "", script, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$", "", script)


def strings_block(script: str, lang: str) -> set[str]:
    block = re.search(rf"\n    {lang}: \{{\n(.*?)\n    \}},", script, re.S)
    assert block is not None, f"no {lang} block in STRINGS"
    return set(re.findall(r'(?m)^      "?([\w.]+)"?:', block.group(1)))


def test_every_id_the_script_looks_up_is_on_the_page(page: Page, script: str) -> None:
    looked_up = set(
        re.findall(r"""(?:byId|getElementById)\(\s*["']([\w-]+)["']""", script)
    )
    assert {
        "messages",
        "message-input",
        "send",
        "rating-form",
        "connection",
    } <= looked_up
    assert looked_up - set(page.by_id) == set()
    templated = re.findall(r"byId\(`([\w-]+)\$\{", script)
    assert templated == ["rating-"]  # rating-1 … rating-5
    assert {f"rating-{n}" for n in range(1, 6)} <= set(page.by_id)


def ids_made_by(script: str) -> set[str]:
    """String literals given to setAttribute("data-testid", ...) in the script."""
    calls = re.findall(
        r'setAttribute\(\s*"data-testid",\s*([^;]*?)\);', code_of(script)
    )
    return {literal for call in calls for literal in re.findall(r'"([\w-]+)"', call)}


def test_every_test_id_is_on_the_page_or_made_by_the_script(
    page: Page, script: str
) -> None:
    made = ids_made_by(script)
    for test_id in TEST_IDS:
        assert test_id in page.test_ids or test_id in made, test_id
    # One login button per demo customer: data-testid="login-<id>".
    assert re.search(r'setAttribute\("data-testid", `login-\$\{c\.id\}`\)', script)
    # Per-message elements exist only once the script makes them.
    for per_message in ("msg-user", "msg-bot", "msg-agent", "delivery", "quick-reply"):
        assert per_message in made and per_message not in page.test_ids, per_message


def test_delivery_states_are_the_documented_ones(script: str) -> None:
    for lang in ("zh", "en"):
        keys = strings_block(script, lang)
        for delivery in ("sending", "sent", "delivered", "failed"):
            assert f"delivery.{delivery}" in keys


def test_the_script_never_writes_html(script: str) -> None:
    code = code_of(script)
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ):
        assert sink not in code, sink
    assert "new Function" not in code


def test_no_external_urls_in_the_static_files(page: Page) -> None:
    for path in sorted(STATIC.iterdir()):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"(?:https?|wss?):\\?/\\?/([^\s\"'`<>/\\)]+)", text):
            host = (
                match.group(1).split(":")[0] if "[" not in match.group(1) else "[::1]"
            )
            assert host in LOOPBACK, f"{path.name}: {match.group(0)}"
        assert "@import" not in text and "url(http" not in text
    for url in page.urls:
        # Same-origin paths, fragments and data: URLs only (no protocol-relative //).
        assert url.startswith(("/", "#", "data:")) and not url.startswith("//"), url
    assert page.scripts == ["/vendor/socket.io.min.js", "/static/webchat.js"]


def test_page_is_bilingual_and_accessible(page: Page, script: str) -> None:
    assert page.html_lang == "zh-CN"
    assert (
        page.csp and "script-src 'self'" in page.csp and "object-src 'none'" in page.csp
    )
    zh, en = strings_block(script, "zh"), strings_block(script, "en")
    assert zh == en, f"keys only in one language: {zh ^ en}"
    assert page.i18n_keys <= zh, page.i18n_keys - zh
    tag = {key: value[0] for key, value in page.by_id.items()}
    attrs = {key: value[1] for key, value in page.by_id.items()}
    assert attrs["messages"].get("aria-live") == "polite"
    assert attrs["messages"].get("role") == "log"
    assert attrs["connection"].get("role") == "status"
    for field in ("message-input", "rating-comment"):
        assert tag[field] == "textarea" and field in page.label_for
    for button in ("send", "end-chat", "lang-switch", "logout", "rating-submit"):
        assert tag[button] == "button", button
        assert attrs[button].get("type") in {"button", "submit"}, button
    for n in range(1, 6):
        assert attrs[f"rating-{n}"].get("aria-pressed") == "false"
    for alert in ("login-error", "rating-error", "composer-error"):
        assert attrs[alert].get("role") == "alert", alert


def test_package_json_pins_socket_io_client_exactly() -> None:
    package = json.loads((WEBCHAT / "package.json").read_text(encoding="utf-8"))
    assert package["private"] is True
    pinned = package["dependencies"]["socket.io-client"]
    assert re.fullmatch(r"4\.8\.\d+", pinned), pinned
    assert "devDependencies" not in package and "scripts" not in package
    lock = json.loads((WEBCHAT / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][""]["dependencies"]["socket.io-client"] == pinned
    assert lock["packages"]["node_modules/socket.io-client"]["version"] == pinned


def test_node_modules_stay_out_of_git() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "webchat/node_modules/" in ignored
