/* FinAssist customer web chat.
 *
 * Plain browser JavaScript; the only dependency is socket.io-client 4.x, served by the
 * web chat server from webchat/node_modules (no CDN). Everything that comes from the
 * network (bot and agent text, names, button titles, URLs) reaches the page through
 * textContent / createElement only, never as markup.
 *
 * Talks to Rasa's socket.io channel: `session_request` / `session_confirm` once per
 * connection (the session id lives in sessionStorage, so a reload continues the same
 * conversation), `user_uttered` with the login token in `metadata.auth_token` on every
 * message, and `bot_uttered` for bot text, quick replies, attachments and the markers
 * the server adds (`kind`: agent, agent_left, rating_request). The acknowledgement of
 * `user_uttered` arrives once Rasa has processed the message: it drives the delivery
 * state and the typing indicator.
 */
(() => {
  "use strict";

  // ---------------------------------------------------------------- constants
  const LANG_KEY = "finassist.chat.lang"; // localStorage: the UI language
  const SESSION_KEY = "finassist.chat.session"; // sessionStorage: conversation id
  const AUTH_KEY = "finassist.chat.auth"; // sessionStorage: demo login
  const TRANSCRIPT_KEY = "finassist.chat.transcript"; // sessionStorage: this tab's messages
  const RATED_KEY = "finassist.chat.rated"; // sessionStorage: conversation already rated
  const ACK_TIMEOUT_MS = 20000; // no acknowledgement by then: the message failed
  const CONNECT_WAIT_MS = 10000; // a message waits this long for a (re)connection
  const TYPING_GRACE_MS = 1000; // typing stays this long after an ack without reply
  const TYPING_AGAIN_MS = 350; // bot still working after a reply: typing comes back
  const BURST_MS = 800; // bot messages closer than this belong to one utterance
  const REQUEST_TIMEOUT_MS = 10000;
  const CONFIG_RETRY_MS = 5000;
  const TOKEN_MARGIN_MS = 30000; // drop the token a little before it really expires
  const TRANSCRIPT_MAX = 200;
  const TEXT_MAX = 5000; // longest bot text shown
  const NAME_MAX = 40;
  const QUICK_REPLIES_MAX = 12;
  const URL_MAX = 2048;
  const DEFAULT_MAX_CHARS = 1000;
  const SESSION_ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
  // What a transcript entry keeps in sessionStorage (never DOM nodes or timers).
  const SAVED_FIELDS = [
    "kind", "text", "display", "time", "state", "agent", "quickReplies", "attachment",
    "cards", "answered", "key", "params",
  ];

  // ---------------------------------------------------------------- labels
  const STRINGS = {
    zh: {
      htmlLang: "zh-CN",
      title: "在线客服 · FinAssist",
      skip: "跳到输入框",
      brandSub: "在线客服",
      signedInAs: "已登录",
      demoTag: "演示",
      logout: "退出登录",
      langSwitchLabel: "切换到英文 Switch to English",
      "conn.connecting": "正在连接…",
      "conn.connected": "已连接",
      "conn.reconnecting": "连接中断，正在重连…",
      "conn.disconnected": "未连接",
      "conn.unavailable": "服务暂不可用，正在重试…",
      "conn.noClient": "聊天组件未安装",
      "account.title": "演示登录",
      "account.demoNote":
        "这是演示用的身份提供方：选择一位模拟客户即可登录，无需密码，不是真实的银行登录。",
      "account.loading": "正在加载演示客户…",
      "account.stateAnon": "未登录",
      "account.stateIn": "已登录",
      "account.off": "此环境未开放演示登录，您仍可匿名咨询。",
      "account.loadFailed": "无法加载演示客户，请稍后刷新页面。",
      "account.signedInNote": "您已使用演示身份登录，可以查询余额、交易和办理转账。",
      "account.anonNote": "未登录也可以咨询利率、费用、网点等一般问题；查询本人账户需要登录。",
      "account.loginAs": "登录",
      "account.loginAsLabel": "以 {name} 的身份登录（演示）",
      "account.loggingIn": "登录中…",
      "account.loginFailed": "登录失败：{error}",
      "account.expired": "登录已过期，请重新登录。",
      "lang.zh": "中文",
      "lang.en": "英文",
      chatTitle: "智能客服",
      endChat: "结束对话",
      messagesLabel: "对话记录",
      "welcome.title": "您好，我是 FinAssist 智能客服",
      "welcome.body": "可以问我余额、转账、挂失、房贷利率等问题，中文或英文都可以。",
      "welcome.s1": "帮我查一下余额",
      "welcome.s2": "房贷利率多少？",
      "welcome.s3": "我的卡丢了",
      "welcome.safety": "请勿在对话中发送密码、验证码或完整卡号。",
      typing: "正在输入…",
      inputLabel: "输入消息",
      placeholder: "请输入您的问题…",
      send: "发送",
      hint: "Enter 发送，Shift+Enter 换行",
      tooLong: "消息太长了：最多 {max} 个字，请分几条发送。",
      notConnected: "暂未连接到客服，请稍后点击“重试”。",
      "who.you": "您",
      "who.bot": "智能客服",
      "who.agent": "人工客服 {name}",
      "delivery.sending": "发送中…",
      "delivery.sent": "已发送 ✓",
      "delivery.delivered": "已送达 ✓✓",
      "delivery.failed": "发送失败",
      retry: "重试",
      retryLabel: "重新发送这条消息",
      "agent.joined": "人工客服 {name} 已接入",
      "agent.left": "人工客服已离开，智能客服继续为您服务",
      "note.loggedIn": "已以 {name} 的身份登录（演示）",
      "note.loggedOut": "已退出登录，已开始新的对话。",
      "note.newChat": "已开始新的对话。",
      "note.expired": "登录已过期，之后的消息将以未登录身份发送。",
      "attach.open": "打开附件",
      "attach.image": "图片",
      "attach.newWindow": "（在新窗口打开）",
      "rating.title": "请为本次服务评分",
      "rating.s1": "非常不满意",
      "rating.s2": "不满意",
      "rating.s3": "一般",
      "rating.s4": "满意",
      "rating.s5": "非常满意",
      "rating.comment": "意见或建议（可选）",
      "rating.cancel": "以后再说",
      "rating.submit": "提交评价",
      "rating.submitting": "提交中…",
      "rating.pick": "请先选择 1–5 分。",
      "rating.noConversation": "对话尚未开始，暂时无法评价。",
      "rating.failed": "提交失败：{error}",
      "rating.thanks": "感谢您的评价！",
      "rating.thanksBody": "您的意见会帮助我们改进服务。",
      newChat: "开始新对话",
      "error.network": "网络错误，请稍后重试",
      "error.timeout": "请求超时",
      "error.http": "服务器返回 {status}",
    },
    en: {
      htmlLang: "en",
      title: "Online service · FinAssist",
      skip: "Skip to the message box",
      brandSub: "Online service",
      signedInAs: "Signed in as",
      demoTag: "demo",
      logout: "Log out",
      langSwitchLabel: "Switch to Chinese 切换到中文",
      "conn.connecting": "Connecting…",
      "conn.connected": "Connected",
      "conn.reconnecting": "Connection lost, reconnecting…",
      "conn.disconnected": "Not connected",
      "conn.unavailable": "Service unavailable, retrying…",
      "conn.noClient": "Chat client is not installed",
      "account.title": "Demo sign-in",
      "account.demoNote":
        "This is a demo identity provider: pick a sample customer to sign in without a " +
        "password. It is not a real bank login.",
      "account.loading": "Loading demo customers…",
      "account.stateAnon": "not signed in",
      "account.stateIn": "signed in",
      "account.off": "Demo sign-in is not available here; you can still chat anonymously.",
      "account.loadFailed": "Could not load the demo customers; please reload the page later.",
      "account.signedInNote":
        "You are signed in with a demo identity: you can ask about balances and " +
        "transactions and make transfers.",
      "account.anonNote":
        "Without signing in you can still ask about rates, fees and branches; your own " +
        "accounts need a sign-in.",
      "account.loginAs": "Log in",
      "account.loginAsLabel": "Log in as {name} (demo)",
      "account.loggingIn": "Signing in…",
      "account.loginFailed": "Sign-in failed: {error}",
      "account.expired": "Your sign-in has expired; please sign in again.",
      "lang.zh": "Chinese",
      "lang.en": "English",
      chatTitle: "Virtual assistant",
      endChat: "End chat",
      messagesLabel: "Conversation",
      "welcome.title": "Hello, I'm the FinAssist assistant",
      "welcome.body":
        "Ask me about balances, transfers, lost cards, mortgage rates and more, in " +
        "English or Chinese.",
      "welcome.s1": "What's my balance?",
      "welcome.s2": "What are your mortgage rates?",
      "welcome.s3": "I lost my card",
      "welcome.safety": "Never send passwords, one-time codes or full card numbers in the chat.",
      typing: "typing…",
      inputLabel: "Type a message",
      placeholder: "Type your question…",
      send: "Send",
      hint: "Enter to send, Shift+Enter for a new line",
      tooLong: "That message is too long: at most {max} characters, please send it in parts.",
      notConnected: "Not connected to the service yet; press “Retry” in a moment.",
      "who.you": "You",
      "who.bot": "Assistant",
      "who.agent": "Agent {name}",
      "delivery.sending": "sending…",
      "delivery.sent": "sent ✓",
      "delivery.delivered": "delivered ✓✓",
      "delivery.failed": "not sent",
      retry: "Retry",
      retryLabel: "Send this message again",
      "agent.joined": "Agent {name} has joined",
      "agent.left": "The agent has left; the assistant is back",
      "note.loggedIn": "Signed in as {name} (demo)",
      "note.loggedOut": "Signed out; a new conversation has started.",
      "note.newChat": "A new conversation has started.",
      "note.expired": "Your sign-in has expired; further messages are sent without it.",
      "attach.open": "Open attachment",
      "attach.image": "Image",
      "attach.newWindow": " (opens in a new window)",
      "rating.title": "How was our service?",
      "rating.s1": "Very poor",
      "rating.s2": "Poor",
      "rating.s3": "Fair",
      "rating.s4": "Good",
      "rating.s5": "Excellent",
      "rating.comment": "Comments (optional)",
      "rating.cancel": "Not now",
      "rating.submit": "Submit rating",
      "rating.submitting": "Submitting…",
      "rating.pick": "Please choose a score from 1 to 5.",
      "rating.noConversation": "The conversation has not started yet, so it cannot be rated.",
      "rating.failed": "Could not submit: {error}",
      "rating.thanks": "Thank you for your feedback!",
      "rating.thanksBody": "It helps us improve our service.",
      newChat: "Start a new chat",
      "error.network": "network error, please try again",
      "error.timeout": "the request timed out",
      "error.http": "the server answered {status}",
    },
  };

  // ---------------------------------------------------------------- state
  const state = {
    lang: "zh",
    config: null,
    maxChars: DEFAULT_MAX_CHARS,
    socket: null,
    ready: false, // connected and the session confirmed
    connState: "connecting",
    sessionId: null,
    auth: null, // {token, customer: {id, name_zh, name_en, language}, expiresAt}
    authTimer: null,
    customers: [],
    messages: [], // transcript entries (see record())
    nextLocalId: 1,
    pending: new Map(), // localId -> user message awaiting its ack
    burst: [], // bot messages of the current utterance (for the agent marker)
    lastBotAt: 0,
    typingHideTimer: null,
    typingShowTimer: null,
    agent: null, // name of the agent who joined, while one is connected
    bannerTimer: null,
    ratingScore: 0,
    ratingBusy: false,
  };

  const dom = {};

  // ---------------------------------------------------------------- helpers
  function byId(id) {
    return document.getElementById(id);
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function t(key, params) {
    const table = STRINGS[state.lang] || STRINGS.zh;
    let text = key in table ? table[key] : STRINGS.zh[key];
    if (text === undefined) return key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, (m, name) =>
        name in params ? String(params[name]) : m
      );
    }
    return text;
  }

  // A node whose text follows the UI language: re-rendered by applyLanguage().
  function label(node, key, params) {
    node.dataset.i18n = key;
    if (params) node.dataset.i18nArgs = JSON.stringify(params);
    else delete node.dataset.i18nArgs;
    node.textContent = t(key, params);
    return node;
  }

  function readStore(storage, key) {
    try {
      const raw = storage.getItem(key);
      return raw === null ? null : JSON.parse(raw);
    } catch (_) {
      return null; // storage unavailable or garbage: start afresh
    }
  }

  // The conversation id is kept as a plain string (easy to read in dev tools and tests).
  function readSessionId() {
    try {
      const raw = sessionStorage.getItem(SESSION_KEY);
      return raw && SESSION_ID_RE.test(raw) ? raw : null;
    } catch (_) {
      return null;
    }
  }

  function writeSessionId(id) {
    try {
      if (id) sessionStorage.setItem(SESSION_KEY, id);
      else sessionStorage.removeItem(SESSION_KEY);
    } catch (_) {
      /* storage unavailable: a reload starts a new conversation */
    }
  }

  function writeStore(storage, key, value) {
    try {
      if (value === null || value === undefined) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(value));
    } catch (_) {
      /* storage unavailable or full: the page still works for this load */
    }
  }

  function cleanText(value, max) {
    if (typeof value !== "string") return "";
    return value.length > max ? `${value.slice(0, max)}…` : value;
  }

  // Python's len() counts code points; so does the server's length limit.
  function charCount(text) {
    let n = 0;
    for (const _ of text) n += 1;
    return n;
  }

  function clock(date) {
    const hh = String(date.getHours()).padStart(2, "0");
    const mm = String(date.getMinutes()).padStart(2, "0");
    return `${hh}:${mm}`;
  }

  function isLoopback(host) {
    return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
  }

  // Only https links (or http to this page's own host / loopback during development).
  function safeUrl(raw) {
    if (typeof raw !== "string" || !raw || raw.length > URL_MAX) return null;
    let url;
    try {
      url = new URL(raw, window.location.href);
    } catch (_) {
      return null;
    }
    if (url.username || url.password) return null;
    if (url.protocol === "https:") return url;
    if (
      url.protocol === "http:" &&
      (url.origin === window.location.origin || isLoopback(url.hostname))
    ) {
      return url;
    }
    return null;
  }

  function isNarrow() {
    return Boolean(window.matchMedia && window.matchMedia("(max-width: 720px)").matches);
  }

  function customerName(customer) {
    if (!customer) return "";
    const zh = cleanText(customer.name_zh, NAME_MAX);
    const en = cleanText(customer.name_en, NAME_MAX);
    const primary = state.lang === "zh" ? zh || en : en || zh;
    return primary || cleanText(customer.id, NAME_MAX);
  }

  async function api(method, path, body, token) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
    } catch (err) {
      const error = new Error(err && err.name === "AbortError" ? "timeout" : "network");
      error.kind = err && err.name === "AbortError" ? "timeout" : "network";
      throw error;
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error(`HTTP ${response.status}`);
      error.kind = "http";
      error.status = response.status;
      error.detail = data && typeof data.error === "string" ? data.error : "";
      throw error;
    }
    return data;
  }

  function errorText(err) {
    if (!err) return t("error.network");
    if (err.kind === "timeout") return t("error.timeout");
    if (err.kind === "http") {
      const base = t("error.http", { status: err.status });
      return err.detail ? `${base} (${cleanText(err.detail, 200)})` : base;
    }
    return t("error.network");
  }

  // ---------------------------------------------------------------- language
  function initialLanguage() {
    let stored = null;
    try {
      stored = localStorage.getItem(LANG_KEY);
    } catch (_) {
      stored = null;
    }
    if (stored === "zh" || stored === "en") return stored;
    const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "";
    return /^zh\b/i.test(nav) ? "zh" : "en";
  }

  function applyLanguage() {
    document.documentElement.lang = t("htmlLang");
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      let params;
      if (node.dataset.i18nArgs) {
        try {
          params = JSON.parse(node.dataset.i18nArgs);
        } catch (_) {
          params = undefined;
        }
      }
      node.textContent = t(node.dataset.i18n, params);
    }
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    }
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    }
    for (const opt of dom.langSwitch.querySelectorAll(".lang-opt")) {
      opt.classList.toggle("active", opt.dataset.lang === state.lang);
    }
    dom.langSwitch.dataset.lang = state.lang;
    renderWho();
    renderCustomers();
    updateCounter();
  }

  function switchLanguage() {
    state.lang = state.lang === "zh" ? "en" : "zh";
    try {
      localStorage.setItem(LANG_KEY, state.lang);
    } catch (_) {
      /* not remembered: still switched for this page */
    }
    applyLanguage();
  }

  // ---------------------------------------------------------------- connection
  function setConnection(kind) {
    state.connState = kind;
    dom.connection.dataset.state = kind;
    label(dom.connection, `conn.${kind}`);
  }

  async function loadConfig() {
    try {
      const data = await api("GET", "/api/config");
      if (!data || typeof data !== "object") throw new Error("bad config");
      const max = Number(data.max_message_chars);
      state.config = {
        rasaUrl: typeof data.rasa_url === "string" ? data.rasa_url : "",
        socketPath:
          typeof data.socket_path === "string" && data.socket_path.startsWith("/")
            ? data.socket_path
            : "/socket.io",
        demoLogin: data.demo_login === true,
      };
      state.maxChars = Number.isInteger(max) && max > 0 ? max : DEFAULT_MAX_CHARS;
      updateCounter();
      return true;
    } catch (err) {
      console.error("webchat: could not load /api/config", err);
      setConnection("unavailable");
      setTimeout(start, CONFIG_RETRY_MS);
      return false;
    }
  }

  async function start() {
    if (!(await loadConfig())) return;
    if (state.config.demoLogin) loadCustomers();
    else showLoginOff();
    connect();
  }

  function connect() {
    if (typeof window.io !== "function") {
      setConnection("noClient");
      return;
    }
    if (state.socket) return;
    setConnection("connecting");
    const socket = window.io(state.config.rasaUrl || undefined, {
      path: state.config.socketPath,
      transports: ["websocket", "polling"],
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000,
    });
    state.socket = socket;

    socket.on("connect", () => {
      state.ready = false;
      socket.emit("session_request", { session_id: state.sessionId || null });
    });
    socket.on("session_confirm", (id) => onSessionConfirm(id));
    socket.on("bot_uttered", (data) => onBotUttered(data));
    socket.on("disconnect", (reason) => {
      state.ready = false;
      failPending();
      setConnection(reason === "io client disconnect" ? "disconnected" : "reconnecting");
    });
    socket.on("connect_error", () => {
      state.ready = false;
      setConnection(socket.active ? "reconnecting" : "disconnected");
    });
    socket.io.on("reconnect_attempt", () => setConnection("reconnecting"));
  }

  function onSessionConfirm(raw) {
    // Rasa echoes the id it was asked for, or makes a new one when asked with null.
    const id = typeof raw === "string" ? raw : raw && raw.session_id;
    if (typeof id !== "string" || !SESSION_ID_RE.test(id)) {
      console.error("webchat: unexpected session_confirm", raw);
      return;
    }
    if (state.sessionId && id !== state.sessionId) {
      // A different conversation: what is on screen no longer belongs to it.
      clearConversationView();
    }
    state.sessionId = id;
    writeSessionId(id);
    saveTranscript();
    state.ready = true;
    setConnection("connected");
    if (dom.composerError.textContent === t("notConnected")) showComposerError("");
    const waiting = state.waiting || [];
    state.waiting = [];
    for (const entry of waiting) attempt(entry);
  }

  // A fresh conversation id: a new socket (leaves the old room) and session_request null.
  function restartConversation() {
    state.sessionId = null;
    writeSessionId(null);
    writeStore(sessionStorage, TRANSCRIPT_KEY, null);
    clearConversationView();
    if (state.socket) {
      state.ready = false;
      state.socket.disconnect();
      setConnection("connecting");
      state.socket.connect();
    }
  }

  // ---------------------------------------------------------------- demo login
  async function loadCustomers() {
    dom.customersLoading.hidden = false;
    try {
      const data = await api("GET", "/api/demo-customers");
      const list = data && Array.isArray(data.customers) ? data.customers : [];
      state.customers = list.filter(
        (c) => c && typeof c.id === "string" && /^[A-Za-z0-9_-]{1,32}$/.test(c.id)
      );
      dom.customersLoading.hidden = true;
      renderCustomers();
    } catch (err) {
      dom.customersLoading.hidden = true;
      if (err.status === 404) {
        showLoginOff();
        return;
      }
      showLoginError(t("account.loadFailed"));
    }
  }

  function showLoginOff() {
    state.customers = [];
    dom.customersLoading.hidden = true;
    dom.loginOff.hidden = false;
    dom.demoCustomers.replaceChildren();
  }

  function showLoginError(message) {
    dom.loginError.textContent = message;
    dom.loginError.hidden = !message;
  }

  function renderCustomers() {
    const items = state.customers.map((c) => {
      const li = el("li", "customer");
      const info = el("span", "customer-info");
      const name = customerName(c);
      info.appendChild(el("span", "customer-name", name));
      const other = state.lang === "zh" ? c.name_en : c.name_zh;
      const meta = el("span", "customer-meta");
      if (typeof other === "string" && other && other !== name) {
        meta.appendChild(el("span", null, cleanText(other, NAME_MAX)));
      }
      meta.appendChild(el("span", "customer-id", c.id));
      if (c.language === "zh" || c.language === "en") {
        meta.appendChild(el("span", "customer-lang", t(`lang.${c.language}`)));
      }
      info.appendChild(meta);
      const btn = el("button", "btn btn-secondary btn-sm", t("account.loginAs"));
      btn.type = "button";
      btn.setAttribute("data-testid", `login-${c.id}`);
      btn.setAttribute("aria-label", t("account.loginAsLabel", { name }));
      btn.addEventListener("click", () => logIn(c.id, btn));
      li.append(info, btn);
      return li;
    });
    dom.demoCustomers.replaceChildren(...items);
  }

  async function logIn(customerId, button) {
    showLoginError("");
    const buttons = dom.demoCustomers.querySelectorAll("button");
    for (const b of buttons) b.disabled = true;
    button.textContent = t("account.loggingIn");
    try {
      const data = await api("POST", "/api/demo-login", { customer_id: customerId });
      if (!data || typeof data.token !== "string" || !data.token || !data.customer) {
        throw Object.assign(new Error("bad login answer"), { kind: "network" });
      }
      const seconds = Number(data.expires_in);
      const ttl = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 3600 * 1000;
      const customer = data.customer;
      setAuth({
        token: data.token,
        customer: {
          id: cleanText(customer.id, NAME_MAX),
          name_zh: cleanText(customer.name_zh, NAME_MAX),
          name_en: cleanText(customer.name_en, NAME_MAX),
          language: customer.language === "en" ? "en" : "zh",
        },
        expiresAt: Date.now() + Math.max(ttl - TOKEN_MARGIN_MS, ttl / 2),
      });
      // A new identity gets a new conversation: nothing said before logging in (or by
      // someone else on this screen) is carried into the customer's chat.
      restartConversation();
      addNote("note.loggedIn", { name: customerName(state.auth.customer) });
      if (isNarrow()) dom.accountBox.open = false;
      dom.input.focus();
    } catch (err) {
      showLoginError(t("account.loginFailed", { error: errorText(err) }));
    } finally {
      for (const b of buttons) b.disabled = false;
      renderCustomers();
    }
  }

  function setAuth(auth) {
    state.auth = auth;
    writeStore(sessionStorage, AUTH_KEY, auth);
    if (state.authTimer) clearTimeout(state.authTimer);
    state.authTimer = null;
    if (auth) {
      // setTimeout overflows past ~24.8 days; demo tokens live an hour.
      const wait = Math.min(auth.expiresAt - Date.now(), 2 ** 31 - 1);
      state.authTimer = setTimeout(expireAuth, Math.max(wait, 0));
    }
    renderWho();
  }

  function currentToken() {
    if (state.auth && Date.now() >= state.auth.expiresAt) expireAuth();
    return state.auth ? state.auth.token : null;
  }

  function expireAuth() {
    if (!state.auth) return;
    setAuth(null);
    // The logged-in conversation ends with the login: the next person at this screen
    // starts afresh and cannot continue it.
    restartConversation();
    showLoginError(t("account.expired"));
    addNote("note.expired");
  }

  function logOut() {
    setAuth(null);
    showLoginError("");
    restartConversation();
    addNote("note.loggedOut");
    dom.input.focus();
  }

  function renderWho() {
    const signedIn = Boolean(state.auth);
    dom.who.hidden = !signedIn;
    dom.logout.hidden = !signedIn;
    dom.customerName.textContent = signedIn ? customerName(state.auth.customer) : "";
    dom.loginArea.hidden = signedIn;
    dom.signedInArea.hidden = !signedIn;
    label(dom.accountState, signedIn ? "account.stateIn" : "account.stateAnon");
    dom.accountState.classList.toggle("in", signedIn);
  }

  // ---------------------------------------------------------------- transcript
  // Entries: {kind: "user"|"bot"|"agent"|"note", ...}; saved per tab so that a reload
  // shows the conversation it continues.
  function record(entry) {
    state.messages.push(entry);
    if (state.messages.length > TRANSCRIPT_MAX) state.messages.shift();
    saveTranscript();
  }

  function saveTranscript() {
    if (!state.sessionId) return;
    const items = state.messages.map((m) => {
      const copy = {};
      for (const key of SAVED_FIELDS) if (m[key] !== undefined) copy[key] = m[key];
      return copy;
    });
    writeStore(sessionStorage, TRANSCRIPT_KEY, {
      session: state.sessionId,
      agent: state.agent,
      items,
    });
  }

  function restoreTranscript() {
    const saved = readStore(sessionStorage, TRANSCRIPT_KEY);
    if (!saved || saved.session !== state.sessionId || !Array.isArray(saved.items)) return;
    const items = saved.items.slice(-TRANSCRIPT_MAX);
    try {
      items.forEach((item, index) => restoreEntry(item, index === items.length - 1));
    } catch (err) {
      // Unreadable history: show the conversation from here on rather than nothing.
      console.error("webchat: could not restore the transcript", err);
      state.messages = [];
      dom.messages.replaceChildren();
    }
    if (typeof saved.agent === "string" && saved.agent) {
      state.agent = saved.agent;
      showBanner("joined", saved.agent);
    }
    if (state.messages.some((m) => m.kind === "user")) dom.welcome.hidden = true;
    scrollToEnd(true);
  }

  function restoreEntry(item, last) {
    if (!item || typeof item !== "object") return;
    if (item.kind === "user") {
      // A message not acknowledged before the reload may or may not have arrived.
      const entry = {
        kind: "user",
        id: state.nextLocalId++,
        text: String(item.text || ""),
        display: String(item.display || item.text || ""),
        time: Number(item.time) || Date.now(),
        state: item.state === "delivered" ? "delivered" : "failed",
      };
      state.messages.push(entry);
      renderUser(entry);
    } else if (item.kind === "bot" || item.kind === "agent") {
      const entry = {
        kind: item.kind,
        text: cleanText(item.text, TEXT_MAX),
        time: Number(item.time) || Date.now(),
        agent: cleanText(item.agent, NAME_MAX),
        answered: Boolean(item.answered) || !last,
      };
      const replies = normaliseQuickReplies(item.quickReplies);
      if (replies.length) entry.quickReplies = replies;
      if (item.attachment) entry.attachment = normaliseAttachment(item.attachment);
      if (Array.isArray(item.cards)) entry.cards = item.cards.map(normaliseSavedCard);
      state.messages.push(entry);
      renderBot(entry);
    } else if (item.kind === "note" && typeof item.key === "string" && item.key in STRINGS.zh) {
      const entry = {
        kind: "note",
        key: item.key,
        params: item.params && typeof item.params === "object" ? item.params : null,
        time: Number(item.time) || Date.now(),
      };
      state.messages.push(entry);
      renderNote(entry);
    }
  }

  function normaliseSavedCard(card) {
    const c = card && typeof card === "object" ? card : {};
    const image = safeUrl(c.image);
    return {
      title: cleanText(c.title, 200),
      subtitle: cleanText(c.subtitle, 500),
      image: image ? image.href : null,
      links: (Array.isArray(c.links) ? c.links : [])
        .filter((l) => l && safeUrl(l.url))
        .map((l) => ({ title: cleanText(l.title, 80), url: safeUrl(l.url).href })),
      replies: normaliseQuickReplies(c.replies),
    };
  }

  function clearConversationView() {
    for (const m of state.pending.values()) clearTimeout(m.timer);
    state.pending.clear();
    state.messages = [];
    state.burst = [];
    state.agent = null;
    dom.messages.replaceChildren();
    dom.welcome.hidden = false;
    hideBanner();
    hideTyping();
    resetRating();
    dom.rating.hidden = true;
  }

  // ---------------------------------------------------------------- rendering
  function nearBottom() {
    const s = dom.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  function scrollToEnd(force) {
    if (force || nearBottom()) dom.scroller.scrollTop = dom.scroller.scrollHeight;
  }

  function metaLine(entry, whoNode) {
    const meta = el("div", "msg-meta");
    if (whoNode) meta.appendChild(whoNode);
    const time = el("time", "msg-time", clock(new Date(entry.time)));
    time.dateTime = new Date(entry.time).toISOString();
    meta.appendChild(time);
    return meta;
  }

  function renderUser(entry) {
    const stick = true; // the customer's own message always scrolls into view
    const wrap = el("div", "msg msg-user");
    wrap.setAttribute("data-testid", "msg-user");
    const who = label(el("span", "sr-only"), "who.you");
    const bubble = el("div", "bubble", entry.display);
    const meta = metaLine(entry, who);
    const delivery = el("span", "delivery");
    delivery.setAttribute("data-testid", "delivery");
    meta.appendChild(delivery);
    const retry = el("button", "retry");
    retry.type = "button";
    retry.setAttribute("data-testid", "retry");
    label(retry, "retry");
    retry.dataset.i18nAriaLabel = "retryLabel";
    retry.setAttribute("aria-label", t("retryLabel"));
    retry.hidden = true;
    retry.addEventListener("click", () => attempt(entry));
    meta.appendChild(retry);
    wrap.append(bubble, meta);
    entry.node = { wrap, delivery, retry };
    setDelivery(entry, entry.state || "sending");
    dom.messages.appendChild(wrap);
    scrollToEnd(stick);
    return wrap;
  }

  function setDelivery(entry, kind) {
    entry.state = kind;
    if (!entry.node) return;
    const { delivery, retry, wrap } = entry.node;
    delivery.dataset.state = kind;
    label(delivery, `delivery.${kind}`);
    retry.hidden = kind !== "failed";
    wrap.classList.toggle("failed", kind === "failed");
  }

  function whoNode(entry) {
    const who = el("span", "msg-who");
    if (entry.kind === "agent") label(who, "who.agent", { name: entry.agent || "" });
    else label(who, "who.bot");
    return who;
  }

  function renderBot(entry) {
    const stick = nearBottom();
    const wrap = el("div", `msg msg-${entry.kind}`);
    wrap.setAttribute("data-testid", entry.kind === "agent" ? "msg-agent" : "msg-bot");
    const who = whoNode(entry);
    if (entry.text) wrap.appendChild(el("div", "bubble", entry.text));
    if (entry.attachment) {
      const att = renderAttachment(entry.attachment);
      if (att) wrap.appendChild(att);
    }
    if (Array.isArray(entry.cards)) {
      for (const card of entry.cards) wrap.appendChild(renderCard(card, entry));
    }
    if (Array.isArray(entry.quickReplies) && entry.quickReplies.length) {
      wrap.appendChild(renderQuickReplies(entry));
    }
    wrap.appendChild(metaLine(entry, who));
    entry.node = { wrap, who };
    dom.messages.appendChild(wrap);
    scrollToEnd(stick);
    return wrap;
  }

  function markAsAgent(entry, name) {
    entry.kind = "agent";
    entry.agent = name;
    if (!entry.node) return;
    const { wrap, who } = entry.node;
    wrap.classList.remove("msg-bot");
    wrap.classList.add("msg-agent");
    wrap.setAttribute("data-testid", "msg-agent");
    label(who, "who.agent", { name });
  }

  function renderNote(entry, before) {
    const note = el("p", "note");
    label(note, entry.key, entry.params);
    if (before && before.node && before.node.wrap.parentNode === dom.messages) {
      dom.messages.insertBefore(note, before.node.wrap);
    } else {
      dom.messages.appendChild(note);
    }
    scrollToEnd(false);
  }

  // A system line in the conversation; `before` puts it ahead of an earlier message.
  function addNote(key, params, before) {
    const entry = { kind: "note", key, params: params || null, time: Date.now() };
    const at = before ? state.messages.indexOf(before) : -1;
    if (at >= 0) {
      state.messages.splice(at, 0, entry);
      saveTranscript();
    } else {
      record(entry);
    }
    renderNote(entry, at >= 0 ? before : null);
  }

  function renderQuickReplies(entry) {
    const group = el("div", "quick-replies");
    group.setAttribute("role", "group");
    for (const qr of entry.quickReplies) {
      const btn = el("button", "quick-reply", qr.title);
      btn.type = "button";
      btn.setAttribute("data-testid", "quick-reply");
      btn.disabled = Boolean(entry.answered);
      btn.addEventListener("click", () => {
        if (btn.disabled) return;
        btn.classList.add("chosen");
        sendMessage(qr.payload, qr.title);
      });
      group.appendChild(btn);
    }
    return group;
  }

  // Any message the customer sends answers every open button group (an old "确认"
  // must not confirm something later by accident).
  function closeQuickReplies() {
    for (const m of state.messages) {
      if (m.kind === "bot" || m.kind === "agent") m.answered = true;
    }
    for (const b of dom.messages.querySelectorAll(".quick-reply")) b.disabled = true;
  }

  function normaliseQuickReplies(list) {
    if (!Array.isArray(list)) return [];
    const out = [];
    for (const qr of list.slice(0, QUICK_REPLIES_MAX)) {
      if (!qr || typeof qr !== "object") continue;
      const title = cleanText(qr.title, 80);
      const payload = typeof qr.payload === "string" ? qr.payload : title;
      if (title && payload && (!qr.type || qr.type === "postback" || qr.content_type === "text")) {
        out.push({ title, payload: payload.slice(0, 1000) });
      }
    }
    return out;
  }

  function linkNode(url, text) {
    const a = el("a", "attachment-link", text || url.hostname + url.pathname);
    a.href = url.href;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    a.referrerPolicy = "no-referrer";
    a.appendChild(label(el("span", "sr-only"), "attach.newWindow"));
    return a;
  }

  // Attachments are kept as {type: "image"|"link", url, title}: only checked URLs.
  function normaliseAttachment(raw) {
    if (typeof raw === "string") {
      const url = safeUrl(raw);
      if (!url) return null;
      const image = /\.(png|jpe?g|gif|webp)$/i.test(url.pathname);
      return { type: image ? "image" : "link", url: url.href, title: "" };
    }
    if (!raw || typeof raw !== "object") return null;
    const payload = raw.payload && typeof raw.payload === "object" ? raw.payload : {};
    const src = payload.src || payload.url || raw.url || raw.src || raw.image_url;
    const url = safeUrl(src);
    if (!url) return null;
    const title = cleanText(payload.title || raw.title || "", 120);
    return { type: raw.type === "image" ? "image" : "link", url: url.href, title };
  }

  function renderAttachment(att) {
    const url = safeUrl(att.url);
    if (!url) return null;
    const box = el("div", "attachment");
    if (att.type === "image") {
      const a = linkNode(url, "");
      a.textContent = "";
      const img = el("img", "attachment-image");
      img.alt = att.title || t("attach.image");
      img.loading = "lazy";
      img.decoding = "async";
      img.referrerPolicy = "no-referrer";
      img.src = url.href;
      img.addEventListener("error", () => {
        // Blocked or broken image: a plain link instead.
        a.replaceChildren();
        a.textContent = att.title || t("attach.open");
        a.appendChild(label(el("span", "sr-only"), "attach.newWindow"));
      });
      a.appendChild(img);
      box.appendChild(a);
    } else {
      box.appendChild(linkNode(url, att.title || `${t("attach.open")} · ${url.hostname}`));
    }
    return box;
  }

  // Rasa "generic template" elements: title, subtitle, image and buttons.
  function normaliseCards(raw) {
    const payload = raw && raw.payload && typeof raw.payload === "object" ? raw.payload : null;
    if (!payload || payload.template_type !== "generic") return [];
    const elements = Array.isArray(payload.elements) ? payload.elements : [payload.elements];
    const cards = [];
    for (const item of elements.slice(0, 10)) {
      if (!item || typeof item !== "object") continue;
      const image = safeUrl(item.image_url);
      const buttons = Array.isArray(item.buttons) ? item.buttons : [];
      const links = [];
      for (const b of buttons.slice(0, 6)) {
        if (b && b.type === "web_url") {
          const url = safeUrl(b.url);
          if (url) links.push({ title: cleanText(b.title, 80), url: url.href });
        }
      }
      cards.push({
        title: cleanText(item.title, 200),
        subtitle: cleanText(item.subtitle, 500),
        image: image ? image.href : null,
        links,
        replies: normaliseQuickReplies(buttons.filter((b) => b && b.type !== "web_url")),
      });
    }
    return cards;
  }

  function renderCard(card, entry) {
    const box = el("div", "card");
    if (card.image) {
      const att = renderAttachment({ type: "image", url: card.image, title: card.title });
      if (att) box.appendChild(att);
    }
    if (card.title) box.appendChild(el("p", "card-title", card.title));
    if (card.subtitle) box.appendChild(el("p", "card-subtitle", card.subtitle));
    for (const link of card.links) {
      const url = safeUrl(link.url);
      if (url) box.appendChild(linkNode(url, link.title));
    }
    if (card.replies.length) {
      box.appendChild(renderQuickReplies({ quickReplies: card.replies, answered: entry.answered }));
    }
    return box;
  }

  // ---------------------------------------------------------------- agent banner
  function showBanner(kind, name) {
    if (state.bannerTimer) clearTimeout(state.bannerTimer);
    state.bannerTimer = null;
    dom.agentBanner.dataset.state = kind;
    if (kind === "joined") label(dom.agentBannerText, "agent.joined", { name });
    else label(dom.agentBannerText, "agent.left");
    dom.agentBanner.hidden = false;
    if (kind === "left") {
      state.bannerTimer = setTimeout(hideBanner, 10000);
    }
  }

  function hideBanner() {
    if (state.bannerTimer) clearTimeout(state.bannerTimer);
    state.bannerTimer = null;
    dom.agentBanner.hidden = true;
  }

  // ---------------------------------------------------------------- receiving
  function onBotUttered(data) {
    if (!data || typeof data !== "object") return;
    // A custom payload may arrive as it is or wrapped as {custom: {...}}.
    const custom = data.custom && typeof data.custom === "object" ? data.custom : data;
    if (typeof custom.kind === "string") {
      onMarker(custom);
      return;
    }
    const text = cleanText(data.text, TEXT_MAX);
    const quickReplies = normaliseQuickReplies(data.quick_replies || data.buttons);
    let attachment = null;
    let cards = [];
    if (data.attachment) {
      cards = normaliseCards(data.attachment);
      if (!cards.length) attachment = normaliseAttachment(data.attachment);
    } else if (data.image) {
      attachment = normaliseAttachment({ type: "image", payload: { src: data.image } });
    }
    if (!text && !quickReplies.length && !attachment && !cards.length) return;

    const now = Date.now();
    if (now - state.lastBotAt > BURST_MS) state.burst = [];
    state.lastBotAt = now;
    const entry = { kind: "bot", text, time: now, answered: false };
    if (quickReplies.length) entry.quickReplies = quickReplies;
    if (attachment) entry.attachment = attachment;
    if (cards.length) entry.cards = cards;
    renderBot(entry);
    record(entry);
    state.burst.push(entry);
    onReply();
  }

  function onMarker(marker) {
    if (marker.kind === "agent") {
      const name = cleanText(marker.agent, NAME_MAX) || "";
      // The message(s) just before came from the agent (Rasa splits text at blank
      // lines, so one agent message can be several bot_uttered events).
      const recent = Date.now() - state.lastBotAt <= BURST_MS * 3 ? state.burst : [];
      for (const entry of recent) markAsAgent(entry, name);
      state.burst = [];
      if (state.agent !== name) {
        state.agent = name;
        showBanner("joined", name);
        addNote("agent.joined", { name }, recent[0]);
      } else {
        saveTranscript();
      }
    } else if (marker.kind === "agent_left") {
      state.burst = [];
      if (state.agent !== null) {
        state.agent = null;
        showBanner("left");
        addNote("agent.left");
      }
    } else if (marker.kind === "rating_request") {
      showRating();
    }
  }

  // ---------------------------------------------------------------- typing
  function showTyping() {
    clearTimeout(state.typingShowTimer);
    clearTimeout(state.typingHideTimer);
    state.typingShowTimer = null;
    state.typingHideTimer = null;
    const stick = nearBottom();
    dom.typing.hidden = false;
    scrollToEnd(stick);
  }

  function hideTyping() {
    clearTimeout(state.typingShowTimer);
    clearTimeout(state.typingHideTimer);
    state.typingShowTimer = null;
    state.typingHideTimer = null;
    dom.typing.hidden = true;
  }

  // A reply arrived. While a message is still unacknowledged the bot is still
  // working on it, so more replies may follow: typing comes back shortly.
  function onReply() {
    hideTyping();
    if (state.pending.size > 0) {
      state.typingShowTimer = setTimeout(() => {
        if (state.pending.size > 0) showTyping();
      }, TYPING_AGAIN_MS);
    }
  }

  // ---------------------------------------------------------------- sending
  function sendMessage(text, display) {
    if (typeof text !== "string" || !text.trim()) return false;
    if (charCount(text) > state.maxChars) {
      showComposerError(t("tooLong", { max: state.maxChars }));
      return false;
    }
    closeQuickReplies();
    dom.welcome.hidden = true;
    const entry = {
      kind: "user",
      id: state.nextLocalId++,
      text,
      display: display || text,
      time: Date.now(),
      state: "sending",
      attempt: 0,
    };
    renderUser(entry);
    record(entry);
    state.burst = [];
    attempt(entry);
    return true;
  }

  function attempt(entry) {
    clearTimeout(entry.timer);
    setDelivery(entry, "sending");
    if (!state.ready || !state.socket || !state.socket.connected || !state.sessionId) {
      if (state.socket) {
        // (Re)connecting, e.g. right after logging in: hold the message until the new
        // session is confirmed, then send it once; fail if that takes too long.
        // (socket.io's own buffer could send it twice with a retry.)
        state.waiting = (state.waiting || []).filter((e) => e !== entry);
        state.waiting.push(entry);
        entry.timer = setTimeout(() => {
          state.waiting = (state.waiting || []).filter((e) => e !== entry);
          failMessage(entry);
          showComposerError(t("notConnected"));
        }, CONNECT_WAIT_MS);
        return;
      }
      failMessage(entry);
      showComposerError(t("notConnected"));
      return;
    }
    showComposerError("");
    const payload = { message: entry.text, session_id: state.sessionId, metadata: {} };
    const token = currentToken();
    if (token) payload.metadata.auth_token = token; // identity travels with every message
    const attemptNo = (entry.attempt || 0) + 1;
    entry.attempt = attemptNo;
    entry.sentAt = Date.now();
    state.socket.emit("user_uttered", payload, () => onAck(entry));
    setDelivery(entry, "sent");
    state.pending.set(entry.id, entry);
    entry.timer = setTimeout(() => {
      if (entry.state === "sent" && entry.attempt === attemptNo) failMessage(entry);
    }, ACK_TIMEOUT_MS);
    saveTranscript();
    showTyping();
  }

  function onAck(entry) {
    clearTimeout(entry.timer);
    // Any ack, even a late one after a timeout or from an earlier attempt, proves that
    // Rasa processed the message.
    setDelivery(entry, "delivered");
    state.pending.delete(entry.id);
    saveTranscript();
    if (state.pending.size > 0) return;
    if (state.lastBotAt >= entry.sentAt) {
      hideTyping();
    } else {
      clearTimeout(state.typingShowTimer);
      clearTimeout(state.typingHideTimer);
      state.typingHideTimer = setTimeout(hideTyping, TYPING_GRACE_MS);
    }
  }

  function failMessage(entry) {
    clearTimeout(entry.timer);
    state.pending.delete(entry.id);
    setDelivery(entry, "failed");
    saveTranscript();
    if (state.pending.size === 0) hideTyping();
  }

  function failPending() {
    for (const entry of Array.from(state.pending.values())) failMessage(entry);
  }

  function showComposerError(message) {
    dom.composerError.textContent = message;
    dom.composerError.hidden = !message;
  }

  function updateCounter() {
    const n = charCount(dom.input.value);
    const over = n > state.maxChars;
    dom.charCount.textContent = `${n} / ${state.maxChars}`;
    dom.charCount.classList.toggle("over", over);
    dom.charCount.classList.toggle("near", !over && n > state.maxChars * 0.9);
    dom.input.setAttribute("aria-invalid", over ? "true" : "false");
    dom.send.disabled = over;
    if (over) showComposerError(t("tooLong", { max: state.maxChars }));
    else if (dom.composerError.textContent === t("tooLong", { max: state.maxChars })) {
      showComposerError("");
    }
  }

  function autoGrow() {
    dom.input.style.height = "auto";
    dom.input.style.height = `${Math.min(dom.input.scrollHeight, 160)}px`;
  }

  function onSubmit(event) {
    event.preventDefault();
    const text = dom.input.value;
    if (!text.trim()) return;
    if (sendMessage(text)) {
      dom.input.value = "";
      updateCounter();
      autoGrow();
    }
    dom.input.focus();
  }

  function onInputKey(event) {
    // Enter while an input method is composing (pinyin) picks a candidate, not send.
    if (event.isComposing || event.keyCode === 229) return;
    const modified = event.shiftKey || event.altKey || event.ctrlKey || event.metaKey;
    if (event.key === "Enter" && !modified) {
      event.preventDefault();
      if (dom.composer.requestSubmit) dom.composer.requestSubmit();
      else onSubmit(event);
    }
  }

  // ---------------------------------------------------------------- rating
  function resetRating() {
    state.ratingScore = 0;
    state.ratingBusy = false;
    for (const star of dom.stars) {
      star.setAttribute("aria-pressed", "false");
      star.classList.remove("on");
    }
    dom.ratingComment.value = "";
    dom.ratingError.hidden = true;
    dom.ratingError.textContent = "";
    dom.ratingForm.hidden = false;
    dom.ratingThanks.hidden = true;
    label(dom.ratingSubmit, "rating.submit");
    dom.ratingSubmit.disabled = false;
  }

  function showRating() {
    const rated = readStore(sessionStorage, RATED_KEY);
    if (dom.rating.hidden) {
      resetRating();
      if (rated && rated === state.sessionId) {
        dom.ratingForm.hidden = true;
        dom.ratingThanks.hidden = false;
      }
    }
    dom.rating.hidden = false;
    scrollToEnd(true);
    (dom.ratingThanks.hidden ? dom.ratingTitle : dom.ratingThanks).focus();
  }

  function pickScore(score) {
    state.ratingScore = score;
    for (const star of dom.stars) {
      const n = Number(star.dataset.score);
      star.setAttribute("aria-pressed", n === score ? "true" : "false");
      star.classList.toggle("on", n <= score);
    }
    dom.ratingError.hidden = true;
  }

  async function submitRating(event) {
    event.preventDefault();
    if (state.ratingBusy) return;
    if (!state.ratingScore) {
      dom.ratingError.textContent = t("rating.pick");
      dom.ratingError.hidden = false;
      return;
    }
    if (!state.sessionId) {
      dom.ratingError.textContent = t("rating.noConversation");
      dom.ratingError.hidden = false;
      return;
    }
    const body = { conversation_id: state.sessionId, score: state.ratingScore };
    const comment = dom.ratingComment.value.trim();
    if (comment) body.comment = comment;
    state.ratingBusy = true;
    dom.ratingSubmit.disabled = true;
    label(dom.ratingSubmit, "rating.submitting");
    dom.ratingError.hidden = true;
    try {
      await api("POST", "/api/ratings", body, currentToken());
      writeStore(sessionStorage, RATED_KEY, state.sessionId);
      dom.ratingForm.hidden = true;
      dom.ratingThanks.hidden = false;
      dom.ratingThanks.focus();
    } catch (err) {
      dom.ratingError.textContent = t("rating.failed", { error: errorText(err) });
      dom.ratingError.hidden = false;
    } finally {
      state.ratingBusy = false;
      dom.ratingSubmit.disabled = false;
      label(dom.ratingSubmit, "rating.submit");
    }
  }

  function newChat() {
    restartConversation();
    addNote("note.newChat");
    dom.input.focus();
  }

  // ---------------------------------------------------------------- start-up
  function bind() {
    dom.langSwitch = byId("lang-switch");
    dom.connection = byId("connection");
    dom.who = byId("who");
    dom.customerName = byId("customer-name");
    dom.logout = byId("logout");
    dom.demoCustomers = byId("demo-customers");
    dom.customersLoading = byId("customers-loading");
    dom.loginOff = byId("login-off");
    dom.loginError = byId("login-error");
    dom.loginArea = byId("login-area");
    dom.signedInArea = byId("signed-in-area");
    dom.accountBox = byId("account-box");
    dom.accountState = byId("account-state");
    dom.endChat = byId("end-chat");
    dom.agentBanner = byId("agent-banner");
    dom.agentBannerText = byId("agent-banner-text");
    dom.scroller = byId("scroller");
    dom.welcome = byId("welcome");
    dom.suggestions = byId("suggestions");
    dom.messages = byId("messages");
    dom.typing = byId("typing");
    dom.rating = byId("rating");
    dom.ratingForm = byId("rating-form");
    dom.ratingTitle = byId("rating-title");
    dom.ratingComment = byId("rating-comment");
    dom.ratingError = byId("rating-error");
    dom.ratingSubmit = byId("rating-submit");
    dom.ratingCancel = byId("rating-cancel");
    dom.ratingThanks = byId("rating-thanks");
    dom.newChat = byId("new-chat");
    dom.stars = [1, 2, 3, 4, 5].map((n) => byId(`rating-${n}`));
    dom.composer = byId("composer");
    dom.input = byId("message-input");
    dom.send = byId("send");
    dom.charCount = byId("char-count");
    dom.composerError = byId("composer-error");

    dom.langSwitch.addEventListener("click", switchLanguage);
    dom.logout.addEventListener("click", logOut);
    dom.endChat.addEventListener("click", showRating);
    dom.composer.addEventListener("submit", onSubmit);
    dom.input.addEventListener("keydown", onInputKey);
    dom.input.addEventListener("input", () => {
      updateCounter();
      autoGrow();
    });
    for (const chip of dom.suggestions.querySelectorAll("button")) {
      chip.addEventListener("click", () => sendMessage(chip.textContent));
    }
    for (const star of dom.stars) {
      star.addEventListener("click", () => pickScore(Number(star.dataset.score)));
    }
    dom.ratingForm.addEventListener("submit", submitRating);
    dom.ratingCancel.addEventListener("click", () => {
      dom.rating.hidden = true;
      dom.endChat.focus();
    });
    dom.newChat.addEventListener("click", newChat);
  }

  function restoreAuth() {
    const saved = readStore(sessionStorage, AUTH_KEY);
    if (
      saved &&
      typeof saved.token === "string" &&
      saved.customer &&
      typeof saved.expiresAt === "number" &&
      saved.expiresAt > Date.now()
    ) {
      setAuth(saved);
    } else {
      setAuth(null);
    }
  }

  function init() {
    bind();
    state.lang = initialLanguage();
    state.sessionId = readSessionId();
    restoreAuth();
    applyLanguage();
    // Phones: the sign-in panel starts folded so that the chat gets the screen.
    if (isNarrow()) dom.accountBox.open = false;
    if (state.sessionId) restoreTranscript();
    updateCounter();
    start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
