"""A customer asks for a person; the agent sees the ticket in the desk (headless
Chromium), replies, the customer receives the reply over socket.io, the agent hands
back, and the bot answers the customer's next message.

Needs a trained model and Debian's chromium (`apt-get install chromium`); skipped with a
reason otherwise. Prints the time from the customer's request to the ticket in the desk.
"""

from __future__ import annotations

import queue
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from tests.conftest import token_for
from tests.integration.servers import DESK_TOKEN, MODEL, Servers, running_servers

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`"),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian chromium not installed (apt-get install chromium)",
    ),
]


class Customer:
    """A web-chat customer on Rasa's socket.io channel."""

    def __init__(self, rasa_url: str, token: str) -> None:
        self.token = token
        self.received: queue.Queue[str] = queue.Queue()
        self.sio = socketio.Client()
        confirmed: queue.Queue[str] = queue.Queue()
        self.markers: queue.Queue[dict] = queue.Queue()
        self.sio.on("bot_uttered", self._on_bot)
        self.sio.on("session_confirm", confirmed.put)
        self.sio.connect(
            rasa_url, transports=["polling"], socketio_path="socket.io", wait_timeout=30
        )
        # The server issues the conversation id (a client cannot choose one).
        self.sio.emit("session_request", {"session_id": None})
        self.session_id = confirmed.get(timeout=30)  # room joined before anyone speaks

    def _on_bot(self, data: dict) -> None:
        # Texts, and separately the markers the desk adds ({"kind": "agent"}).
        if data.get("text"):
            self.received.put(data["text"])
        elif data.get("kind"):
            self.markers.put(data)

    def say(self, text: str) -> None:
        self.sio.emit(
            "user_uttered",
            {
                "message": text,
                "session_id": self.session_id,
                "metadata": {"auth_token": self.token},
            },
        )

    def wait_for(self, needle: str, seconds: float = 30) -> str:
        deadline = time.monotonic() + seconds
        seen = []
        while time.monotonic() < deadline:
            try:
                text = self.received.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(text)
            if needle in text:
                return text
        raise AssertionError(f"customer never received {needle!r}; got {seen}")

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with running_servers(tmp_path_factory.mktemp("handoff"), with_desk=True) as running:
        yield running


def test_human_handoff_through_the_agent_desk(servers: Servers) -> None:
    from playwright.sync_api import expect, sync_playwright

    customer = Customer(servers.rasa_url, token_for("C001"))
    try:
        customer.say("你好")
        customer.wait_for("李明")
        asked = time.monotonic()
        customer.say("我要转人工")
        customer.wait_for("转接人工客服")
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(servers.desk_url)
            page.get_by_test_id("token-input").fill(DESK_TOKEN)
            page.get_by_test_id("login").click()
            ticket = page.locator("[data-testid^='ticket-']").first
            expect(ticket).to_be_visible(timeout=15_000)
            shown = time.monotonic()
            print(f"\nrequest to ticket in the desk: {shown - asked:.2f} s")
            expect(ticket).to_contain_text("李明")
            ticket.click()
            transcript = page.get_by_test_id("transcript")
            expect(transcript).to_contain_text("我要转人工", timeout=10_000)
            # While the agent handles it the bot is silent; the message reaches the desk.
            customer.say("我的信用卡好像被盗刷了")
            expect(transcript).to_contain_text("被盗刷", timeout=10_000)
            expect(page.get_by_test_id("profile")).to_contain_text("李明")
            page.get_by_test_id("reply-input").fill(
                "您好，我是人工客服小王，我来帮您核实交易。"
            )
            page.get_by_test_id("reply-send").click()
            customer.wait_for("人工客服小王")
            # The web page learns that a person has joined from the desk's marker.
            marker = customer.markers.get(timeout=10)
            assert marker["kind"] == "agent" and marker["agent"]
            expect(transcript).to_contain_text("人工客服小王")
            page.screenshot(
                path=str(
                    Path(servers.db_url.removeprefix("sqlite:///")).parent / "desk.png"
                )
            )
            page.get_by_test_id("release").click()
            page.get_by_test_id("release-confirm").click()
            expect(page.get_by_test_id("handed-back")).to_be_visible(timeout=10_000)
            browser.close()
        customer.wait_for("智能助手继续为您服务")
        customer.say("查一下余额")
        customer.wait_for("28,650.32 元")
        assert servers.repo.open_tickets() == []  # released: nothing left open
    finally:
        customer.close()
