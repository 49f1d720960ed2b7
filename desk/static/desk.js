/* FinAssist agent desk.
 *
 * Plain browser JavaScript, no dependencies. Every piece of API data reaches the page
 * through textContent / createElement only (never innerHTML), so customer text cannot
 * inject markup. The queue and the selected ticket are polled every 2 seconds by one
 * self-rescheduling loop that survives network errors; HTTP 401 sends the agent back
 * to the login panel.
 */
(() => {
  "use strict";

  const POLL_MS = 2000;
  const REQUEST_TIMEOUT_MS = 10000;
  const TOKEN_KEY = "finassist.desk.token";
  const SELECTED_KEY = "finassist.desk.selected";

  // ---------------------------------------------------------------- labels
  const EMOTIONS = {
    angry: "愤怒 Angry",
    anxious: "焦虑 Anxious",
    confused: "困惑 Confused",
    calm: "平静 Calm",
  };
  const REASONS = {
    request_human: "要求人工 Asked for an agent",
    complaint: "投诉 Complaint",
    high_stakes: "资金风险 High stakes",
    angry_complaint: "愤怒投诉 Angry complaint",
    repeated_distress: "持续不安 Repeated distress",
  };
  const STATUSES = {
    waiting: "等待中 Waiting",
    active: "处理中 Active",
    released: "已交还 Handed back",
    closed: "已关闭 Closed",
  };
  const TOPICS = {
    balance: "余额 Balance",
    transfer: "转账 Transfer",
    card_limit: "卡片额度 Card limit",
    mortgage: "房贷 Mortgage",
    wealth: "理财 Wealth",
    lost_card: "挂失 Lost card",
    transactions: "交易查询 Transactions",
    service: "人工服务 Service",
    fraud: "欺诈 Fraud",
    missing_money: "资金异常 Missing money",
  };
  const INTENTS = {
    greet: "问候 Greet",
    goodbye: "道别 Goodbye",
    affirm: "确认 Affirm",
    deny: "否定 Deny",
    thank: "感谢 Thanks",
    bot_challenge: "询问身份 Bot challenge",
    stop: "中止 Stop",
    inform: "补充信息 Inform",
    check_balance: "查余额 Check balance",
    transfer_money: "转账 Transfer money",
    check_card_limit: "查额度 Card limit",
    ask_mortgage_rate: "房贷利率 Mortgage rate",
    recommend_wealth_product: "理财推荐 Wealth products",
    report_lost_card: "挂失 Report lost card",
    search_transactions: "查交易 Search transactions",
    request_human: "要求人工 Request agent",
    complain: "投诉 Complain",
    faq: "常见问题 FAQ",
    out_of_scope: "超出范围 Out of scope",
    nlu_fallback: "未识别 Not understood",
  };
  const FACTS = {
    topic: "话题 Topic",
    amount: "金额 Amount",
    recipient: "收款人 Recipient",
    source_account: "付款账户 From account",
    account_type: "账户类型 Account type",
    card_type: "卡片类型 Card type",
    home_status: "购房情况 Home status",
    loan_term: "贷款期限 Loan term",
    period: "期间 Period",
    merchant: "商户 Merchant",
    category: "类别 Category",
  };
  const LANGUAGES = { zh: "中文 Chinese", en: "英文 English" };
  const CHANNELS = { socketio: "网页聊天 Web chat", rest: "接口 REST" };
  const TIERS = {
    private: "私人银行 Private",
    platinum: "白金 Platinum",
    gold: "金卡 Gold",
    standard: "普通 Standard",
  };
  const ACCOUNT_TYPES = { current: "活期 Current", savings: "储蓄 Savings" };
  const CARD_TYPES = { debit: "借记卡 Debit", credit: "信用卡 Credit" };
  const CARD_STATUSES = {
    active: "正常 Active",
    frozen: "已冻结 Frozen",
    lost: "已挂失 Lost",
    blocked: "已止付 Blocked",
    closed: "已注销 Closed",
  };
  const SENDERS = {
    customer: "客户 Customer",
    bot: "机器人 Bot",
    agent: "人工 Agent",
  };

  // ---------------------------------------------------------------- state
  const state = {
    token: null,
    loopId: 0,
    timer: null,
    queue: [],
    queueSig: null,
    queueSeq: 0,
    queueApplied: 0,
    selectedId: null, // always a string
    detail: null,
    detailSeq: 0,
    detailApplied: 0,
    transcriptSig: null,
    transcriptCount: 0,
    contextSig: null,
    releasedIds: new Set(),
    drafts: new Map(),
    sending: false,
    releasing: false,
  };

  // ---------------------------------------------------------------- DOM
  const $ = (id) => document.getElementById(id);
  const dom = {};

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function humanize(key) {
    return String(key).replace(/_/g, " ");
  }

  function label(map, key, fallback) {
    if (key === null || key === undefined || key === "") return fallback || "—";
    return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : humanize(key);
  }

  function pad2(n) {
    return String(n).padStart(2, "0");
  }

  function clock(date) {
    return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  }

  function fmtWait(seconds) {
    const s = Number(seconds);
    if (!Number.isFinite(s) || s < 0) return "—";
    const total = Math.floor(s);
    return `${Math.floor(total / 60)}:${pad2(total % 60)}`;
  }

  function fmtMsgTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const now = new Date();
    const sameDay =
      d.getFullYear() === now.getFullYear() &&
      d.getMonth() === now.getMonth() &&
      d.getDate() === now.getDate();
    return sameDay ? clock(d) : `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clock(d)}`;
  }

  function knownEmotion(e) {
    return Object.prototype.hasOwnProperty.call(EMOTIONS, e) ? e : "calm";
  }

  function emotionBadge(emotion) {
    if (!emotion) return null;
    return el("span", `badge badge-${knownEmotion(emotion)}`, label(EMOTIONS, emotion));
  }

  function urgentBadge() {
    return el("span", "badge badge-urgent", "紧急 urgent");
  }

  function statusBadge(status) {
    const b = el("span", "badge badge-status", label(STATUSES, status));
    if (status) b.classList.add(`s-${String(status).replace(/[^a-z_-]/gi, "")}`);
    return b;
  }

  function errorText(err) {
    if (!err) return "";
    if (err.name === "AbortError") return "请求超时 Request timed out";
    return err.message || String(err);
  }

  // ---------------------------------------------------------------- API
  class ApiError extends Error {
    constructor(message, status, extra) {
      super(message);
      this.name = "ApiError";
      this.status = status || 0;
      this.stale = Boolean(extra && extra.stale);
    }
  }

  async function api(method, path, body) {
    const token = state.token;
    if (!token) throw new ApiError("not signed in", 401, { stale: true });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", signal: controller.signal };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      let res;
      try {
        res = await fetch(path, init);
      } catch (err) {
        if (err && err.name === "AbortError") throw err;
        throw new ApiError("网络错误 Network error", 0);
      }
      // The agent signed out or in again while this request was in flight.
      if (state.token !== token) throw new ApiError("stale", res.status, { stale: true });
      if (res.status === 401) {
        handleUnauthorized();
        throw new ApiError("401 Unauthorized", 401);
      }
      let data = null;
      try {
        data = await res.json();
      } catch (_) {
        data = null;
      }
      if (!res.ok) {
        const detail =
          data && typeof data === "object"
            ? data.error || data.detail || data.message || ""
            : "";
        throw new ApiError(
          `HTTP ${res.status}${detail ? ` – ${typeof detail === "string" ? detail : JSON.stringify(detail)}` : ""}`,
          res.status
        );
      }
      return data;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- auth
  function showLogin(message) {
    dom.desk.hidden = true;
    dom.logout.hidden = true;
    dom.loginPanel.hidden = false;
    if (message) {
      dom.loginError.textContent = message;
      dom.loginError.hidden = false;
    } else {
      dom.loginError.textContent = "";
      dom.loginError.hidden = true;
    }
    dom.tokenInput.focus();
  }

  function showDesk() {
    dom.loginPanel.hidden = true;
    dom.loginError.hidden = true;
    dom.desk.hidden = false;
    dom.logout.hidden = false;
    dom.tokenInput.value = "";
  }

  function signOut(message) {
    stopPolling();
    state.token = null;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      /* storage unavailable */
    }
    resetDesk();
    dom.updated.textContent = "";
    setConnection(true);
    showLogin(message);
  }

  function handleUnauthorized() {
    signOut("令牌无效或已过期，请重新登录。Invalid or expired token (401), please sign in again.");
  }

  async function onLogin(event) {
    event.preventDefault();
    const token = dom.tokenInput.value.trim();
    if (!token) {
      dom.loginError.textContent = "请输入令牌。Please enter a token.";
      dom.loginError.hidden = false;
      return;
    }
    dom.loginBtn.disabled = true;
    dom.loginBtn.textContent = "登录中… Signing in…";
    dom.loginError.hidden = true;
    state.token = token;
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch (_) {
      /* storage unavailable: token lives in memory only */
    }
    try {
      await refreshQueue(); // validates the token; a 401 brings the login back
    } finally {
      dom.loginBtn.disabled = false;
      dom.loginBtn.textContent = "登录 Sign in";
    }
    if (state.token === token) enterDesk();
  }

  function enterDesk() {
    showDesk();
    if (state.selectedId !== null) {
      highlightSelection();
      refreshDetail();
    }
    startPolling();
  }

  // ---------------------------------------------------------------- polling
  function startPolling() {
    stopPolling();
    const id = ++state.loopId;
    const loop = async () => {
      if (id !== state.loopId || !state.token) return;
      try {
        const jobs = [refreshQueue()];
        if (state.selectedId !== null) jobs.push(refreshDetail());
        await Promise.all(jobs);
      } catch (err) {
        console.error("desk poll failed", err); // never break the loop
      } finally {
        if (id === state.loopId && state.token) state.timer = setTimeout(loop, POLL_MS);
      }
    };
    state.timer = setTimeout(loop, POLL_MS);
  }

  function stopPolling() {
    state.loopId += 1;
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
  }

  function setConnection(ok, err) {
    if (ok) {
      dom.connection.hidden = true;
      dom.connection.textContent = "";
      dom.connection.removeAttribute("title");
    } else {
      dom.connection.hidden = false;
      dom.connection.textContent = "连接异常，正在重试 Connection problem, retrying";
      dom.connection.title = errorText(err);
    }
  }

  function markUpdated() {
    dom.updated.textContent = `已更新 updated ${clock(new Date())}`;
  }

  // ---------------------------------------------------------------- queue
  async function refreshQueue() {
    const seq = ++state.queueSeq;
    try {
      const data = await api("GET", "/api/handoffs");
      if (seq < state.queueApplied) return;
      state.queueApplied = seq;
      state.queue = data && Array.isArray(data.handoffs) ? data.handoffs : [];
      renderQueue(Date.now());
      setConnection(true);
      markUpdated();
    } catch (err) {
      if (err.stale || err.status === 401) return;
      setConnection(false, err);
    }
  }

  function queueSignature(list) {
    return JSON.stringify(
      list.map((h) => [
        h.id, h.priority, h.customer_name, h.customer_id, h.emotion, h.urgent,
        h.reason, h.status, h.topic, h.channel,
      ])
    );
  }

  function renderQueue(fetchedAt) {
    const list = state.queue;
    dom.queueCount.textContent = String(list.length);
    dom.queueEmpty.hidden = list.length > 0;
    const sig = queueSignature(list);
    if (sig === state.queueSig) {
      // Same tickets: only the waiting times moved.
      for (const h of list) {
        const wait = dom.queue.querySelector(`[data-wait-for="${CSS.escape(String(h.id))}"]`);
        if (wait) {
          wait.dataset.base = String(h.waiting_seconds);
          wait.dataset.at = String(fetchedAt);
          wait.textContent = `等待 Wait ${fmtWait(h.waiting_seconds)}`;
        }
      }
      highlightSelection();
      return;
    }
    state.queueSig = sig;
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.ticketId
      : undefined;
    const items = list.map((h) => renderTicket(h, fetchedAt));
    dom.queue.replaceChildren(...items);
    highlightSelection();
    if (focused !== undefined) {
      const again = dom.queue.querySelector(`[data-ticket-id="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  function renderTicket(h, fetchedAt) {
    const id = String(h.id);
    const li = el("li");
    const btn = el("button", "ticket");
    btn.type = "button";
    btn.setAttribute("data-testid", `ticket-${id}`);
    btn.dataset.ticketId = id;
    if (h.urgent) btn.classList.add("urgent");

    const prio = Number(h.priority);
    const prioBox = el("span", "ticket-prio", Number.isFinite(prio) ? String(prio) : "—");
    if (prio >= 80) prioBox.classList.add("p-high");
    else if (prio >= 50) prioBox.classList.add("p-mid");
    prioBox.title = "优先级 Priority";
    prioBox.appendChild(el("span", "ticket-prio-label", "优先级"));

    const line1 = el("span", "ticket-line");
    const name = el("span", "ticket-name", h.customer_name || "访客 Guest");
    if (h.customer_id) name.title = String(h.customer_id);
    line1.appendChild(name);
    const emo = emotionBadge(h.emotion);
    if (emo) line1.appendChild(emo);
    if (h.urgent) line1.appendChild(urgentBadge());

    const reason = el("span", "ticket-reason", label(REASONS, h.reason));

    const meta = el("span", "ticket-meta");
    if (h.topic) meta.appendChild(el("span", "ticket-topic", label(TOPICS, h.topic)));
    meta.appendChild(statusBadge(h.status));
    const wait = el("span", "ticket-wait js-wait", `等待 Wait ${fmtWait(h.waiting_seconds)}`);
    wait.title = "等待时长 Waiting time";
    wait.dataset.waitFor = id;
    wait.dataset.base = String(h.waiting_seconds);
    wait.dataset.at = String(fetchedAt);
    wait.dataset.prefix = "等待 Wait ";
    meta.appendChild(wait);

    btn.append(prioBox, line1, reason, meta);
    btn.addEventListener("click", () => selectTicket(id));
    li.appendChild(btn);
    return li;
  }

  function highlightSelection() {
    for (const btn of dom.queue.querySelectorAll(".ticket")) {
      const on = btn.dataset.ticketId === state.selectedId;
      btn.classList.toggle("selected", on);
      btn.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  // Waiting times tick every second between polls.
  function tickWaits() {
    const now = Date.now();
    for (const node of document.querySelectorAll(".js-wait")) {
      const raw = node.dataset.base;
      if (raw === undefined || raw === "" || raw === "null" || raw === "undefined") continue;
      const base = Number(raw);
      const at = Number(node.dataset.at);
      if (!Number.isFinite(base) || !Number.isFinite(at)) continue;
      const secs = base + Math.max(0, Math.floor((now - at) / 1000));
      node.textContent = (node.dataset.prefix || "") + fmtWait(secs);
    }
  }

  // ---------------------------------------------------------------- selection
  function selectTicket(id) {
    id = String(id);
    if (id === state.selectedId) {
      refreshDetail();
      return;
    }
    saveDraft();
    state.selectedId = id;
    try {
      sessionStorage.setItem(SELECTED_KEY, id);
    } catch (_) {
      /* ignore */
    }
    state.detail = null;
    state.transcriptSig = null;
    state.transcriptCount = 0;
    state.contextSig = null;
    hideConfirm();
    setComposerStatus("");
    dom.detailError.hidden = true;
    dom.replyInput.value = state.drafts.get(id) || "";
    renderLoading();
    highlightSelection();
    updateComposer();
    refreshDetail();
  }

  function saveDraft() {
    if (state.selectedId === null) return;
    const text = dom.replyInput.value;
    if (text.trim()) state.drafts.set(state.selectedId, text);
    else state.drafts.delete(state.selectedId);
  }

  function renderLoading() {
    dom.detailHeader.replaceChildren(el("span", "muted", "加载中… Loading…"));
    dom.transcript.replaceChildren();
    const dash = () => el("p", "muted", "—");
    dom.summary.replaceChildren(dash());
    dom.profile.replaceChildren(dash());
    dom.knowledge.replaceChildren(dash());
  }

  function resetDesk() {
    saveDraft();
    state.queue = [];
    state.queueSig = null;
    state.selectedId = null;
    state.detail = null;
    state.transcriptSig = null;
    state.transcriptCount = 0;
    state.contextSig = null;
    state.drafts.clear();
    try {
      sessionStorage.removeItem(SELECTED_KEY);
    } catch (_) {
      /* ignore */
    }
    dom.queue.replaceChildren();
    dom.queueCount.textContent = "0";
    dom.queueEmpty.hidden = true;
    dom.detailHeader.replaceChildren(
      el("span", "muted", "请从左侧选择会话 Select a conversation from the queue")
    );
    dom.transcript.replaceChildren();
    dom.detailError.hidden = true;
    const dash = () => el("p", "muted", "—");
    dom.summary.replaceChildren(dash());
    dom.profile.replaceChildren(dash());
    dom.knowledge.replaceChildren(dash());
    dom.replyInput.value = "";
    hideConfirm();
    setComposerStatus("");
    updateComposer();
  }

  // ---------------------------------------------------------------- detail
  async function refreshDetail() {
    const id = state.selectedId;
    if (id === null) return;
    const seq = ++state.detailSeq;
    try {
      const data = await api("GET", `/api/handoffs/${encodeURIComponent(id)}`);
      if (id !== state.selectedId || seq < state.detailApplied) return;
      state.detailApplied = seq;
      state.detail = data && typeof data === "object" ? data : {};
      dom.detailError.hidden = true;
      renderDetail(Date.now());
      setConnection(true);
    } catch (err) {
      if (err.stale || err.status === 401) return;
      if (id !== state.selectedId || seq < state.detailApplied) return;
      if (err.status === 404 && state.releasedIds.has(id)) {
        // The backend forgot a ticket we handed back: keep showing it as handed back.
        dom.detailError.hidden = true;
        renderDetail(Date.now());
        return;
      }
      if (err.status === 404) {
        showDetailError("该会话不存在或已结束。This conversation no longer exists.");
        if (!state.detail) dom.detailHeader.replaceChildren(el("span", "muted", `#${id}`));
        updateComposer();
        return;
      }
      if (!err.status) {
        setConnection(false, err); // network trouble: the top-bar indicator says it all
        return;
      }
      showDetailError(`无法刷新会话 Could not refresh the conversation: ${errorText(err)}`);
    }
  }

  function showDetailError(message) {
    dom.detailError.textContent = message;
    dom.detailError.hidden = false;
  }

  function currentHandoff() {
    const d = state.detail;
    return d && d.handoff && typeof d.handoff === "object" ? d.handoff : null;
  }

  function isReleased() {
    const h = currentHandoff();
    return (
      (h !== null && h.status === "released") ||
      (state.selectedId !== null && state.releasedIds.has(state.selectedId))
    );
  }

  function isOpen() {
    const h = currentHandoff();
    if (!h || isReleased()) return false;
    return h.status === "waiting" || h.status === "active" || !h.status;
  }

  function renderDetail(fetchedAt) {
    const d = state.detail || {};
    renderHeader(d, fetchedAt);
    renderTranscript(Array.isArray(d.transcript) ? d.transcript : []);
    const ctxSig = JSON.stringify([d.summary || null, d.profile || null, d.knowledge || null]);
    if (ctxSig !== state.contextSig) {
      state.contextSig = ctxSig;
      const scroller = dom.context;
      const top = scroller.scrollTop;
      renderSummary(d.summary);
      renderProfile(d.profile);
      renderKnowledge(d.knowledge);
      scroller.scrollTop = top;
    }
    updateComposer();
  }

  function renderHeader(d, fetchedAt) {
    const h = currentHandoff() || { id: state.selectedId };
    const released = isReleased();

    const top = el("div", "dh-top");
    top.appendChild(el("span", "dh-name", h.customer_name || "访客 Guest"));
    const idText = `#${h.id !== undefined ? h.id : state.selectedId}`;
    top.appendChild(el("span", "dh-id", h.customer_id ? `${idText} · ${h.customer_id}` : idText));
    if (released) {
      const pill = el("span", "handed-back", "已交还 Handed back");
      pill.setAttribute("data-testid", "handed-back");
      top.appendChild(pill);
    } else if (h.status) {
      top.appendChild(statusBadge(h.status));
    }
    const emo = emotionBadge(h.emotion);
    if (emo) top.appendChild(emo);
    if (h.urgent) top.appendChild(urgentBadge());

    const meta = el("div", "dh-meta");
    const item = (k, v) => {
      const span = el("span", null, `${k} `);
      span.appendChild(el("b", null, v));
      meta.appendChild(span);
      return span;
    };
    if (h.priority !== undefined && h.priority !== null) item("优先级 Priority", String(h.priority));
    if (h.reason) item("原因 Reason", label(REASONS, h.reason));
    if (h.topic) item("话题 Topic", label(TOPICS, h.topic));
    if (d.language) item("客户语言 Language", label(LANGUAGES, d.language));
    if (h.channel) item("渠道 Channel", label(CHANNELS, h.channel));
    if (!released && h.waiting_seconds !== undefined && h.waiting_seconds !== null) {
      const span = item("等待 Waiting", fmtWait(h.waiting_seconds));
      const b = span.querySelector("b");
      b.classList.add("js-wait");
      b.dataset.base = String(h.waiting_seconds);
      b.dataset.at = String(fetchedAt);
    }
    dom.detailHeader.replaceChildren(top, meta);
  }

  function renderTranscript(messages) {
    const sig = JSON.stringify(messages);
    if (sig === state.transcriptSig) return;
    const firstRender = state.transcriptSig === null;
    const grew = messages.length > state.transcriptCount;
    state.transcriptSig = sig;
    state.transcriptCount = messages.length;

    const box = dom.transcript;
    const prevTop = box.scrollTop;
    if (messages.length === 0) {
      box.replaceChildren(el("p", "transcript-empty", "暂无消息 No messages yet"));
      return;
    }
    const nodes = messages.map((m) => {
      const from = m && typeof m.from === "string" ? m.from : "";
      const kind = from === "customer" || from === "bot" || from === "agent" ? from : "bot";
      const wrap = el("div", `msg msg-${kind}`);
      wrap.setAttribute("data-from", kind);
      const head = el("div", "msg-head");
      head.appendChild(el("span", "msg-who", label(SENDERS, kind)));
      const t = fmtMsgTime(m && m.time);
      if (t) head.appendChild(el("span", "msg-time", t));
      const bubble = el("div", "bubble", m && m.text !== undefined && m.text !== null ? m.text : "");
      wrap.append(head, bubble);
      return wrap;
    });
    box.replaceChildren(...nodes);
    if (firstRender || grew) box.scrollTop = box.scrollHeight;
    else box.scrollTop = prevTop;
  }

  function renderSummary(summary) {
    const s = summary && typeof summary === "object" ? summary : {};
    const out = [];
    out.push(el("p", s.text ? null : "muted", s.text || "暂无摘要 No summary yet"));

    const intents = Array.isArray(s.intents) ? s.intents : [];
    if (intents.length) {
      out.push(el("div", "sub-label", "意图 Intents"));
      const chips = el("div", "chips");
      for (const i of intents) {
        const chip = el("span", "chip", label(INTENTS, i));
        chip.title = String(i);
        chips.appendChild(chip);
      }
      out.push(chips);
    }

    const emotions = Array.isArray(s.emotions) ? s.emotions : [];
    if (emotions.length) {
      out.push(el("div", "sub-label", "情绪走势 Emotion trend"));
      const dots = el("div", "dots");
      dots.setAttribute("data-testid", "emotion-trend");
      emotions.forEach((e, n) => {
        const dot = el("span", `dot dot-${knownEmotion(e)}`);
        dot.title = `${n + 1}. ${label(EMOTIONS, e)}`;
        dot.setAttribute("role", "img");
        dot.setAttribute("aria-label", label(EMOTIONS, e));
        dots.appendChild(dot);
      });
      dots.appendChild(
        el("span", "dots-legend", `→ ${label(EMOTIONS, emotions[emotions.length - 1])}`)
      );
      out.push(dots);
    }

    const facts = s.facts && typeof s.facts === "object" ? s.facts : {};
    const keys = Object.keys(facts);
    if (keys.length) {
      out.push(el("div", "sub-label", "要素 Facts"));
      const dl = el("dl", "kv");
      for (const k of keys) {
        let v = facts[k];
        if (v === null || v === undefined || v === "") v = "—";
        else if (k === "topic") v = label(TOPICS, v);
        else if (typeof v === "object") v = JSON.stringify(v);
        dl.append(el("dt", null, label(FACTS, k)), el("dd", null, v));
      }
      out.push(dl);
    }
    dom.summary.replaceChildren(...out);
  }

  function renderProfile(profile) {
    if (!profile || typeof profile !== "object") {
      dom.profile.replaceChildren(el("div", "no-profile", "未登录客户 Customer not logged in"));
      return;
    }
    const out = [];
    const head = el("div", "profile-head");
    head.appendChild(el("span", "profile-name", profile.name || "—"));
    if (profile.id) head.appendChild(el("span", "profile-id", profile.id));
    if (profile.tier) {
      const tier = el("span", "badge badge-tier", label(TIERS, profile.tier));
      tier.classList.add(`t-${String(profile.tier).replace(/[^a-z_-]/gi, "")}`);
      head.appendChild(tier);
    }
    out.push(head);

    const dl = el("dl", "kv");
    if (profile.risk_level !== undefined && profile.risk_level !== null) {
      dl.append(el("dt", null, "风险等级 Risk level"), el("dd", null, `R${profile.risk_level}`));
    }
    if (profile.language) {
      dl.append(el("dt", null, "语言 Language"), el("dd", null, label(LANGUAGES, profile.language)));
    }
    if (dl.childElementCount) out.push(dl);

    const accounts = Array.isArray(profile.accounts) ? profile.accounts : [];
    out.push(el("div", "sub-label", "账户 Accounts"));
    if (accounts.length) {
      out.push(
        miniTable(
          ["类型 Type", "账号 Number", "余额 Balance"],
          accounts.map((a) => [
            { text: label(ACCOUNT_TYPES, a.type) },
            { text: a.number || "—", cls: "mono" },
            { text: a.balance !== undefined && a.balance !== null ? a.balance : "—", cls: "num" },
          ])
        )
      );
    } else {
      out.push(el("p", "muted", "无 None"));
    }

    const cards = Array.isArray(profile.cards) ? profile.cards : [];
    out.push(el("div", "sub-label", "卡片 Cards"));
    if (cards.length) {
      out.push(
        miniTable(
          ["类型 Type", "尾号 Last 4", "状态 Status"],
          cards.map((c) => [
            { text: label(CARD_TYPES, c.type) },
            { text: c.last4 ? `•••• ${c.last4}` : "—", cls: "mono" },
            {
              text: label(CARD_STATUSES, c.status),
              cls: c.status ? `card-status-${String(c.status).replace(/[^a-z_-]/gi, "")}` : null,
            },
          ])
        )
      );
    } else {
      out.push(el("p", "muted", "无 None"));
    }
    dom.profile.replaceChildren(...out);
  }

  function miniTable(headers, rows) {
    const table = el("table", "mini-table");
    const thead = el("thead");
    const hr = el("tr");
    for (const h of headers) hr.appendChild(el("th", null, h));
    thead.appendChild(hr);
    const tbody = el("tbody");
    for (const row of rows) {
      const tr = el("tr");
      for (const cell of row) tr.appendChild(el("td", cell.cls || null, cell.text));
      tbody.appendChild(tr);
    }
    table.append(thead, tbody);
    return table;
  }

  function renderKnowledge(knowledge) {
    const list = Array.isArray(knowledge) ? knowledge : [];
    if (!list.length) {
      dom.knowledge.replaceChildren(el("p", "muted", "暂无相关知识 No related articles"));
      return;
    }
    const cards = list.map((k) => {
      const card = el("article", "kcard");
      card.appendChild(el("h4", null, (k && k.title) || "—"));
      const ul = el("ul");
      for (const item of Array.isArray(k && k.items) ? k.items : []) {
        ul.appendChild(el("li", null, typeof item === "string" ? item : JSON.stringify(item)));
      }
      card.appendChild(ul);
      return card;
    });
    dom.knowledge.replaceChildren(...cards);
  }

  // ---------------------------------------------------------------- composer
  function setComposerStatus(text, kind) {
    dom.composerStatus.textContent = text || "";
    dom.composerStatus.classList.toggle("error", kind === "error");
    dom.composerStatus.classList.toggle("ok", kind === "ok");
  }

  function updateComposer() {
    const open = state.selectedId !== null && isOpen();
    dom.replyInput.disabled = !open;
    dom.replyInput.readOnly = state.sending;
    dom.replySend.disabled = !open || state.sending;
    dom.release.disabled = !open || state.releasing;
    dom.releaseConfirm.disabled = state.releasing;
    if (state.selectedId !== null && isReleased()) {
      dom.replyInput.placeholder = "会话已交还机器人 This conversation was handed back to the bot";
    } else {
      const lang = state.detail && state.detail.language;
      const hint = lang === "en" ? "（客户使用英文 customer writes English）" : lang === "zh" ? "（客户使用中文 customer writes Chinese）" : "";
      dom.replyInput.placeholder = `输入回复… Type a reply… (Ctrl+Enter 发送 send)${hint}`;
    }
    if (!open) hideConfirm();
  }

  async function sendReply() {
    const id = state.selectedId;
    if (id === null || state.sending || !isOpen()) return;
    const text = dom.replyInput.value.trim();
    if (!text) {
      setComposerStatus("请输入回复内容。Type a message first.", "error");
      dom.replyInput.focus();
      return;
    }
    state.sending = true;
    updateComposer();
    setComposerStatus("发送中… Sending…");
    try {
      await api("POST", `/api/handoffs/${encodeURIComponent(id)}/messages`, { text });
      state.drafts.delete(id);
      if (state.selectedId === id) {
        dom.replyInput.value = "";
        setComposerStatus(`已发送 Sent ${clock(new Date())}`, "ok");
      }
      await Promise.all([refreshDetail(), refreshQueue()]);
    } catch (err) {
      if (err.stale || err.status === 401) return;
      if (state.selectedId === id) {
        setComposerStatus(`发送失败 Send failed: ${errorText(err)}`, "error");
      }
    } finally {
      state.sending = false;
      updateComposer();
      if (state.selectedId === id && !dom.replyInput.disabled) dom.replyInput.focus();
    }
  }

  function showConfirm() {
    if (dom.release.disabled) return;
    dom.confirmBox.hidden = false;
    dom.release.hidden = true;
    dom.releaseConfirm.focus();
  }

  function hideConfirm() {
    dom.confirmBox.hidden = true;
    dom.release.hidden = false;
  }

  async function releaseTicket() {
    const id = state.selectedId;
    if (id === null || state.releasing || !isOpen()) return;
    state.releasing = true;
    updateComposer();
    setComposerStatus("交还中… Handing back…");
    try {
      await api("POST", `/api/handoffs/${encodeURIComponent(id)}/release`);
      state.releasedIds.add(id);
      state.drafts.delete(id);
      if (state.selectedId === id) {
        hideConfirm();
        dom.replyInput.value = "";
        setComposerStatus("已交还机器人 Handed back to the bot", "ok");
        renderDetail(Date.now());
      }
      await Promise.all([refreshDetail(), refreshQueue()]);
    } catch (err) {
      if (err.stale || err.status === 401) return;
      if (state.selectedId === id) {
        setComposerStatus(`交还失败 Hand-back failed: ${errorText(err)}`, "error");
      }
    } finally {
      state.releasing = false;
      if (state.selectedId === id) hideConfirm();
      updateComposer();
    }
  }

  // ---------------------------------------------------------------- boot
  function init() {
    Object.assign(dom, {
      loginPanel: $("login-panel"),
      loginForm: $("login-form"),
      tokenInput: $("token-input"),
      loginBtn: $("login"),
      loginError: $("login-error"),
      desk: $("desk"),
      logout: $("logout"),
      updated: document.querySelector('[data-testid="updated"]'),
      connection: document.querySelector('[data-testid="connection"]'),
      queue: $("queue"),
      queueCount: $("queue-count"),
      queueEmpty: $("queue-empty"),
      detailHeader: $("detail-header"),
      detailError: $("detail-error"),
      transcript: $("transcript"),
      replyInput: $("reply-input"),
      replySend: $("reply-send"),
      release: $("release"),
      confirmBox: $("release-confirm-box"),
      releaseConfirm: $("release-confirm"),
      releaseCancel: $("release-cancel"),
      composerStatus: $("composer-status"),
      context: $("context"),
      summary: $("summary"),
      profile: $("profile"),
      knowledge: $("knowledge"),
    });

    dom.loginForm.addEventListener("submit", onLogin);
    dom.logout.addEventListener("click", () => signOut());
    dom.replySend.addEventListener("click", sendReply);
    dom.replyInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.isComposing) {
        e.preventDefault();
        sendReply();
      }
    });
    dom.replyInput.addEventListener("input", () => {
      if (dom.composerStatus.classList.contains("error")) setComposerStatus("");
    });
    dom.release.addEventListener("click", showConfirm);
    dom.releaseCancel.addEventListener("click", () => {
      hideConfirm();
      dom.release.focus();
    });
    dom.releaseConfirm.addEventListener("click", releaseTicket);
    dom.confirmBox.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        hideConfirm();
        dom.release.focus();
      }
    });

    setInterval(tickWaits, 1000);

    let token = null;
    let selected = null;
    try {
      token = sessionStorage.getItem(TOKEN_KEY);
      selected = sessionStorage.getItem(SELECTED_KEY);
    } catch (_) {
      /* storage unavailable */
    }
    if (token) {
      state.token = token;
      if (selected) {
        state.selectedId = selected;
        renderLoading();
      }
      updateComposer();
      enterDesk();
      refreshQueue();
    } else {
      updateComposer();
      showLogin();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
