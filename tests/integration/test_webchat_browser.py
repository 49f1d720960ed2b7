"""The customer's web chat page in headless Chromium, and the same customer on the app.

A Chinese browser logs in as demo customer C001, asks about mortgage rates over the
page's socket.io connection and gets the answers in Chinese, sees delivery ticks, and
rates the conversation (stored in the profile DB). Then C001 opens a new conversation
on the REST channel (the app) and is greeted with what they were doing on the web page;
saying yes carries the first-home fact over. An English browser gets an English page
and English answers.

Needs a trained model, Debian's chromium and `make install` (socket.io-client from npm).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.conftest import token_for
from tests.integration.servers import (
    DESK_TOKEN,
    MODEL,
    ROOT,
    Servers,
    running_servers,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CLIENT = ROOT / "webchat" / "node_modules" / "socket.io-client" / "dist"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`"),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian chromium not installed (apt-get install chromium)",
    ),
    pytest.mark.skipif(
        not (CLIENT / "socket.io.min.js").exists(),
        reason="socket.io-client not installed: run `make install`",
    ),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with running_servers(
        tmp_path_factory.mktemp("webchat"), with_webchat=True, with_desk=True
    ) as running:
        yield running


def rest(servers: Servers, sender: str, text: str, token: str) -> str:
    reply = httpx.post(
        f"{servers.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text, "metadata": {"auth_token": token}},
        timeout=60,
    )
    reply.raise_for_status()
    return "\n".join(m.get("text", "") for m in reply.json())


def send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("message-input").fill(text)
    page.get_by_test_id("send").click()


def test_web_page_then_the_app_continues_where_the_customer_left_off(
    servers: Servers,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context(locale="zh-CN")
            page = context.new_page()
            page.goto(servers.webchat_url)
            # The page follows the browser's language.
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            expect(page.get_by_test_id("connection")).to_contain_text("已连接")
            page.get_by_test_id("login-C001").click()
            expect(page.get_by_test_id("customer-name")).to_contain_text("李明")

            send(page, "房贷利率多少")
            bot = page.get_by_test_id("msg-bot")
            # A reply may come as several bubbles (Rasa splits at blank lines).
            expect(bot.filter(has_text="首套房还是二套房")).to_have_count(
                1, timeout=30_000
            )
            # The question's buttons are rendered as quick replies.
            expect(page.get_by_test_id("quick-reply").first).to_be_visible()
            delivery = page.get_by_test_id("delivery").last
            expect(delivery).to_have_attribute("data-state", "delivered")

            page.get_by_test_id("quick-reply").filter(has_text="首套房").click()
            expect(bot.filter(has_text="首套房商业贷款年利率")).to_have_count(
                1, timeout=30_000
            )
            expect(page.get_by_test_id("msg-user").last).to_contain_text("首套房")

            page.get_by_test_id("end-chat").click()
            expect(page.get_by_test_id("rating")).to_be_visible()
            page.get_by_test_id("rating-5").click()
            page.get_by_test_id("rating-comment").fill("很清楚，谢谢")
            page.get_by_test_id("rating-submit").click()
            expect(page.get_by_test_id("rating-thanks")).to_be_visible()
            context.close()

            english = browser.new_context(locale="en-US").new_page()
            english.goto(servers.webchat_url)
            expect(english.locator("html")).to_have_attribute("lang", "en")
            english.get_by_test_id("login-C002").click()
            expect(english.get_by_test_id("customer-name")).to_contain_text("Emma")
            send(english, "what is my balance")
            expect(
                english.get_by_test_id("msg-bot").filter(has_text="CNY")
            ).not_to_have_count(0, timeout=30_000)
            # A person takes over: the page says so and shows the agent's message.
            send(english, "I want to talk to a real person please")
            expect(
                english.get_by_test_id("msg-bot").filter(has_text="human agent")
            ).not_to_have_count(0, timeout=30_000)
            desk = {"Authorization": f"Bearer {DESK_TOKEN}"}
            [ticket] = httpx.get(
                f"{servers.desk_url}/api/handoffs", headers=desk, timeout=10
            ).json()["handoffs"]
            httpx.post(
                f"{servers.desk_url}/api/handoffs/{ticket['id']}/messages",
                headers=desk,
                json={
                    "text": "Hi Emma, this is Alex from the service team.",
                    "agent": "Alex",
                },
                timeout=10,
            ).raise_for_status()
            expect(english.get_by_test_id("agent-banner")).to_contain_text(
                "Alex", timeout=15_000
            )
            expect(english.get_by_test_id("msg-agent").last).to_contain_text(
                "this is Alex"
            )
        finally:
            browser.close()

    # The web conversation is in C001's history, with its channel, and rated.
    since = datetime.now(timezone.utc) - timedelta(minutes=30)
    web = servers.repo.last_interaction_elsewhere("C001", "-", since)
    assert web is not None and web.channel == "socketio" and web.topic == "mortgage"
    assert servers.repo.ratings(web.conversation_id) == [(5, "很清楚，谢谢")]

    # The same customer opens the app: greeted with what they did on the web page.
    app = f"app-{uuid.uuid4().hex[:8]}"
    token = token_for("C001")
    greeting = rest(servers, app, "你好", token)
    assert "李明" in greeting and "网页" in greeting and "首套房贷利率" in greeting
    assert "继续" in greeting
    picked_up = rest(servers, app, "好的，继续", token)
    assert "首套房商业贷款年利率" in picked_up  # no need to say "首套" again
    assert "没太明白" not in picked_up  # the dialogue goes on normally afterwards
    follow_up = rest(servers, app, "那二套房呢", token)
    assert "二套房商业贷款年利率" in follow_up and "没太明白" not in follow_up
