/* FinAssist agent desk.
 *
 * Plain browser JavaScript, no dependencies. Every piece of API data reaches the page
 * through textContent / createElement only (never innerHTML), so customer text cannot
 * inject markup. The queue, the selected ticket and the open risk alerts are polled
 * every 2 seconds by one self-rescheduling loop that survives network errors; HTTP 401
 * sends the agent back to the login panel. A second tab lists the risk alerts for
 * compliance review (clear as a false alarm, or confirm the risk).
 */
(() => {
  "use strict";

  const POLL_MS = 2000;
  const REQUEST_TIMEOUT_MS = 10000;
  const TOKEN_KEY = "finassist.desk.token";
  const SELECTED_KEY = "finassist.desk.selected";
  const VIEW_KEY = "finassist.desk.view";
  const RISK_FILTER_KEY = "finassist.desk.riskFilter";
  const REVIEWER_KEY = "finassist.desk.reviewer";
  // Reviews need the compliance officer's own token, not the agents' desk token.
  const COMPLIANCE_KEY = "finassist.desk.compliance";
  const RISK_LIST_LIMIT = 200; // rows shown for cleared / confirmed / all
  const RISK_OPEN_LIMIT = 1000; // the API's maximum: open alerts are counted from this
  const REVIEWER_MAX = 64; // as desk/compliance.py checks
  const NOTE_MAX = 1000;

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
  const RISK_CATEGORIES = {
    scam_direction: "诈骗指使 Scam-directed",
    offshore: "违规跨境 Offshore transfer",
    structuring: "拆分规避 Structuring",
    gambling: "涉赌资金 Gambling funds",
    crypto: "虚拟货币 Crypto funds",
    money_mule: "跑分过账 Money mule",
    new_payee_large: "新收款人大额 Large sum to new payee",
  };
  const RISK_SOURCES = { message: "对话消息 Message", transfer: "转账 Transfer" };
  const RISK_ACTIONS = {
    handoff: "转人工 Handed to agent",
    transfer_blocked: "拦截转账 Transfer blocked",
  };
  const RISK_STATUSES = {
    open: "待审核 Open",
    cleared: "已解除 Cleared",
    confirmed: "已确认风险 Confirmed",
  };
  const RISK_FILTERS = ["open", "cleared", "confirmed", "all"];
  const RISK_EMPTY = {
    open: "暂无待审核预警 No open alerts",
    cleared: "暂无已解除预警 No cleared alerts",
    confirmed: "暂无已确认预警 No confirmed alerts",
    all: "暂无预警 No alerts",
  };
  const DECISIONS = {
    cleared: {
      button: "解除 Clear (false alarm)",
      buttonClass: "btn-secondary",
      testid: "clear",
      decision: "解除预警（误报） Clear the alert as a false alarm",
      submit: "确认解除 Clear alert",
      submitClass: "btn-primary",
      doneZh: "已解除",
      doneEn: "cleared",
    },
    confirmed: {
      button: "确认风险 Confirm risk",
      buttonClass: "btn-danger",
      testid: "confirm",
      decision: "确认风险（保持限制） Confirm the risk (restrictions stay)",
      submit: "确认风险 Confirm risk",
      submitClass: "btn-danger",
      doneZh: "已确认风险",
      doneEn: "confirmed as a risk",
    },
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
    view: "queue", // "queue" | "risk"
    riskFilter: "open",
    riskAlerts: [],
    riskSig: null,
    riskSeq: 0,
    riskApplied: 0,
    riskOpenSeq: 0,
    riskOpenApplied: 0,
    riskOpenIds: null, // Set of open alert ids (strings); null when unknown or cut off
    review: null, // { id, decision, key, gone } while the review dialog is open
    reviewing: false,
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

  async function api(method, path, body, extraHeaders) {
    const token = state.token;
    if (!token) throw new ApiError("not signed in", 401, { stale: true });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const headers = {
      ...(extraHeaders || {}),
      Authorization: `Bearer ${token}`,
      Accept: "application/json",
    };
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
      sessionStorage.removeItem(REVIEWER_KEY);
      sessionStorage.removeItem(COMPLIANCE_KEY);
    } catch (_) {
      /* storage unavailable */
    }
    dom.riskReviewer.value = "";
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
    setView(state.view);
    if (state.selectedId !== null) {
      highlightSelection();
      refreshDetail();
    }
    refreshRisk();
    startPolling();
  }

  // ---------------------------------------------------------------- polling
  function startPolling() {
    stopPolling();
    const id = ++state.loopId;
    const loop = async () => {
      if (id !== state.loopId || !state.token) return;
      try {
        const jobs = [refreshQueue(), refreshRisk()];
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
    dom.tabQueueCount.textContent = String(list.length);
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
    dom.tabQueueCount.textContent = "0";
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
    resetRisk();
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

  // ---------------------------------------------------------------- views (tabs)
  function setView(view, focusTab) {
    const next = view === "risk" ? "risk" : "queue";
    const changed = next !== state.view;
    state.view = next;
    try {
      sessionStorage.setItem(VIEW_KEY, next);
    } catch (_) {
      /* ignore */
    }
    for (const tab of [dom.tabQueue, dom.tabRisk]) {
      const on = tab.dataset.view === next;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      tab.classList.toggle("active", on);
      if (on && focusTab) tab.focus();
    }
    dom.queueView.hidden = next !== "queue";
    dom.riskView.hidden = next !== "risk";
    if (changed && next === "risk" && state.token) refreshRiskList();
  }

  // Arrow keys, Home and End move between the tabs (WAI-ARIA tabs pattern).
  function onTabKey(event) {
    const tabs = [dom.tabQueue, dom.tabRisk];
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    let next = null;
    if (event.key === "ArrowRight") next = tabs[(at + 1) % tabs.length];
    else if (event.key === "ArrowLeft") next = tabs[(at - 1 + tabs.length) % tabs.length];
    else if (event.key === "Home") next = tabs[0];
    else if (event.key === "End") next = tabs[tabs.length - 1];
    if (!next) return;
    event.preventDefault();
    setView(next.dataset.view, true);
  }

  // ---------------------------------------------------------------- risk alerts
  function cls(value) {
    return String(value).replace(/[^a-z0-9_-]/gi, "");
  }

  function fmtScore(score) {
    const n = Number(score);
    if (score === null || score === undefined || score === "" || !Number.isFinite(n)) return "—";
    return n.toFixed(2);
  }

  function ruleText(a) {
    if (!a.rule_id) return "—";
    const version = a.rule_version !== null && a.rule_version !== undefined ? a.rule_version : "?";
    return `${a.rule_id}@${version}`;
  }

  function riskStatusBadge(status) {
    const b = el("span", "badge badge-status", label(RISK_STATUSES, status));
    if (status) b.classList.add(`rs-${cls(status)}`);
    return b;
  }

  function timeNode(iso, className) {
    const node = el("time", className, fmtMsgTime(iso) || "—");
    if (iso) {
      node.dateTime = String(iso);
      node.title = String(iso);
    }
    return node;
  }

  async function fetchAlerts(status, limit) {
    const query = new URLSearchParams();
    if (status !== "all") query.set("status", status);
    query.set("limit", String(limit));
    const data = await api("GET", `/api/risk-alerts?${query.toString()}`);
    const list = data && Array.isArray(data.alerts) ? data.alerts : [];
    return list.filter((a) => a && typeof a === "object");
  }

  // Called by the poll loop: the open-alert badge always, the list while its tab shows.
  function refreshRisk(manual) {
    if (!state.token) return Promise.resolve();
    if (state.view !== "risk") return refreshRiskOpen(false, manual);
    if (state.riskFilter === "open") return refreshRiskOpen(true, manual);
    return Promise.all([refreshRiskOpen(false, manual), refreshRiskList(manual)]);
  }

  // The open alerts feed the tab's badge, and the list itself while the filter is "open".
  async function refreshRiskOpen(withList, manual) {
    const seq = ++state.riskOpenSeq;
    const listSeq = withList ? ++state.riskSeq : 0;
    try {
      const alerts = await fetchAlerts("open", RISK_OPEN_LIMIT);
      if (seq >= state.riskOpenApplied) {
        state.riskOpenApplied = seq;
        applyOpenAlerts(alerts);
      }
      if (withList && state.riskFilter === "open" && listSeq >= state.riskApplied) {
        state.riskApplied = listSeq;
        renderRisk(alerts, "open");
      }
    } catch (err) {
      riskFailed(err, withList && state.riskFilter === "open", manual);
    }
  }

  async function refreshRiskList(manual) {
    const filter = state.riskFilter;
    if (filter === "open") return refreshRiskOpen(true, manual);
    const seq = ++state.riskSeq;
    try {
      const alerts = await fetchAlerts(filter, RISK_LIST_LIMIT);
      if (filter !== state.riskFilter || seq < state.riskApplied) return undefined;
      state.riskApplied = seq;
      renderRisk(alerts, filter);
    } catch (err) {
      if (filter === state.riskFilter) riskFailed(err, true, manual);
    }
    return undefined;
  }

  function riskFailed(err, forList, manual) {
    if (err.stale || err.status === 401) return;
    // Network trouble during polling: the queue's poll already shows the top-bar indicator.
    if (!err.status && !manual) return;
    const text = errorText(err);
    if (forList) {
      showRiskError(`无法加载风险预警 Could not load risk alerts: ${text}`);
    } else {
      dom.riskOpenCount.title = `无法统计待审核预警 Could not count open alerts: ${text}`;
    }
  }

  function showRiskError(message) {
    dom.riskError.textContent = message;
    dom.riskError.hidden = false;
  }

  function setRiskStatus(text, kind) {
    dom.riskStatus.textContent = text || "";
    dom.riskStatus.classList.toggle("error", kind === "error");
    dom.riskStatus.classList.toggle("ok", kind === "ok");
  }

  function applyOpenAlerts(alerts) {
    const n = alerts.length;
    const cut = n >= RISK_OPEN_LIMIT;
    state.riskOpenIds = cut ? null : new Set(alerts.map((a) => String(a.id)));
    dom.riskOpenCount.textContent = cut ? `${n}+` : String(n);
    dom.riskOpenCount.title = "待审核预警 Open alerts";
    dom.riskOpenCount.classList.toggle("has-open", n > 0);
    // Someone else reviewed the alert that is open in the review dialog.
    const review = state.review;
    if (review && !state.reviewing && state.riskOpenIds && !state.riskOpenIds.has(review.id)) {
      review.gone = true;
      showReviewError(
        "此预警已被审核，不再是待审核状态。This alert has already been reviewed and is no longer open."
      );
      syncReviewing();
    }
  }

  function renderRisk(alerts, filter) {
    dom.riskError.hidden = true;
    state.riskAlerts = alerts;
    const limit = filter === "open" ? RISK_OPEN_LIMIT : RISK_LIST_LIMIT;
    const cut = alerts.length >= limit;
    dom.riskCount.textContent = cut ? `${alerts.length}+` : String(alerts.length);
    dom.riskCount.title = cut
      ? `仅显示最近 ${alerts.length} 条 Showing the latest ${alerts.length}`
      : "列表条数 Alerts listed";
    dom.riskEmpty.textContent = RISK_EMPTY[filter] || RISK_EMPTY.all;
    dom.riskEmpty.hidden = alerts.length > 0;
    dom.riskTable.hidden = alerts.length === 0;
    const sig = JSON.stringify([filter, alerts]);
    if (sig === state.riskSig) return;
    state.riskSig = sig;
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.reviewKey
      : undefined;
    dom.riskRows.replaceChildren(...alerts.map(renderAlertRow));
    syncReviewing();
    if (focused !== undefined) {
      const again = dom.riskRows.querySelector(`[data-review-key="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  function renderAlertRow(a) {
    const id = String(a.id);
    const tr = el("tr", "risk-row");
    if (a.status) tr.classList.add(`r-${cls(a.status)}`);
    tr.dataset.alertId = id;
    tr.setAttribute("data-testid", `risk-alert-${id}`);

    const when = el("td", "nowrap");
    when.append(timeNode(a.created_at), el("span", "cell-sub mono", `#${id}`));

    const category = el("td");
    const badge = el("span", "badge badge-risk", label(RISK_CATEGORIES, a.category));
    if (a.category) {
      badge.classList.add(`c-${cls(a.category)}`);
      badge.title = String(a.category);
    }
    category.appendChild(badge);

    const rule = el("td", "mono nowrap", ruleText(a));
    if (a.ruleset) rule.title = `规则集 Ruleset ${a.ruleset}`;

    const score = el("td", "num", fmtScore(a.score));
    if (Number(a.score) >= 0.85) score.classList.add("score-high");

    const source = el("td", "nowrap", label(RISK_SOURCES, a.source));

    const amount = el("td", "num nowrap", a.amount_text || "—");
    if (a.amount) amount.title = String(a.amount);

    const action = el("td", null, label(RISK_ACTIONS, a.action_taken));

    const excerpt = el("td", "excerpt-cell");
    excerpt.appendChild(el("div", "excerpt", a.excerpt || "—"));

    const customer = a.customer_id
      ? el("td", "mono", a.customer_id)
      : el("td", "muted", "访客 Guest");

    const convo = el("td");
    convo.appendChild(el("span", "mono conv-id", a.conversation_id || "—"));
    const where = [];
    if (a.channel) where.push(label(CHANNELS, a.channel));
    if (a.language) where.push(label(LANGUAGES, a.language));
    if (where.length) convo.appendChild(el("span", "cell-sub", where.join(" · ")));

    const status = el("td");
    status.appendChild(riskStatusBadge(a.status));
    if (a.reviewer) status.appendChild(el("span", "cell-sub", `审核人 Reviewer: ${a.reviewer}`));
    if (a.reviewed_at) status.appendChild(timeNode(a.reviewed_at, "cell-sub"));
    if (a.review_note) status.appendChild(el("span", "review-note", a.review_note));

    const actions = el("td", "risk-actions");
    if (a.status === "open") {
      actions.append(reviewButton(a, "cleared"), reviewButton(a, "confirmed"));
    } else {
      actions.appendChild(el("span", "muted", "—"));
    }

    tr.append(when, category, rule, score, source, amount, action, excerpt, customer, convo, status, actions);
    return tr;
  }

  function reviewButton(a, decision) {
    const d = DECISIONS[decision];
    const id = String(a.id);
    const b = el("button", `btn btn-sm ${d.buttonClass}`, d.button);
    b.type = "button";
    b.dataset.reviewKey = `${id}:${decision}`;
    b.setAttribute("data-testid", `risk-${d.testid}-${id}`);
    b.setAttribute("aria-label", `${d.button} #${id}`);
    b.disabled = state.reviewing;
    b.addEventListener("click", () => openReview(a, decision));
    return b;
  }

  function onRiskFilter() {
    const value = RISK_FILTERS.includes(dom.riskFilter.value) ? dom.riskFilter.value : "open";
    dom.riskFilter.value = value;
    state.riskFilter = value;
    try {
      sessionStorage.setItem(RISK_FILTER_KEY, value);
    } catch (_) {
      /* ignore */
    }
    showRiskLoading();
    refreshRiskList(true);
  }

  function showRiskLoading() {
    state.riskSig = null;
    state.riskAlerts = [];
    dom.riskRows.replaceChildren();
    dom.riskTable.hidden = true;
    dom.riskError.hidden = true;
    dom.riskCount.textContent = "0";
    dom.riskEmpty.textContent = "加载中… Loading…";
    dom.riskEmpty.hidden = false;
  }

  function resetRisk() {
    closeReview(true);
    state.reviewing = false;
    state.riskOpenIds = null;
    showRiskLoading();
    dom.riskOpenCount.textContent = "0";
    dom.riskOpenCount.title = "待审核预警 Open alerts";
    dom.riskOpenCount.classList.remove("has-open");
    setRiskStatus("");
  }

  function rememberReviewer(name) {
    const value = String(name || "").trim().slice(0, REVIEWER_MAX);
    dom.riskReviewer.value = value;
    try {
      if (value) sessionStorage.setItem(REVIEWER_KEY, value);
      else sessionStorage.removeItem(REVIEWER_KEY);
    } catch (_) {
      /* storage unavailable: the name stays in the input only */
    }
  }

  // ---------------------------------------------------------------- review dialog
  function openReview(alert, decision) {
    const d = DECISIONS[decision];
    if (!d || state.reviewing) return;
    const id = String(alert.id);
    state.review = { id, decision, key: `${id}:${decision}`, gone: false };
    dom.reviewTitle.textContent = `审核预警 #${id} Review alert #${id}`;

    const dl = el("dl", "kv");
    const row = (k, v) => dl.append(el("dt", null, k), el("dd", null, v));
    row("类别 Category", label(RISK_CATEGORIES, alert.category));
    row("规则 Rule", ruleText(alert));
    row("分数 Score", fmtScore(alert.score));
    if (alert.amount_text) row("金额 Amount", alert.amount_text);
    row("处置 Action", label(RISK_ACTIONS, alert.action_taken));
    row("客户 Customer", alert.customer_id || "访客 Guest");
    row("会话 Conversation", alert.conversation_id || "—");
    row("摘录 Excerpt", alert.excerpt || "—");
    dom.reviewAlert.replaceChildren(dl);

    dom.reviewDecision.textContent = `结论 Decision: ${d.decision}`;
    dom.reviewDecision.className = `review-decision d-${decision}`;
    dom.reviewSubmit.textContent = d.submit;
    dom.reviewSubmit.className = `btn ${d.submitClass}`;
    dom.reviewReviewer.value = dom.riskReviewer.value.trim();
    try {
      dom.reviewToken.value = sessionStorage.getItem(COMPLIANCE_KEY) || "";
    } catch (_) {
      dom.reviewToken.value = "";
    }
    dom.reviewNote.value = "";
    hideReviewError();
    syncReviewing();

    const dialog = dom.reviewDialog;
    if (!dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
    }
    (dom.reviewReviewer.value ? dom.reviewNote : dom.reviewReviewer).focus();
  }

  // force: close even while a review is being sent (sign-out); no focus is restored then.
  function closeReview(force) {
    if (state.reviewing && !force) return;
    const review = state.review;
    state.review = null;
    const dialog = dom.reviewDialog;
    if (dialog.open) {
      if (typeof dialog.close === "function") dialog.close();
      else dialog.removeAttribute("open");
    }
    if (review && !force) {
      const again = dom.riskRows.querySelector(`[data-review-key="${CSS.escape(review.key)}"]`);
      if (again && !again.disabled) again.focus();
      else dom.riskTitle.focus();
    }
  }

  function showReviewError(message) {
    dom.reviewError.textContent = message;
    dom.reviewError.hidden = false;
  }

  function hideReviewError() {
    dom.reviewError.textContent = "";
    dom.reviewError.hidden = true;
  }

  function syncReviewing() {
    const busy = state.reviewing;
    dom.reviewSubmit.disabled = busy || Boolean(state.review && state.review.gone);
    dom.reviewCancel.disabled = busy;
    dom.reviewReviewer.readOnly = busy;
    dom.reviewNote.readOnly = busy;
    dom.reviewToken.readOnly = busy;
    for (const b of dom.riskRows.querySelectorAll("[data-review-key]")) b.disabled = busy;
  }

  async function submitReview(event) {
    event.preventDefault();
    const review = state.review;
    if (!review || state.reviewing) return;
    const d = DECISIONS[review.decision];
    const reviewer = dom.reviewReviewer.value.trim();
    const note = dom.reviewNote.value.trim();
    const complianceToken = dom.reviewToken.value.trim();
    if (!reviewer) {
      showReviewError("请填写审核人姓名。Please enter the reviewer's name.");
      dom.reviewReviewer.focus();
      return;
    }
    if (reviewer.length > REVIEWER_MAX) {
      showReviewError(`审核人姓名最多 ${REVIEWER_MAX} 个字符。The reviewer's name is at most ${REVIEWER_MAX} characters.`);
      dom.reviewReviewer.focus();
      return;
    }
    if (!complianceToken) {
      showReviewError("请填写合规令牌。Please enter the compliance token.");
      dom.reviewToken.focus();
      return;
    }
    if (note.length > NOTE_MAX) {
      showReviewError(`备注最多 ${NOTE_MAX} 个字符。The note is at most ${NOTE_MAX} characters.`);
      dom.reviewNote.focus();
      return;
    }
    if (state.riskOpenIds && !state.riskOpenIds.has(review.id)) {
      review.gone = true;
      showReviewError(
        "此预警已被审核，不再是待审核状态。This alert has already been reviewed and is no longer open."
      );
      syncReviewing();
      return;
    }

    state.reviewing = true;
    syncReviewing();
    hideReviewError();
    dom.reviewSubmit.textContent = "提交中… Submitting…";
    let done = false;
    try {
      await api(
        "POST",
        `/api/risk-alerts/${encodeURIComponent(review.id)}/review`,
        { status: review.decision, reviewer, note },
        { "X-Compliance-Token": complianceToken }
      );
      done = true;
      try {
        sessionStorage.setItem(COMPLIANCE_KEY, complianceToken);
      } catch (_) {
        /* private mode: the officer types it again next time */
      }
    } catch (err) {
      if (!err.stale && err.status !== 401 && state.review === review) {
        showReviewError(`提交失败 Review failed: ${errorText(err)}`);
      }
    } finally {
      state.reviewing = false;
      syncReviewing();
      if (state.review === review) dom.reviewSubmit.textContent = d.submit;
    }
    if (!done || !state.token) return;

    rememberReviewer(reviewer);
    if (state.review === review) {
      state.review = null; // closed without handing focus back to a button that is going away
      closeReview();
    }
    setRiskStatus(
      `预警 #${review.id} ${d.doneZh}，审核人 ${reviewer}。Alert #${review.id} ${d.doneEn} by ${reviewer}.`,
      "ok"
    );
    dom.riskTitle.focus();
    await refreshRisk();
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
      viewTabs: $("view-tabs"),
      tabQueue: $("tab-queue"),
      tabRisk: $("tab-risk"),
      tabQueueCount: $("tab-queue-count"),
      queueView: $("queue-view"),
      riskView: $("risk-view"),
      riskOpenCount: $("risk-open-count"),
      riskTitle: $("risk-title"),
      riskCount: $("risk-count"),
      riskFilter: $("risk-filter"),
      riskReviewer: $("risk-reviewer"),
      riskRefresh: $("risk-refresh"),
      riskStatus: $("risk-status"),
      riskError: $("risk-error"),
      riskEmpty: $("risk-empty"),
      riskTable: $("risk-table"),
      riskRows: $("risk-rows"),
      reviewDialog: $("review-dialog"),
      reviewForm: $("review-form"),
      reviewTitle: $("review-title"),
      reviewAlert: $("review-alert"),
      reviewDecision: $("review-decision"),
      reviewReviewer: $("review-reviewer"),
      reviewNote: $("review-note"),
      reviewToken: $("review-token"),
      reviewError: $("review-error"),
      reviewCancel: $("review-cancel"),
      reviewSubmit: $("review-submit"),
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

    dom.tabQueue.addEventListener("click", () => setView("queue"));
    dom.tabRisk.addEventListener("click", () => setView("risk"));
    dom.viewTabs.addEventListener("keydown", onTabKey);
    dom.riskFilter.addEventListener("change", onRiskFilter);
    dom.riskReviewer.addEventListener("change", () => rememberReviewer(dom.riskReviewer.value));
    dom.riskRefresh.addEventListener("click", () => {
      setRiskStatus("");
      refreshRisk(true);
    });
    dom.reviewForm.addEventListener("submit", submitReview);
    dom.reviewCancel.addEventListener("click", () => closeReview());
    dom.reviewDialog.addEventListener("cancel", (e) => {
      e.preventDefault(); // Escape: closes unless a review is being sent
      closeReview();
    });
    dom.reviewDialog.addEventListener("close", () => {
      if (!dom.reviewDialog.open) state.review = null;
    });

    setInterval(tickWaits, 1000);

    let token = null;
    let selected = null;
    let view = null;
    let riskFilter = null;
    let reviewer = null;
    try {
      token = sessionStorage.getItem(TOKEN_KEY);
      selected = sessionStorage.getItem(SELECTED_KEY);
      view = sessionStorage.getItem(VIEW_KEY);
      riskFilter = sessionStorage.getItem(RISK_FILTER_KEY);
      reviewer = sessionStorage.getItem(REVIEWER_KEY);
    } catch (_) {
      /* storage unavailable */
    }
    state.view = view === "risk" ? "risk" : "queue";
    state.riskFilter = RISK_FILTERS.includes(riskFilter) ? riskFilter : "open";
    dom.riskFilter.value = state.riskFilter;
    dom.riskReviewer.value = reviewer ? reviewer.slice(0, REVIEWER_MAX) : "";
    showRiskLoading();
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
