/* omnicrm web chat: plain browser JS, no build step, no dependencies. */
(function () {
  "use strict";

  const API = "/api/v1/webchat";
  const STORE_KEY = "omnicrm.webchat";
  const MAX_SEND_RETRIES = 3;

  const STRINGS = {
    vi: {
      subtitle: "Chúng tôi thường trả lời trong vài phút", messagesLabel: "Cuộc trò chuyện",
      welcome: "Xin chào! Bạn cần hỗ trợ gì? Hãy nhắn cho chúng tôi.",
      inputLabel: "Tin nhắn của bạn", placeholder: "Nhập tin nhắn…", send: "Gửi",
      bot: "Bot", agent: "Nhân viên", sending: "Đang gửi…", failed: "Chưa gửi được · Thử lại",
      offline: "Mất kết nối mạng. Đang chờ kết nối lại…", retrying: "Kết nối chập chờn, đang thử lại…",
      contactTitle: "Để lại thông tin liên hệ", name: "Họ tên", phone: "Số điện thoại", email: "Email",
      contactSubmit: "Gửi thông tin", contactThanks: "Cảm ơn bạn! Chúng tôi sẽ liên hệ sớm.",
      contactEmpty: "Vui lòng nhập ít nhất một thông tin.", genericError: "Đã có lỗi xảy ra, vui lòng thử lại.",
    },
    en: {
      subtitle: "We usually reply within a few minutes", messagesLabel: "Conversation",
      welcome: "Hello! How can we help? Send us a message.",
      inputLabel: "Your message", placeholder: "Type a message…", send: "Send",
      bot: "Bot", agent: "Agent", sending: "Sending…", failed: "Not sent · Tap to retry",
      offline: "You are offline. Waiting for the connection…", retrying: "Connection is unstable, retrying…",
      contactTitle: "Leave your contact details", name: "Name", phone: "Phone", email: "Email",
      contactSubmit: "Send details", contactThanks: "Thank you! We will get in touch soon.",
      contactEmpty: "Please fill in at least one field.", genericError: "Something went wrong, please try again.",
    },
  };

  // ?lang= wins over the browser language; Vietnamese is the default.
  const qLang = new URLSearchParams(location.search).get("lang");
  const lang = qLang === "en" || qLang === "vi" ? qLang : /^en/i.test(navigator.language || "") ? "en" : "vi";
  const t = STRINGS[lang];

  const $ = (id) => document.getElementById(id);
  const list = $("wc-messages"), input = $("wc-input"), form = $("wc-form"), statusEl = $("wc-status");
  const contactForm = $("wc-contact-form"), contactMsg = $("wc-contact-msg");

  let session = loadSession();
  let cursor = null;            // last non-null next_cursor from the server
  let creating = null;          // in-flight session creation, shared by concurrent callers
  let timer = null, polling = false, pollFailures = 0, fastUntil = 0;
  const seen = new Set();       // server message ids already rendered
  const pending = new Map();    // client_message_id -> {li, text} not yet matched to a server id
  const mine = new Map();       // client_message_id -> bubble, for every message sent from this page

  // ---- storage (localStorage can throw in private mode: fall back to memory only) ----
  function loadSession() {
    try {
      const s = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      return s && s.session_id && s.token ? s : null;
    } catch (e) { return null; }
  }
  function saveSession(s) { try { localStorage.setItem(STORE_KEY, JSON.stringify(s)); } catch (e) { /* memory only */ } }
  function dropSession(s) {
    if (session !== s) return;  // a newer session already replaced it
    session = null; cursor = null;
    try { localStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
  }

  // ---- HTTP ----
  async function api(method, path, body, sess) {
    const headers = { Accept: "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    if (sess) headers["X-Webchat-Token"] = sess.token;
    const res = await fetch(API + path, {
      method, headers, cache: "no-store", credentials: "same-origin",
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => null);  // empty or non-JSON body
    if (res.ok) return data;
    const err = new Error("HTTP " + res.status);
    err.status = res.status;
    err.serverMessage = data && data.error && data.error.message;  // {"error": {"code", "message"}}
    throw err;
  }
  const isGone = (err) => err.status === 401 || err.status === 404;
  // Network failures (no status), 5xx and 429 are worth retrying; other 4xx are not.
  const isRetryable = (err) => !err.status || err.status >= 500 || err.status === 429;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function ensureSession() {
    if (session) return Promise.resolve(session);
    if (!creating) {
      creating = api("POST", "/sessions", { language: lang }, null).then((d) => {
        session = { session_id: d.session_id, token: d.token, customer_id: d.customer_id };
        cursor = null;
        saveSession(session);
        schedulePoll(0);
        return session;
      }).finally(() => { creating = null; });
    }
    return creating;
  }
  // Run fn with a session; if the server forgot it (401/404), start a fresh one once.
  async function withSession(fn) {
    for (let fresh = false; ; fresh = true) {
      const s = await ensureSession();
      try { return await fn(s); } catch (err) {
        if (!fresh && isGone(err)) { dropSession(s); continue; }
        throw err;
      }
    }
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context (plain-http LAN installs lack it): build a v4 id by hand.
    const b = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function setStatus(text) { statusEl.textContent = text || ""; statusEl.hidden = !text; }

  // ---- rendering (always textContent: message text is untrusted) ----
  function formatTime(iso) {
    const d = iso ? new Date(iso) : new Date();
    return isNaN(d) ? "" : d.toLocaleTimeString(lang === "en" ? "en-US" : "vi-VN", { hour: "2-digit", minute: "2-digit" });
  }
  function addBubble(item) {
    const who = ["customer", "bot", "agent", "system"].includes(item.author_type) ? item.author_type
      : item.direction === "in" ? "customer" : "bot";
    const li = document.createElement("li");
    li.className = "wc-msg wc-msg--" + who;
    if (who === "bot" || who === "agent") {
      const label = document.createElement("span");
      label.className = "wc-label";
      label.textContent = who === "bot" ? t.bot : item.author_name || t.agent;
      li.appendChild(label);
    }
    const bubble = document.createElement("div");
    bubble.className = "wc-bubble";
    bubble.textContent = item.text || "";
    addFiles(bubble, item.attachments);
    const meta = document.createElement("time");
    meta.className = "wc-meta";
    if (item.created_at) meta.dateTime = item.created_at;
    meta.textContent = formatTime(item.created_at);
    li.append(bubble, meta);
    // Only auto-scroll if the reader is already near the bottom (or it is their own message).
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    list.appendChild(li);
    if (nearBottom || who === "customer") list.scrollTop = list.scrollHeight;
    return li;
  }
  // Files an agent sent: signed download links (valid 7 days; a page reload signs them anew).
  function addFiles(bubble, files) {
    for (const file of files || []) {
      if (!/^https?:\/\//.test(file.url || "")) continue;
      const link = document.createElement("a");
      link.className = "wc-file";
      link.href = file.url;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      link.textContent = "\u{1F4CE} " + (file.name || "file");
      bubble.appendChild(link);
    }
  }
  function setMeta(li, text, onRetry) {
    const old = li.querySelector(".wc-meta, .wc-retry");
    const el = document.createElement(onRetry ? "button" : "span");
    el.className = onRetry ? "wc-retry" : "wc-meta";
    if (onRetry) { el.type = "button"; el.addEventListener("click", onRetry); }
    el.textContent = text;
    old.replaceWith(el);
  }
  // Link an optimistic bubble to its server id, whichever of POST reply / poll arrives first.
  function confirm(cid, id) {
    const p = pending.get(cid);
    if (!p) return;
    pending.delete(cid);
    if (id && seen.has(id) && p.li.dataset.id !== id) { p.li.remove(); return; }
    if (id) { seen.add(id); p.li.dataset.id = id; }
    p.li.classList.remove("is-pending", "is-failed");
    setMeta(p.li, formatTime());
  }
  function render(item) {
    if (!item || !item.id || seen.has(item.id)) return;
    if (item.client_message_id && mine.has(item.client_message_id)) {
      // Our own message came back from the server: adopt its id instead of drawing it twice.
      const cid = item.client_message_id;
      if (pending.has(cid)) { confirm(cid, item.id); return; }
      seen.add(item.id);
      mine.get(cid).dataset.id = item.id;
      return;
    }
    if (item.author_type === "customer" || item.direction === "in") {
      for (const [cid, p] of pending) {
        if (item.client_message_id ? item.client_message_id === cid : p.text === item.text) { confirm(cid, item.id); return; }
      }
    }
    seen.add(item.id);
    addBubble(item).dataset.id = item.id;
  }

  // ---- sending ----
  async function deliver(cid) {
    const p = pending.get(cid);
    p.li.classList.remove("is-failed");
    p.li.classList.add("is-pending");
    setMeta(p.li, t.sending);
    for (let attempt = 0; ; attempt++) {
      try {
        await withSession((s) => api("POST", "/messages",
          { session_id: s.session_id, text: p.text, client_message_id: cid }, s));
        confirm(cid, null);  // stored; the poll brings the message's own id
        setStatus(null);
        fastUntil = Date.now() + 10000;  // a reply is likely soon: poll faster for a while
        schedulePoll(400);
        return;
      } catch (err) {
        if (isRetryable(err) && attempt < MAX_SEND_RETRIES) {
          setStatus(navigator.onLine === false ? t.offline : t.retrying);
          await sleep(1000 * 2 ** attempt);  // same client_message_id, so the server dedupes
          continue;
        }
        if (!pending.has(cid)) return;  // a poll already showed it as stored
        p.li.classList.remove("is-pending");
        p.li.classList.add("is-failed");
        setMeta(p.li, err.serverMessage || t.failed, () => deliver(cid));
        setStatus(navigator.onLine === false ? t.offline : null);  // the bubble itself now says "not sent"
        return;
      }
    }
  }
  function send(text) {
    const cid = uuid();
    const li = addBubble({ author_type: "customer", text });
    pending.set(cid, { li, text });
    mine.set(cid, li);
    deliver(cid);
  }

  // ---- polling ----
  function nextDelay() {
    if (document.visibilityState === "hidden") return 5000;
    if (pollFailures) return Math.min(1500 * 2 ** pollFailures, 15000);
    return Date.now() < fastUntil ? 700 : 1500;
  }
  function schedulePoll(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms == null ? nextDelay() : ms);
  }
  async function poll() {
    const s = session;
    if (!s || polling) return;  // no session yet: idle until the first message creates one
    polling = true;
    let gotItems = false;
    try {
      const q = "?session_id=" + encodeURIComponent(s.session_id) + (cursor ? "&after=" + encodeURIComponent(cursor) : "");
      const d = await api("GET", "/messages" + q, null, s);
      if (s !== session) return;  // session was replaced while this request was in flight
      (d.items || []).forEach(render);
      gotItems = !!(d.items && d.items.length);
      if (d.next_cursor) cursor = d.next_cursor;
      if (pollFailures) setStatus(null);  // we are reachable again
      pollFailures = 0;
    } catch (err) {
      if (isGone(err)) dropSession(s);  // next message will create a new session
      else { pollFailures++; setStatus(navigator.onLine === false ? t.offline : t.retrying); }
    } finally {
      polling = false;
      // Got something? ask again quickly to drain history pages after a reload.
      if (session) schedulePoll(gotItems ? 250 : undefined);
    }
  }

  // ---- wiring ----
  function applyText() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t[el.dataset.i18n]; });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t[el.dataset.i18nPlaceholder]; });
    document.querySelectorAll("[data-i18n-aria-label]").forEach((el) => { el.setAttribute("aria-label", t[el.dataset.i18nAriaLabel]); });
    const name = (document.body.dataset.businessName || "").trim() || "Omni CRM";
    $("wc-title").textContent = name;
    $("wc-avatar").textContent = name.charAt(0).toUpperCase();
    document.title = name + " · Chat";
  }
  function autosize() { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight, 160) + "px"; }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    autosize();
    send(text);
    input.focus();
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter is a newline; ignore Enter while an IME (e.g. Vietnamese Telex) is composing.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else form.querySelector("button[type=submit]").click();
    }
  });
  input.addEventListener("input", autosize);

  contactForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const show = (text, isError) => { contactMsg.textContent = text; contactMsg.classList.toggle("is-error", isError); };
    const body = {};
    for (const k of ["name", "phone", "email"]) {
      const v = contactForm.elements[k].value.trim();
      if (v) body[k] = v;
    }
    if (!Object.keys(body).length) return show(t.contactEmpty, true);
    const btn = contactForm.querySelector("button[type=submit]");
    btn.disabled = true;
    show("", false);
    try {
      await withSession((s) => api("POST", "/sessions/" + encodeURIComponent(s.session_id) + "/contact", body, s));
      show(t.contactThanks, false);
      contactForm.reset();
    } catch (err) {
      show((err.status >= 400 && err.status < 500 && err.serverMessage) || t.genericError, true);
    } finally { btn.disabled = false; }
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && session) schedulePoll(0);
  });
  window.addEventListener("offline", () => setStatus(t.offline));
  window.addEventListener("online", () => { setStatus(null); pollFailures = 0; if (session) schedulePoll(0); });

  applyText();
  if (navigator.onLine === false) setStatus(t.offline);
  if (session) schedulePoll(0);  // a stored session: load the conversation so far
})();
