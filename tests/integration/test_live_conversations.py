"""Whole conversations against the real servers: the trained model, the Rasa server
(REST channel), the action server and a seeded profile database.

Each test is a conversation of 20+ customer turns with topic switches, a correction,
carry-over and a cancel; replies are checked for content and language, and the database
for the money that moved. Skipped when no trained model exists (`make train`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from tests.conftest import token_for
from tests.integration.servers import MODEL, Servers, running_servers

THIS_MONTH = date.today().replace(day=1).isoformat()
LAST_MONTH = (
    (date.today().replace(day=1) - timedelta(days=1)).replace(day=1).isoformat()
)

JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`"),
]


class LiveServers:
    def __init__(self, servers: Servers) -> None:
        self.rasa_url = servers.rasa_url
        self.repo = servers.repo
        self.tracker_db_url = servers.tracker_db_url

    def say(self, sender: str, text: str, token: str | None = None) -> str:
        body: dict = {"sender": sender, "message": text}
        if token:
            body["metadata"] = {"auth_token": token}
        reply = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60
        )
        reply.raise_for_status()
        return "\n".join(m.get("text", "") for m in reply.json())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServers]:
    with running_servers(tmp_path_factory.mktemp("live")) as running:
        yield LiveServers(running)


def balance(
    servers: LiveServers, customer: str, account_type: str = "current"
) -> Decimal:
    return next(
        a.balance
        for a in servers.repo.accounts(customer)
        if a.account_type == account_type
    )


def test_chinese_conversation_of_22_turns(servers: LiveServers) -> None:
    token, me = token_for("C001"), "live-zh-1"
    start = balance(servers, "C001")
    turns = [
        ("你好", "李明"),
        ("房贷利率现在多少啊", "首套房还是二套房"),
        ("我是首套房", "首套房商业贷款年利率"),
        ("那二套房呢？", "二套房商业贷款年利率"),
        ("如果贷30年呢", "贷款 30 年"),
        ("好的谢谢", "不客气"),
        ("帮我查一下余额", "28,650.32 元"),
        ("那储蓄账户呢", "150,000.00 元"),
        ("我想给张伟转五千", "向 张伟 转账 5,000.00 元"),
        ("等一下，信用卡额度还有多少", "可用额度"),
        ("不对，是三千", "向 张伟 转账 3,000.00 元"),
        ("确认", "转账成功"),
        ("上个月在星巴克花了多少钱", f"{LAST_MONTH} 至"),
        ("那这个月呢", f"{THIS_MONTH} 至"),
        ("餐饮一共花了多少", "餐饮"),
        ("有什么理财产品适合我", "风险等级 R3"),
        ("你是机器人吗", "智能助手"),
        ("转账手续费怎么收", "免收手续费"),
        ("你们营业时间是几点到几点", "9:00"),
        ("太谢谢你了", "不客气"),
        ("拜拜", "再见"),
        # Anxious about a lost card: frozen at once, then a person (high-stakes rule).
        ("等等，我的信用卡好像丢了！好担心", "尾号 4821"),
    ]
    replies = [servers.say(me, text, token) for text, _ in turns]
    for (text, expected), reply in zip(turns, replies, strict=True):
        assert expected in reply, f"{text!r} -> {reply!r}"
    # The correction won: exactly 3,000.00 left the current account, once.
    assert balance(servers, "C001") == start - Decimal("3000.00")
    assert {c.card_type: c.status for c in servers.repo.cards("C001")}[
        "credit"
    ] == "frozen"
    assert "转接人工客服" in replies[-1]
    (ticket,) = [t for t in servers.repo.open_tickets() if t.conversation_id == me]
    assert (ticket.reason, ticket.topic, ticket.customer_id) == (
        "high_stakes",
        "lost_card",
        "C001",
    )


def test_english_conversation_of_21_turns(servers: LiveServers) -> None:
    token, me = token_for("C002"), "live-en-1"
    start = balance(servers, "C002")
    turns = [
        ("hello", "Emma Walker"),
        ("what's my balance", "CNY 12,480.75"),
        ("and the savings account?", "CNY 45,000.00"),
        ("I need to send some money to Alice", "How much"),
        ("hang on, how much is left on my credit card limit?", "available"),
        ("$300", "send CNY 300.00 to Alice Zhang"),
        ("actually make it 250", "send CNY 250.00 to Alice Zhang"),
        ("yes please", "Done"),
        ("what are mortgage rates at the moment", "first or second home"),
        ("it's my first home", "First-home mortgage rates"),
        ("what about a second home?", "Second-home mortgage rates"),
        ("and over 20 years?", "over 20 years"),
        # The period, whether or not there was any spending in it (early in a month
        # this month may have none).
        ("how much did I spend at Starbucks last month", LAST_MONTH),
        ("and this month?", THIS_MONTH),
        ("any investment ideas for me?", "risk level R4"),
        ("how do I reset my online banking password", "password"),
        ("are you a real person?", "bot"),
        ("I think I lost my debit card", "ending 0987"),
        ("what's the weather like in Shanghai", "outside what I can help with"),
        ("thanks a lot", "welcome"),
        ("bye", "Goodbye"),
    ]
    for text, expected in turns:
        reply = servers.say(me, text, token)
        assert expected in reply, f"{text!r} -> {reply!r}"
    assert balance(servers, "C002") == start - Decimal("250.00")


def test_cancelled_transfer_and_anonymous_customer(servers: LiveServers) -> None:
    token = token_for("C003")
    start = balance(servers, "C003")
    assert "请问您要转多少钱" in servers.say("live-zh-2", "我想转账", token)
    assert "请问转给哪位" in servers.say("live-zh-2", "两千块", token)
    assert "向 女儿 转账 2,000.00 元" in servers.say("live-zh-2", "给我女儿", token)
    assert "转账已取消" in servers.say("live-zh-2", "算了，先不转了", token)
    assert balance(servers, "C003") == start
    # Without a token: own data needs a login, general questions still work.
    assert "请先登录" in servers.say("live-anon", "查一下余额")
    assert "log in" in servers.say("live-anon-en", "what's my balance")
    assert "利率" in servers.say("live-anon", "房贷利率多少，我是首套房")
    # A code-switched message is answered in its dominant language.
    assert "首套房还是二套房" in servers.say("live-mixed", "帮我查一下 mortgage rate")


def test_stored_conversations_hold_no_personal_data(servers: LiveServers) -> None:
    import sqlalchemy as sa

    card = "6222021234567890128"
    token = token_for("C001")
    reply = servers.say("live-pii", f"我卡号{card}，查一下余额", token)
    assert "余额为" in reply  # NLU and the actions saw the message in memory
    engine = sa.create_engine(servers.tracker_db_url)
    with engine.connect() as conn:
        rows = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT data FROM events WHERE sender_id = 'live-pii'")
            )
        ]
    engine.dispose()
    stored = "\n".join(rows)
    assert rows and card not in stored and "[CARD ****0128]" in stored
    # The login token went with the message and was dropped before storage.
    assert token not in stored and not JWT.search(stored)
    assert '"auth_token": "[REDACTED]"' in stored
