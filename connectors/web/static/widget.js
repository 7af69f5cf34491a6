/**
 * buergerbot web chat widget – embed with ONE tag: <script src="https://GATEWAY/widget/widget.js" defer></script>
 *
 * Why it is built like this:
 * - Plain JS, no build step, no third-party requests: the stylesheet and the live connection come from the
 *   same gateway that served this file, so a city's privacy statement stays simple.
 * - No cookies. The conversation id is 128 random bits kept in sessionStorage: it survives reloads and
 *   reconnects inside the tab and is forgotten when the tab closes. Whoever knows the id can read the chat,
 *   so it is never put into URLs of the page, logs of the page, or storage that outlives the tab.
 * - XSS-safe by construction: every text from the server is set with textContent; links are built with
 *   DOM APIs and only for https URLs. innerHTML is never used.
 * - Live first, REST as fallback: a WebSocket replays what this tab has not seen (after=last seq) and then
 *   streams new messages (also those written later by staff). If it cannot connect, messages are sent with
 *   POST and new ones are fetched with GET ?after=SEQ while reconnect attempts back off.
 * - Sent once, answered once: every message carries a random client_message_id. Until it is answered, the
 *   widget sends it again with the same id (the socket closed first, the POST got no answer, 409, 5xx), over
 *   REST or the socket, whichever is up; the server stores and answers an id once and repeats its answer.
 * - Accessible (WCAG 2.1 AA / BITV 2.0): real buttons and labels, role="log" for messages, a status line,
 *   Escape closes and returns focus to the launcher, every message carries its language.
 */
