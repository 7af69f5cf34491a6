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
  var MAX_CHARS = 2000;
  var POLL_MS = 5000;
  var RECONNECT_MIN_MS = 1000;
  var RECONNECT_MAX_MS = 15000;

  var TEXTS = {
    de: {
      launcher: "Fragen? Chat mit dem Bürgerservice",
      unread: "Neue Nachricht",
      title: "Chat mit dem Bürgerservice",
      close: "Chat schließen",
      intro: "Ich beantworte Fragen auf Grundlage der offiziellen Seiten der Stadt und nenne die Quelle. " +
        "Bitte geben Sie keine vertraulichen Daten ein.",
      log: "Chatverlauf",
      you: "Sie",
      bot: "Bürgerservice-Assistent",
      staff: "Mitarbeiterin oder Mitarbeiter",
      system: "Hinweis",
      inputLabel: "Ihre Nachricht",
      placeholder: "z. B. Was kostet ein Reisepass?",
      send: "Senden",
      human: "Mit einem Menschen sprechen",
      humanText: "Ich möchte mit einem Menschen sprechen",
      typing: "Der Assistent schreibt …",
      sources: "Quellen",
      updated: "Stand: ",
      newWindow: " (öffnet neues Fenster)",
      options: "Antwortmöglichkeiten",
      queued: "Sie sind in der Warteschlange. Eine Mitarbeiterin oder ein Mitarbeiter meldet sich hier.",
      staffState: "Eine Mitarbeiterin oder ein Mitarbeiter ist jetzt für Sie da.",
      closedState: "Diese Unterhaltung wurde beendet.",
      connecting: "Verbindung wird hergestellt …",
      reconnecting: "Verbindung unterbrochen. Wir verbinden Sie neu – Ihre Nachrichten gehen nicht verloren.",
      sendFailed: "Ihre Nachricht konnte nicht gesendet werden. Bitte versuchen Sie es gleich noch einmal.",
      errors: {
        invalid: "Diese Nachricht konnte ich leider nicht lesen. Bitte versuchen Sie es noch einmal.",
        empty: "Bitte geben Sie eine Nachricht ein.",
        too_long: "Ihre Nachricht ist zu lang (höchstens 2000 Zeichen). Bitte kürzen Sie sie etwas.",
        control_chars: "Ihre Nachricht enthält unzulässige Steuerzeichen. Bitte entfernen Sie sie und senden Sie " +
          "sie erneut.",
        failed: "Entschuldigung, Ihre Nachricht konnte gerade nicht verarbeitet werden. Bitte versuchen Sie es " +
          "gleich noch einmal.",
        unavailable: "Der Chat ist gerade nicht erreichbar. Wir verbinden Sie automatisch neu."
      }
    },
    en: {
      launcher: "Questions? Chat with Citizen Services",
      unread: "New message",
      title: "Chat with Citizen Services",
      close: "Close chat",
      intro: "I answer questions from the city's official pages and name the source. " +
        "Please do not enter confidential data.",
      log: "Chat history",
      you: "You",
      bot: "Citizen services assistant",
      staff: "Staff member",
      system: "Note",
      inputLabel: "Your message",
      placeholder: "e.g. How much is a passport?",
      send: "Send",
      human: "Talk to a person",
      humanText: "I would like to talk to a person",
      typing: "The assistant is typing …",
      sources: "Sources",
      updated: "As of: ",
      newWindow: " (opens in a new window)",
      options: "Reply options",
      queued: "You are in the queue. A member of staff will reply here.",
      staffState: "A member of staff is now with you.",
      closedState: "This conversation has ended.",
      connecting: "Connecting …",
      reconnecting: "Connection lost. Reconnecting – your messages are not lost.",
      sendFailed: "Your message could not be sent. Please try again in a moment.",
      errors: {
        invalid: "I could not read this message. Please try again.",
        empty: "Please enter a message.",
        too_long: "Your message is too long (2000 characters at most). Please shorten it.",
        control_chars: "Your message contains control characters that are not allowed. Please remove them.",
        failed: "Sorry, your message could not be processed right now. Please try again in a moment.",
        unavailable: "The chat is not reachable right now. We will reconnect automatically."
      }
    }
  };
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
  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes); // works on plain http too, unlike crypto.randomUUID
    var hex = "";
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] + 256).toString(16).slice(1);
    return "web-" + hex;
  }
  var conversationId = storageGet(STORAGE_KEY);
  if (!conversationId || !/^[A-Za-z0-9_.:-]{6,100}$/.test(conversationId)) {
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

  function scrollToEnd() {
    ui.log.scrollTop = ui.log.scrollHeight;
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
  function setState(state) {
    conversationState = state || "bot";
    var text = { queued: T.queued, staff: T.staffState, closed: T.closedState }[conversationState] || "";
    ui.stateLine.textContent = text;
    ui.stateLine.hidden = !text;
    ui.human.hidden = conversationState === "queued" || conversationState === "staff";
  }

  // ---- messages ---------------------------------------------------------------------------------------
  var seen = {}; // seq -> true: a message is shown once, whichever way it arrived
  var lastSeq = 0;
  var pending = []; // citizen messages shown before the server confirmed them

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
      b.addEventListener("click", function () { sendMessage(String(button.title), button.payload || null); });
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
    who.lang = UI_LANG;
    item.appendChild(who);
    var body = el("div", "bb-text");
    appendRichText(body, message.text);
    item.appendChild(body);
    if (Array.isArray(data.sources) && data.sources.length) item.appendChild(renderSources(data.sources));
    if (Array.isArray(message.buttons) && message.buttons.length) item.appendChild(renderButtons(message.buttons));
    return item;
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
    if (message.role === "citizen") scrollToEnd();
    else ui.log.scrollTop = Math.max(0, node.offsetTop - 8); // long answers are read from their start
  }

  function showPending(text) {
    var node = messageElement({ role: "citizen", text: text, data: {} });
    node.classList.add("bb-pending");
    ui.log.appendChild(node);
    var entry = { text: text, node: node };
    pending.push(entry);
    scrollToEnd();
    return entry;
  }

  function dropPending(entry) {
    var index = pending.indexOf(entry);
    if (index >= 0) pending.splice(index, 1);
    if (entry.node.parentNode) entry.node.parentNode.removeChild(entry.node);
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
    socket.onclose = function () {
      socket = null;
      socketOpen = false;
      setTyping(false);
      scheduleReconnect();
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
    else if (frame.kind === "state") setState(frame.state);
    else if (frame.kind === "typing") setTyping(Boolean(frame.active));
    else if (frame.kind === "error") {
      setTyping(false);
      var last = lastUnconfirmed();
      if (last && frame.code !== "unavailable") {
        ui.input.value = ui.input.value || last.text; // give the text back so it can be corrected
        dropPending(last);
      }
      showAlert(T.errors[frame.code] || String(frame.message || T.sendFailed));
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
    setTyping(true);
    var frame = { text: text, payload: payload || null };
    if (socket && socketOpen) {
      socket.send(JSON.stringify(frame));
    } else {
      sendRest(frame, entry);
      connect();
    }
    return true;
  }

  function apiUrl(suffix) {
    return ORIGIN + "/api/conversations/" + encodeURIComponent(conversationId) + suffix;
  }

  function sendRest(frame, entry) {
    window.fetch(apiUrl("/messages"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(frame),
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (body) {
      confirmRest(entry, body);
      applyRest(body);
      setTyping(false);
    }).catch(function () {
      setTyping(false);
      dropPending(entry);
      if (!ui.input.value) ui.input.value = frame.text;
      showAlert(T.sendFailed);
    });
  }

  /** The POST stored our message but answers only with the replies: place it just before them. */
  function confirmRest(entry, body) {
    entry.confirmed = true;
    entry.node.classList.remove("bb-pending");
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
    (body.messages || []).forEach(showMessage);
    if (body.conversation) setState(body.conversation.state);
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