(function () {
  "use strict";

  if (window.__buergerbotWidget) return; // embedded twice: keep one
  window.__buergerbotWidget = true;

  var script = document.currentScript;
  var BASE = new URL(script && script.src ? script.src : "/widget/widget.js", window.location.href);
  var ORIGIN = BASE.origin;
  var WS_ORIGIN = ORIGIN.replace(/^http/, "ws");
  var STORAGE_KEY = "buergerbot.conversation";
  var OPEN_KEY = "buergerbot.open";
  // The gateway replaces the placeholder when it serves this file (connectors.web.router.widget_js) with
  // {"maxChars": the installation's limit (BUERGERBOT_MAX_QUESTION_CHARS), "conversationId": the id rule
  // (bot.conversation.ids)}, so neither is copied here and neither can drift from the server's.
  var CONFIG = __BUERGERBOT_WIDGET_CONFIG__;
  var MAX_CHARS = CONFIG.maxChars;
  var CONVERSATION_ID = new RegExp(CONFIG.conversationId);
  var POLL_MS = 5000;
  var RECONNECT_MIN_MS = 1000;
  var RECONNECT_MAX_MS = 15000;
  var CALLBACK_PAYLOAD = "/request_callback";
  var RETRY_MS = [1000, 2500, 5000, 10000, 15000]; // waits before sending an unanswered message again

  // The widget's texts by language, {"de": {...}, "en": {...}}: written in by the gateway like CONFIG, from
  // wording/texts.py (widget_texts), where every text citizens read is kept; "too long" names the limit.
  var TEXTS = __BUERGERBOT_WIDGET_TEXTS__;
  var UI_LANG = (document.documentElement.lang || "de").toLowerCase().indexOf("en") === 0 ? "en" : "de";
  var T = TEXTS[UI_LANG];

  // ---- conversation id (sessionStorage, never a cookie) -------------------------------------------------
  var memoryStore = {};
  function storageGet(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return memoryStore[key] || null; }
  }
  function storageSet(key, value) {
    try { window.sessionStorage.setItem(key, value); } catch (e) { memoryStore[key] = value; }
  }
  function randomHex() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes); // works on plain http too, unlike crypto.randomUUID
    var hex = "";
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] + 256).toString(16).slice(1);
    return hex;
  }
  function randomId() {
    return "web-" + randomHex();
  }
  /** A new client_message_id (8-64 of A-Z a-z 0-9 _ -, bot.conversation.ids): one per message, kept for its retries. */
  function newMessageId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      try { return window.crypto.randomUUID(); } catch (e) { /* only in secure contexts (https, localhost) */ }
    }
    return randomHex();
  }
  var conversationId = storageGet(STORAGE_KEY);
  if (!conversationId || !CONVERSATION_ID.test(conversationId)) {
    conversationId = randomId();
    storageSet(STORAGE_KEY, conversationId);
  }

  // ---- DOM helpers ------------------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeHttpsUrl(raw) {
    try {
      var url = new URL(String(raw));
      return url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function externalLink(href, label) {
    var a = el("a", "bb-link", label);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.appendChild(el("span", "bb-sr", T.newWindow));
    return a;
  }

  var URL_PATTERN = /https?:\/\/[^\s<>"']+/g;

  /** Text with line breaks and https links, built only from text nodes and elements. */
  function appendRichText(parent, text) {
    var lines = String(text || "").split(/\r?\n/);
    lines.forEach(function (line, index) {
      if (index > 0) parent.appendChild(document.createElement("br"));
      var last = 0;
      line.replace(URL_PATTERN, function (match, offset) {
        var trimmed = match.replace(/[.,;:!?)\]]+$/, "");
        var href = safeHttpsUrl(trimmed);
        if (!href) return match; // http and odd URLs stay plain text
        if (offset > last) parent.appendChild(document.createTextNode(line.slice(last, offset)));
        parent.appendChild(externalLink(href, trimmed));
        last = offset + trimmed.length;
        return match;
      });
      if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  function formatDate(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value || ""));
    return m ? m[3] + "." + m[2] + "." + m[1] : "";
  }

  // ---- widget DOM -------------------------------------------------------------------------------------
  function injectStylesheet() {
    if (document.querySelector("link[data-buergerbot]")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("widget.css", BASE).href;
    link.setAttribute("data-buergerbot", "");
    document.head.appendChild(link);
  }

  var ui = {};

  function build() {
    var root = el("div", "bb-widget");
    root.lang = UI_LANG;

    var launcher = el("button", "bb-launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "bb-dialog");
    launcher.appendChild(el("span", "bb-launcher-text", T.launcher));
    var unread = el("span", "bb-unread");
    unread.hidden = true;
    unread.appendChild(el("span", "bb-sr", " – " + T.unread));
    launcher.appendChild(unread);

    var dialog = el("section", "bb-dialog");
    dialog.id = "bb-dialog";
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "false");
    dialog.setAttribute("aria-labelledby", "bb-title");
    dialog.hidden = true;

    var header = el("div", "bb-header");
    var title = el("h2", "bb-title", T.title);
    title.id = "bb-title";
    var close = el("button", "bb-close");
    close.type = "button";
    close.setAttribute("aria-label", T.close);
    var cross = el("span", null, "×");
    cross.setAttribute("aria-hidden", "true");
    close.appendChild(cross);
    header.appendChild(title);
    header.appendChild(close);

    var intro = el("p", "bb-intro", T.intro);
    var status = el("div", "bb-status");
    status.setAttribute("role", "status");
    var stateLine = el("p", "bb-state");
    stateLine.hidden = true;
    var connLine = el("p", "bb-conn");
    connLine.hidden = true;
    status.appendChild(stateLine);
    status.appendChild(connLine);

    var log = el("div", "bb-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", T.log);
    log.tabIndex = 0; // scrollable region must be reachable by keyboard
    if ("ResizeObserver" in window) new window.ResizeObserver(keepBottomInView).observe(log);

    var typing = el("p", "bb-typing");
    typing.setAttribute("role", "status");
    var dots = el("span", "bb-dots");
    dots.setAttribute("aria-hidden", "true");
    for (var i = 0; i < 3; i++) dots.appendChild(el("span", "bb-dot"));
    typing.appendChild(dots);
    var typingText = el("span", "bb-typing-text");
    typing.appendChild(typingText);
    typing.hidden = true;

    var alertBox = el("p", "bb-alert");
    alertBox.setAttribute("role", "alert");
    alertBox.hidden = true;

    var form = el("form", "bb-form");
    form.noValidate = true;
    var label = el("label", "bb-label", T.inputLabel);
    label.htmlFor = "bb-input";
    var row = el("div", "bb-row");
    var input = el("input", "bb-input");
    input.id = "bb-input";
    input.type = "text";
    input.name = "message";
    input.maxLength = MAX_CHARS;
    input.autocomplete = "off";
    input.placeholder = T.placeholder;
    var send = el("button", "bb-send", T.send);
    send.type = "submit";
    row.appendChild(input);
    row.appendChild(send);
    form.appendChild(label);
    form.appendChild(row);

    var human = el("button", "bb-human", T.human);
    human.type = "button";

    dialog.appendChild(header);
    dialog.appendChild(intro);
    dialog.appendChild(status);
    dialog.appendChild(log);
    dialog.appendChild(typing);
    dialog.appendChild(alertBox);
    dialog.appendChild(form);
    dialog.appendChild(human);
    root.appendChild(launcher);
    root.appendChild(dialog);
    document.body.appendChild(root);

    ui = {
      root: root, launcher: launcher, unread: unread, dialog: dialog, close: close, stateLine: stateLine,
      connLine: connLine, log: log, typing: typing, typingText: typingText, alertBox: alertBox, form: form,
      input: input, human: human
    };

    launcher.addEventListener("click", openDialog);
    close.addEventListener("click", closeDialog);
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") {
        event.preventDefault();
        closeDialog();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value;
      if (sendMessage(text, null)) input.value = "";
    });
    human.addEventListener("click", function () { sendMessage(T.humanText, "/request_human"); });
  }

  function openDialog() {
    ui.dialog.hidden = false;
    ui.launcher.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.unread.hidden = true;
    storageSet(OPEN_KEY, "1");
    connect();
    ui.input.focus();
    scrollToEnd();
  }

  function closeDialog() {
    ui.dialog.hidden = true;
    ui.launcher.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "false");
    storageSet(OPEN_KEY, "0");
    ui.launcher.focus();
  }

  // ---- where the log is scrolled ------------------------------------------------------------------------
  // A reply is read from its start: after the citizen's question the log shows the first message of the
  // reply (an answer, then "War das hilfreich?"), not the end of the last one. A reply is what arrives
  // while the server works on the citizen's message (between its typing frames, or in one REST answer);
  // any other message (staff, status changes, replay) is shown from its own start. When the space for the
  // log changes (a status line or alert appears, the typing line goes), the bottom of what was visible
  // stays in place, without pushing the start of the latest reply out of view.
  var turnStart = null; // first message of the latest reply
  var replyOpen = false; // the server is still answering the citizen's last message
  var logHeight = 0;

  function setLogScroll(top) {
    ui.log.scrollTop = top;
    logHeight = ui.log.clientHeight; // reading it applies the layout, so the observer sees no false change
  }

  function scrollToEnd() {
    setLogScroll(ui.log.scrollHeight);
  }

  function startOf(node) {
    return Math.max(0, node.offsetTop - 8);
  }

  function showReplyStart(node, seq) {
    var startSeq = turnStart ? Number(turnStart.getAttribute("data-seq")) || 0 : 0;
    if (!replyOpen || !turnStart || !turnStart.isConnected || (seq && startSeq > seq)) turnStart = node;
    setLogScroll(startOf(turnStart));
  }

  function setReplyOpen(open) {
    replyOpen = open;
    if (open) turnStart = null;
  }

  function keepBottomInView() {
    var height = ui.log.clientHeight;
    if (!height) return; // closed dialog
    if (logHeight && height !== logHeight) {
      var top = ui.log.scrollTop + (logHeight - height);
      if (turnStart && turnStart.isConnected) top = Math.min(top, startOf(turnStart));
      ui.log.scrollTop = Math.max(0, top);
    }
    logHeight = height;
  }

  function showAlert(text) {
    ui.alertBox.textContent = text || "";
    ui.alertBox.hidden = !text;
  }

  function setTyping(active) {
    ui.typing.hidden = !active;
    ui.typingText.textContent = active ? T.typing : "";
  }

  function setConnection(text) {
    ui.connLine.textContent = text || "";
    ui.connLine.hidden = !text;
  }

  var conversationState = "bot";
  var queuePosition = 0; // from state frames and GET .../queue while waiting
  var availability = null; // while waiting: can someone answer now, when is the team back, callback left?
  var staffName = ""; // the staff member holding the conversation, as the citizen may see it
  var queueTimer = null;
  var QUEUE_POLL_MS = 20000;

  /** "am Mittwoch um 08:00 Uhr" comes from the server in German; other languages build it from the ISO time. */
  function nextOpeningText(status) {
    if (UI_LANG === "de") return typeof status.next_opening === "string" && status.next_opening
      ? status.next_opening : T.queuedLater;
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2})/.exec(String(status.next_opening_at || ""));
    if (!m) return T.queuedLater;
    var weekday = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDay();
    return T.queuedOn.replace("{day}", T.weekdays[weekday]).replace("{time}", m[4]);
  }

  /** The status line while waiting says what the chat's status message says: no promise nobody can keep. */
  function queuedText() {
    var status = availability;
    if (status && status.callback) return T.queuedCallback;
    if (status && status.office_open === false) return T.queuedClosed.replace("{when}", nextOpeningText(status));
    var n = String(queuePosition || 1);
    if (status && status.staff_online === false) return T.queuedBusy.replace("{n}", n);
    if (status && queuePosition) return T.queuedAt.replace("{n}", n);
    return T.queued; // not known yet: GET .../queue follows at once
  }

  function setState(state, details) {
    details = details || {};
    conversationState = state || "bot";
    if (conversationState !== "queued") queuePosition = 0;
    else if (typeof details.position === "number" && details.position > 0) queuePosition = details.position;
    if (conversationState !== "queued") availability = null;
    else if (typeof details.office_open === "boolean") {
      availability = {
        office_open: details.office_open,
        staff_online: details.staff_online !== false,
        next_opening: details.next_opening,
        next_opening_at: details.next_opening_at,
        callback: Boolean(details.callback) || Boolean(availability && availability.callback)
      };
    }
    if (conversationState !== "staff") staffName = "";
    else if (typeof details.staff === "string" && details.staff) staffName = details.staff.slice(0, 80);
    var text = { queued: queuedText(), staff: T.staffState, closed: T.closedState }[conversationState] || "";
    if (conversationState === "staff" && staffName) text = T.staffNamed.replace("{name}", staffName);
    if (ui.stateLine.textContent !== text) ui.stateLine.textContent = text; // unchanged text is not re-announced
    ui.stateLine.hidden = !text;
    ui.human.hidden = conversationState === "queued" || conversationState === "staff";
    if (conversationState === "queued") startQueuePolling(!queuePosition || !availability);
    else stopQueuePolling();
  }

  /** The position moves while others are served: ask now and then while waiting. */
  function refreshPosition() {
    window.fetch(apiUrl("/queue"), { credentials: "omit" }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (status) {
      if (status && conversationState === "queued") setState("queued", status); // hours move on by themselves
    }).catch(function () { /* offline: the next tick tries again */ });
  }

  function startQueuePolling(now) {
    if (now) refreshPosition();
    if (!queueTimer) queueTimer = window.setInterval(refreshPosition, QUEUE_POLL_MS);
  }

  function stopQueuePolling() {
    if (queueTimer) window.clearInterval(queueTimer);
    queueTimer = null;
  }

  // ---- messages ---------------------------------------------------------------------------------------
  var seen = {}; // seq -> true: a message is shown once, whichever way it arrived
  var lastSeq = 0;
  var pending = []; // citizen messages shown before the server confirmed them
  var inflight = {}; // client_message_id -> entry: sent, not yet answered (sent again with the same id)

  function roleLabel(role) {
    return { citizen: T.you, bot: T.bot, staff: T.staff }[role] || T.system;
  }

  function renderSources(sources) {
    var box = el("div", "bb-sources");
    box.appendChild(el("p", "bb-sources-title", T.sources));
    var list = el("ul", "bb-source-list");
    sources.forEach(function (source) {
      if (!source || typeof source !== "object") return;
      var item = el("li", "bb-source");
      var label = String(source.title || "");
      if (source.section_label) label += " – " + source.section_label;
      var href = safeHttpsUrl(source.url);
      item.appendChild(href ? externalLink(href, label) : el("span", null, label));
      var date = formatDate(source.updated);
      if (date) item.appendChild(el("span", "bb-updated", " (" + T.updated + date + ")"));
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  function renderButtons(buttons) {
    var group = el("div", "bb-buttons");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", T.options);
    buttons.forEach(function (button) {
      if (!button || !button.title) return;
      var b = el("button", "bb-option", button.title);
      b.type = "button";
      if (button.payload === CALLBACK_PAYLOAD) b.setAttribute("data-callback", "");
      b.addEventListener("click", function () {
        if (button.payload === CALLBACK_PAYLOAD) openCallbackForm(b); // a form, not a chat message
        else sendMessage(String(button.title), button.payload || null);
      });
      group.appendChild(b);
    });
    return group;
  }

  function messageElement(message) {
    var role = String(message.role || "system");
    var data = message.data && typeof message.data === "object" ? message.data : {};
    var item = el("div", "bb-msg bb-msg--" + (/^[a-z]+$/.test(role) ? role : "system"));
    var language = typeof data.language === "string" && /^[a-zA-Z-]{2,12}$/.test(data.language)
      ? data.language : (role === "citizen" ? UI_LANG : "de");
    item.lang = language;
    var who = el("p", "bb-who", roleLabel(role));
    if (role === "staff" && typeof data.staff === "string" && data.staff) who.textContent += ": " + data.staff.slice(0, 80);
    who.lang = UI_LANG;
    item.appendChild(who);
    var sources = Array.isArray(data.sources) ? data.sources.filter(function (s) { return s && typeof s === "object"; })
      : [];
    var text = sources.length ? withoutSourceLines(message.text) : String(message.text || "");
    var body = el("div", "bb-text");
    var parts = languageParts(data.parts, message.text);
    if (parts) {
      // e.g. an English lead and the official German text: each part in its language, for screen readers
      parts.forEach(function (part) {
        var block = el("div", "bb-part");
        block.lang = part.lang;
        appendRichText(block, sources.length ? withoutSourceLines(part.text) : part.text);
        if (block.textContent.trim()) body.appendChild(block);
      });
    } else {
      appendRichText(body, text);
    }
    item.appendChild(body);
    if (sources.length) item.appendChild(renderSources(sources));
    if (Array.isArray(message.buttons) && message.buttons.length) item.appendChild(renderButtons(message.buttons));
    return item;
  }

  /** The sources are listed under "Quellen"; a raw "Quelle: <url> (Stand: …)" line in the text would repeat them. */
  var SOURCE_LINE = /^\s*(?:Quellen?|Sources?)\s*:\s*https?:\/\/\S+(?:\s*\((?:Stand|As of)\b[^)]*\))?\s*$/i;
  function withoutSourceLines(text) {
    var lines = String(text || "").split(/\r?\n/).filter(function (line) { return !SOURCE_LINE.test(line); });
    return lines.join("\n").replace(/\n{3,}/g, "\n\n").trim();
  }

  /** Parts in their languages, used only when they really make up the message's text. */
  function languageParts(parts, text) {
    if (!Array.isArray(parts) || !parts.length) return null;
    var valid = parts.every(function (part) {
      return part && typeof part.text === "string" && typeof part.lang === "string" && /^[a-zA-Z-]{2,12}$/.test(part.lang);
    });
    if (!valid) return null;
    var joined = parts.map(function (part) { return part.text; }).join("\n\n");
    return joined === String(text || "") ? parts : null;
  }

  function insertBySeq(node, seq) {
    var children = ui.log.children;
    for (var i = 0; i < children.length; i++) {
      var other = Number(children[i].getAttribute("data-seq"));
      if (!other || other > seq) {
        ui.log.insertBefore(node, children[i]);
        return;
      }
    }
    ui.log.appendChild(node);
  }

  function adoptPending(message) {
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].text === message.text) {
        var node = pending[i].node;
        pending[i].adopted = true; // stored: the server has it, whatever happens to its answer
        pending.splice(i, 1);
        node.classList.remove("bb-pending");
        node.setAttribute("data-seq", String(message.seq));
        node.parentNode.removeChild(node);
        insertBySeq(node, message.seq);
        return true;
      }
    }
    return false;
  }

  function showMessage(message) {
    if (!message || typeof message !== "object") return;
    var seq = Number(message.seq) || 0;
    if (seq && seen[seq]) return;
    if (seq) {
      seen[seq] = true;
      lastSeq = Math.max(lastSeq, seq);
    }
    if (message.role === "citizen" && adoptPending(message)) return;
    if (message.role !== "citizen") setTyping(false);
    var node = messageElement(message);
    if (seq) node.setAttribute("data-seq", String(seq));
    insertBySeq(node, seq || Number.MAX_SAFE_INTEGER);
    if (ui.dialog.hidden && message.role !== "citizen") ui.unread.hidden = false;
    var data = message.data && typeof message.data === "object" ? message.data : {};
    if (data.kind === "callback_confirmed") disableCallbackButtons();
    if (message.role === "citizen") {
      turnStart = null;
      scrollToEnd();
    } else {
      showReplyStart(node, seq);
    }
  }

  function showPending(text) {
    var node = messageElement({ role: "citizen", text: text, data: {} });
    node.classList.add("bb-pending");
    ui.log.appendChild(node);
    var entry = { text: text, node: node };
    pending.push(entry);
    turnStart = null;
    scrollToEnd();
    return entry;
  }

  function dropPending(entry) {
    var index = pending.indexOf(entry);
    if (index >= 0) pending.splice(index, 1);
    if (entry.node.parentNode) entry.node.parentNode.removeChild(entry.node);
  }

  // ---- callback / e-mail request form (outside office hours or when nobody is free) ----------------------
  var callback = null; // the form's elements, built on first use

  function callbackErrorText(body, fallback) {
    var detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail) && detail.length) {
      var parts = detail.map(function (d) { return String((d && d.msg) || "").replace(/^Value error, /, ""); });
      return parts.filter(Boolean).join(" ") || fallback;
    }
    return fallback;
  }

  function buildCallbackForm() {
    var form = el("form", "bb-callback");
    form.noValidate = true;
    form.setAttribute("aria-labelledby", "bb-cb-title");
    var title = el("h3", "bb-cb-title", T.cbTitle);
    title.id = "bb-cb-title";
    form.appendChild(title);
    form.appendChild(el("p", "bb-cb-intro", T.cbIntro));

    var way = el("fieldset", "bb-cb-way");
    way.appendChild(el("legend", "bb-label", T.cbWay));
    var radios = [["email", T.cbEmail], ["phone", T.cbPhone]].map(function (choice, index) {
      var label = el("label", "bb-cb-choice");
      var radio = el("input");
      radio.type = "radio";
      radio.name = "bb-cb-kind";
      radio.value = choice[0];
      radio.checked = index === 0;
      label.appendChild(radio);
      label.appendChild(document.createTextNode(" " + choice[1]));
      way.appendChild(label);
      return radio;
    });
    form.appendChild(way);

    var contactLabel = el("label", "bb-label", T.cbEmailLabel);
    contactLabel.htmlFor = "bb-cb-contact";
    var contact = el("input", "bb-input bb-cb-contact");
    contact.id = "bb-cb-contact";
    contact.maxLength = 200;
    contact.setAttribute("aria-describedby", "bb-cb-error");
    form.appendChild(contactLabel);
    form.appendChild(contact);

    var noteLabel = el("label", "bb-label", T.cbNote);
    noteLabel.htmlFor = "bb-cb-note";
    var note = el("textarea", "bb-input bb-cb-note");
    note.id = "bb-cb-note";
    note.rows = 3;
    note.maxLength = 1000;
    form.appendChild(noteLabel);
    form.appendChild(note);

    var consentRow = el("div", "bb-cb-consent");
    var consent = el("input");
    consent.type = "checkbox";
    consent.id = "bb-cb-consent";
    consent.required = true;
    consent.setAttribute("aria-describedby", "bb-cb-error");
    var consentLabel = el("label", null, T.cbConsent);
    consentLabel.htmlFor = "bb-cb-consent";
    consentRow.appendChild(consent);
    consentRow.appendChild(consentLabel);
    form.appendChild(consentRow);

    var error = el("p", "bb-alert bb-cb-error");
    error.id = "bb-cb-error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    form.appendChild(error);

    var buttons = el("div", "bb-cb-buttons");
    var submit = el("button", "bb-send bb-cb-submit", T.cbSubmit);
    submit.type = "submit";
    var cancel = el("button", "bb-option bb-cb-cancel", T.cbCancel);
    cancel.type = "button";
    buttons.appendChild(submit);
    buttons.appendChild(cancel);
    form.appendChild(buttons);

    callback = {
      form: form, radios: radios, contactLabel: contactLabel, contact: contact, note: note, consent: consent,
      error: error, submit: submit, opener: null
    };
    radios.forEach(function (radio) { radio.addEventListener("change", updateContactField); });
    updateContactField();
    cancel.addEventListener("click", function () { closeCallbackForm(); });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") {
        event.preventDefault();
        event.stopPropagation(); // closes the form, not the whole chat
        closeCallbackForm();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submitCallback();
    });
    ui.dialog.insertBefore(form, ui.form);
  }

  /** A request was left: its buttons stay visible (what happened is still readable) but cannot be used again. */
  function disableCallbackButtons() {
    var buttons = ui.log.querySelectorAll(".bb-option[data-callback]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true;
      buttons[i].textContent = T.cbDone;
    }
  }

  function callbackKind() {
    return callback.radios[1].checked ? "phone" : "email";
  }

  function updateContactField() {
    var phone = callbackKind() === "phone";
    callback.contactLabel.textContent = phone ? T.cbPhoneLabel : T.cbEmailLabel;
    callback.contact.type = phone ? "tel" : "email";
    callback.contact.autocomplete = phone ? "tel" : "email";
    callback.contact.inputMode = phone ? "tel" : "email";
  }

  function showCallbackError(text, field) {
    callback.error.textContent = text || "";
    callback.error.hidden = !text;
    callback.contact.removeAttribute("aria-invalid");
    callback.consent.removeAttribute("aria-invalid");
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  function openCallbackForm(opener) {
    if (!callback) buildCallbackForm();
    callback.opener = opener || null;
    callback.form.hidden = false;
    ui.dialog.classList.add("bb-dialog--form");
    showCallbackError("");
    (callback.radios[1].checked ? callback.radios[1] : callback.radios[0]).focus();
    callback.form.scrollIntoView({ block: "nearest" });
  }

  function closeCallbackForm(focusInput) {
    if (!callback || callback.form.hidden) return;
    callback.form.hidden = true;
    ui.dialog.classList.remove("bb-dialog--form");
    var opener = callback.opener;
    if (!focusInput && opener && opener.isConnected && opener.offsetParent !== null) opener.focus();
    else ui.input.focus();
  }

  function submitCallback() {
    var contact = callback.contact.value.trim();
    if (!contact) {
      showCallbackError(T.cbMissing, callback.contact);
      return;
    }
    if (!callback.consent.checked) {
      showCallbackError(T.cbNoConsent, callback.consent);
      return;
    }
    showCallbackError("");
    callback.submit.disabled = true;
    callback.submit.textContent = T.cbSending;
    var body = {
      contact_kind: callbackKind(),
      contact: contact,
      note: callback.note.value.trim(),
      consent: callback.consent.checked
    };
    window.fetch(apiUrl("/callback"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit"
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.ok) {
          callback.contact.value = "";
          callback.note.value = "";
          callback.consent.checked = false;
          closeCallbackForm(true);
          disableCallbackButtons();
          if (availability) availability.callback = true;
          if (data && data.state) setState(data.state);
          if (conversationState === "queued") refreshPosition(); // the status line now names the request
          if (!socketOpen) poll(); // the confirmation arrives live; without a socket fetch it now
          return;
        }
        var field = response.status === 400 && !body.consent ? callback.consent : callback.contact;
        // 422: the server's format check of the contact; our own words, in the page's language
        var text = response.status === 422 ? (body.contact_kind === "phone" ? T.cbBadPhone : T.cbBadEmail)
          : callbackErrorText(data, T.cbFailed);
        showCallbackError(text, field);
      });
    }).catch(function () {
      showCallbackError(T.cbFailed);
    }).then(function () {
      callback.submit.disabled = false;
      callback.submit.textContent = T.cbSubmit;
    });
  }

  // ---- transport: WebSocket first, REST as fallback ---------------------------------------------------
  var socket = null;
  var socketOpen = false;
  var reconnectTimer = null;
  var pollTimer = null;
  var attempts = 0;
  var started = false;

  function connect() {
    started = true;
    if (socket || reconnectTimer) return;
    if (!("WebSocket" in window)) {
      startPolling();
      return;
    }
    setConnection(attempts ? T.reconnecting : T.connecting);
    var url = WS_ORIGIN + "/ws/conversations/" + encodeURIComponent(conversationId) + "?after=" + lastSeq;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      socket = null;
      scheduleReconnect();
      return;
    }
    socket.onopen = function () {
      socketOpen = true;
      attempts = 0;
      stopPolling();
      setConnection("");
      showAlert("");
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handleFrame(frame);
    };
    var opened = socket;
    socket.onclose = function () {
      socket = null;
      socketOpen = false;
      setTyping(false);
      setReplyOpen(false);
      scheduleReconnect();
      resendFrom(opened);
    };
    socket.onerror = function () { /* onclose follows and schedules the reconnect */ };
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    attempts += 1;
    setConnection(T.reconnecting);
    startPolling();
    var delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * Math.pow(2, attempts - 1));
    delay = Math.round(delay * (0.8 + Math.random() * 0.4)); // jitter: not every tab at once after a restart
    reconnectTimer = window.setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, delay);
  }

  function handleFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    if (frame.kind === "message") showMessage(frame.message);
    else if (frame.kind === "state") setState(frame.state, frame);
    else if (frame.kind === "typing") {
      setTyping(Boolean(frame.active));
      if (!frame.active) {
        setReplyOpen(false); // the server relayed every reply before this frame
        answered(inflightEntry(frame.client_message_id));
      }
    }
    else if (frame.kind === "error") {
      setTyping(false);
      setReplyOpen(false);
      var entry = inflightEntry(frame.client_message_id) || lastUnconfirmed();
      // still being answered by another request, or failed half-way: the same id again gets (or finishes) that answer
      if (entry && (frame.code === "in_progress" || frame.code === "failed") && retryLater(entry, 0)) return;
      if (entry && frame.code !== "unavailable") giveBack(entry);
      showAlert(T.errors[frame.code] || String(frame.message || T.sendFailed));
    }
  }

  function inflightEntry(id) {
    return typeof id === "string" && Object.prototype.hasOwnProperty.call(inflight, id) ? inflight[id] : null;
  }

  /** The server answered this message (or refused it for good): it is not sent again. */
  function answered(entry) {
    if (!entry || entry.retryTimer) return; // an error frame just scheduled a retry; its typing frame follows it
    delete inflight[entry.frame.client_message_id];
  }

  /** A refusal or the last failure: the message is not sent again, its text goes back into the input field. */
  function giveBack(entry) {
    if (entry.retryTimer) window.clearTimeout(entry.retryTimer);
    delete inflight[entry.frame.client_message_id];
    if (entry.adopted) return; // stored by the server (shown with its seq): it stays, only its answer is missing
    ui.input.value = ui.input.value || entry.text; // give the text back so it can be corrected
    dropPending(entry);
  }

  /** Send an unanswered message again, with its id, after `minMs` or the next back-off step; false when out of tries. */
  function retryLater(entry, minMs) {
    if (entry.retryTimer) return true;
    if (entry.tries > RETRY_MS.length) return false;
    var delay = Math.max(minMs || 0, RETRY_MS[Math.min(entry.tries, RETRY_MS.length) - 1] || 0);
    entry.retryTimer = window.setTimeout(function () {
      entry.retryTimer = null;
      if (inflightEntry(entry.frame.client_message_id) === entry) deliver(entry);
    }, delay);
    return true;
  }

  /** The socket closed: what went out on it and was not answered goes again (over REST while it is down). */
  function resendFrom(closed) {
    Object.keys(inflight).forEach(function (id) {
      var entry = inflight[id];
      if (entry.via === closed && !entry.retryTimer) deliver(entry);
    });
  }

  /** Send a message, or send it again: always with the same client_message_id, so it is stored and answered once. */
  function deliver(entry) {
    entry.tries += 1;
    setTyping(true);
    setReplyOpen(true);
    if (socket && socketOpen) {
      entry.via = socket; // if this socket closes before the answer, the message goes again
      socket.send(JSON.stringify(entry.frame));
    } else {
      entry.via = null;
      sendRest(entry);
      connect();
    }
  }

  function sendMessage(rawText, payload) {
    var text = String(rawText || "").trim();
    if (!text) {
      showAlert(T.errors.empty);
      ui.input.focus();
      return false;
    }
    if (text.length > MAX_CHARS) {
      showAlert(T.errors.too_long);
      return false;
    }
    showAlert("");
    started = true;
    var entry = showPending(text);
    entry.frame = { text: text, payload: payload || null, client_message_id: newMessageId() };
    entry.tries = 0;
    entry.retryTimer = null;
    inflight[entry.frame.client_message_id] = entry;
    deliver(entry);
    return true;
  }

  function apiUrl(suffix) {
    return ORIGIN + "/api/conversations/" + encodeURIComponent(conversationId) + suffix;
  }

  function sendRest(entry) {
    window.fetch(apiUrl("/messages"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(entry.frame),
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) {
        // keep the body: a 422 names why the text was refused (the same codes as the socket's error frames)
        return response.json().catch(function () { return null; }).then(function (body) {
          var failure = new Error("HTTP " + response.status);
          failure.status = response.status;
          failure.body = body;
          failure.retryAfter = Number(response.headers.get("Retry-After")) || 0;
          throw failure;
        });
      }
      return response.json();
    }).then(function (body) {
      answered(entry);
      confirmRest(entry, body);
      applyRest(body);
      setTyping(false);
      setReplyOpen(false);
    }).catch(function (error) {
      if (inflightEntry(entry.frame.client_message_id) !== entry) return; // answered meanwhile (by the socket)
      var status = error && error.status;
      // no answer at all, 409 (still being answered) or a server failure: the same id again is safe
      if ((!status || status === 409 || status >= 500) && retryLater(entry, ((error && error.retryAfter) || 0) * 1000)) return;
      setTyping(false);
      setReplyOpen(false);
      giveBack(entry);
      showAlert(status === 429 ? T.errors.rate_limited : (refusalText(error) || T.sendFailed));
    });
  }

  /** Why the server refused a text (422 from the shared input check), in the page's language; "" if unknown. */
  function refusalText(error) {
    var detail = error && error.status === 422 && error.body && error.body.detail;
    if (!Array.isArray(detail)) return "";
    for (var i = 0; i < detail.length; i++) {
      var code = detail[i] && detail[i].type;
      if (typeof code === "string" && Object.prototype.hasOwnProperty.call(T.errors, code)) return T.errors[code];
    }
    return "";
  }

  /** The POST stored our message but answers only with the replies: place it just before them. */
  function confirmRest(entry, body) {
    entry.confirmed = true;
    entry.node.classList.remove("bb-pending");
    if (entry.adopted) return; // the socket already placed it by its own seq
    var seqs = ((body && body.messages) || []).map(function (m) { return Number(m.seq) || 0; }).filter(Boolean);
    if (!seqs.length) return; // no reply (staff holds the chat): a later replay brings its seq and adopts it
    var index = pending.indexOf(entry);
    if (index >= 0) pending.splice(index, 1);
    var seq = Math.min.apply(null, seqs) - 0.5;
    entry.node.setAttribute("data-seq", String(seq));
    entry.node.parentNode.removeChild(entry.node);
    insertBySeq(entry.node, seq);
  }

  function lastUnconfirmed() {
    for (var i = pending.length - 1; i >= 0; i--) if (!pending[i].confirmed) return pending[i];
    return null;
  }

  function applyRest(body) {
    if (!body) return;
    var batch = !replyOpen && Boolean((body.messages || []).length); // one poll's news is read from its start
    if (batch) setReplyOpen(true);
    (body.messages || []).forEach(showMessage);
    if (batch) setReplyOpen(false);
    if (body.conversation) setState(body.conversation.state, { staff: body.conversation.assignee_name });
  }

  function poll() {
    window.fetch(apiUrl("?after=" + lastSeq), { credentials: "omit" }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(applyRest).catch(function () { /* still offline: the next poll or reconnect tries again */ });
  }

  function startPolling() {
    if (pollTimer || !started) return;
    pollTimer = window.setInterval(function () {
      if (socketOpen) stopPolling();
      else poll();
    }, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer) window.clearInterval(pollTimer);
    pollTimer = null;
  }

  window.addEventListener("online", function () {
    Object.keys(inflight).forEach(function (id) { // back online: unanswered messages go now, not after the back-off
      var entry = inflight[id];
      if (entry.retryTimer) {
        window.clearTimeout(entry.retryTimer);
        entry.retryTimer = null;
        deliver(entry);
      }
    });
    if (!started || socketOpen) return;
    if (reconnectTimer) {
      window.clearTimeout(reconnectTimer);
      reconnectTimer = null;
    }
    connect();
  });

  function init() {
    injectStylesheet();
    build();
    setState("bot");
    if (storageGet(OPEN_KEY) === "1") {
      // a reload inside the tab: show the conversation again without stealing focus from the page
      ui.dialog.hidden = false;
      ui.launcher.hidden = true;
      ui.launcher.setAttribute("aria-expanded", "true");
      connect();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
