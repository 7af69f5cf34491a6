/**
 * Staff takeover console (plain JS, no framework, no build step).
 *
 * Why it is built like this:
 * - Strict CSP: no inline scripts or styles; every text from the server is set with textContent, links
 *   are built with DOM APIs and only for https URLs. A citizen who writes <script> sees it shown as text.
 * - One EventSource on /console/api/stream: queue changes for everyone plus the open conversation's
 *   messages. Switching conversations re-opens it with ?conversation=ID&after=lastSeq; on errors the
 *   browser reconnects by itself and resumes with Last-Event-ID, and we show a quiet status line.
 * - Actions are plain POSTs with the session's CSRF token; the server decides races (two staff
 *   clicking "Übernehmen") and its German `detail` is shown as it is.
 * - Keyboard first (staff use it all day): shortcuts listed in the help dialog (?), visible focus,
 *   native <dialog> (Escape closes, focus returns), announcements in one polite live region.
 */
(function () {
  "use strict";

  var WAIT_TICK_MS = 5000;
  var REFRESH_MS = 15000;
  var RECONNECT_MS = 3000;
  var SELECTED_KEY = "buergerbot.console.selected";
  // Every text staff read here, written in by the gateway when it serves this file
  // (connectors.console.router.static_file) from wording/texts.py (CONSOLE_TEXTS); {name} parts are filled by fill().
  var T = __BUERGERBOT_CONSOLE_TEXTS__;
  var RECONNECTING = T.reconnecting;
  var OFFLINE = T.offline;

  var ROLE_NAMES = T.roles;
  var STATE_NAMES = T.states;
  var CHANNEL_NAMES = T.channels;
  var LANGUAGE_NAMES = T.languages;

  function $(id) { return document.getElementById(id); }

  /** A text with its {name} parts filled in ("wartet {duration}"); unknown names stay visible. */
  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  var app = {
    me: null,
    csrf: "",
    config: { teams: [], resolutions: [], canned_responses: [], services: {} },
    queue: [],
    queueIds: null,
    live: [],
    liveTotal: 0,
    liveWindowMin: 30,
    selected: null,
    conversation: null,
    lastSeq: 0,
    seen: {},
    source: null,
    streamFor: null,
    streamBroken: false,
    view: "conversations",
    refreshTimer: null,
    refreshDetailWanted: false,
    suggestionsFor: null,
    returnFocus: null
  };

  // ---- small helpers ------------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
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
    var a = el("a", "cs-link", label);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.appendChild(el("span", "cs-sr", T.newWindow));
    return a;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clock(ts) {
    if (!ts) return "";
    var d = new Date(Number(ts) * 1000);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function isoDate(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value || ""));
    return m ? m[3] + "." + m[2] + "." + m[1] : "";
  }

  function duration(seconds) {
    var s = Math.max(0, Math.floor(Number(seconds) || 0));
    if (s < 60) return fill(T.seconds, { s: s });
    var minutes = Math.floor(s / 60);
    if (minutes < 60) return fill(T.minutes, { m: minutes });
    return fill(T.hoursMinutes, { h: Math.floor(minutes / 60), m: minutes % 60 });
  }

  function truncate(text, max) {
    var value = String(text || "");
    return value.length > max ? value.slice(0, max - 1) + "…" : value;
  }

  function teamName(id) {
    for (var i = 0; i < app.config.teams.length; i++) if (app.config.teams[i].id === id) return app.config.teams[i].name;
    return id || "–";
  }

  function serviceName(id) {
    if (!id) return T.noTopic;
    return (app.config.services && app.config.services[id]) || id;
  }

  function channelName(id) { return CHANNEL_NAMES[id] || id || "–"; }
  function languageName(id) { return LANGUAGE_NAMES[id] || String(id || "–").toUpperCase(); }

  function mine(conversation) {
    return Boolean(conversation && app.me && conversation.state === "staff" && conversation.assignee === app.me.username);
  }

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "textarea" || tag === "select" || (tag === "input" && target.type !== "checkbox") ||
      target.isContentEditable;
  }

  var announceTimer = null;
  function announce(text) {
    var region = $("announcer");
    region.textContent = "";
    window.clearTimeout(announceTimer);
    announceTimer = window.setTimeout(function () { region.textContent = text; }, 60); // re-read same text
  }

  function setConnection(text) {
    $("connection").textContent = text || "";
    $("connection").classList.toggle("cs-connection--problem", Boolean(text));
  }

  // ---- API ------------------------------------------------------------------------------------------
  function ApiError(message, status) {
    this.message = message;
    this.status = status;
  }

  function detailText(body, fallback) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail) && body.detail.length) {
      var parts = body.detail.map(function (d) { return String((d && d.msg) || "").replace(/^Value error, /, ""); });
      return parts.filter(Boolean).join(" ") || fallback;
    }
    return fallback;
  }

  function goLogin() {
    window.location.assign("/console/login");
  }

  function api(method, path, body) {
    var headers = {};
    if (method !== "GET") headers["X-CSRF-Token"] = app.csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return window.fetch("/console/api" + path, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      if (response.status === 401) {
        goLogin();
        throw new ApiError(T.signIn, 401);
      }
      if (response.status === 204) return null;
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok) {
          throw new ApiError(detailText(data, fill(T.failedWith, { status: response.status })), response.status);
        }
        return data;
      });
    }, function () {
      throw new ApiError(OFFLINE, 0);
    });
  }

  function showActionError(text) {
    var box = $("action-error");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function failed(err) {
    if (err && err.status === 401) return;
    showActionError((err && err.message) || OFFLINE);
  }

  // ---- queue and live lists -------------------------------------------------------------------------
  function entryButton(id, className) {
    var button = el("button", "cs-entry " + className);
    button.type = "button";
    button.setAttribute("data-id", id);
    if (id === app.selected) button.setAttribute("aria-current", "true");
    button.addEventListener("click", function () { select(id, false); });
    return button;
  }

  function line(className, parts) {
    var span = el("span", "cs-line " + className);
    parts.filter(Boolean).forEach(function (part, index) {
      if (index > 0) span.appendChild(el("span", "cs-sep", " · "));
      span.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    });
    return span;
  }

  function callbackText(callback) {
    if (!callback || typeof callback !== "object") return "";
    var text = fill(callback.kind === "phone" ? T.callbackPhone : T.callbackEmail, { contact: String(callback.contact || "") });
    if (callback.note) text = fill(T.callbackNote, { request: text, note: String(callback.note) });
    return text;
  }

  function renderQueue() {
    var list = $("queue-list");
    clear(list);
    $("queue-count").textContent = String(app.queue.length);
    $("queue-empty").hidden = app.queue.length > 0;
    app.queue.forEach(function (entry) {
      var c = entry.conversation || {};
      var item = el("li", "cs-item");
      var button = entryButton(c.id, "cs-entry--queue" + (c.priority ? " cs-entry--urgent" : ""));
      var wait = el("span", "cs-wait");
      wait.setAttribute("data-since", String(Date.now() / 1000 - (Number(entry.waiting_s) || 0)));
      wait.textContent = fill(T.waiting, { duration: duration(entry.waiting_s) });
      var top = [el("span", "cs-pos", entry.position + ".")];
      if (c.priority) top.push(el("span", "cs-badge cs-badge--urgent", T.urgent));
      if (c.callback) top.push(el("span", "cs-badge cs-badge--callback", c.callback.kind === "phone" ? T.badgePhone : T.badgeEmail));
      top.push(wait);
      button.appendChild(line("cs-line--top", top));
      var question = entry.question || entry.last_text;
      button.appendChild(el("span", "cs-line cs-quote", question ? fill(T.quoted, { text: truncate(question, 140) })
        : T.noQuestionYet));
      if (entry.last_text && entry.last_text !== question) {
        button.appendChild(el("span", "cs-line cs-line--meta", fill(T.lastText, { text: truncate(entry.last_text, 100) })));
      }
      button.appendChild(line("cs-line--meta", [channelName(c.channel), languageName(c.language), serviceName(c.service)]));
      button.appendChild(el("span", "cs-line cs-line--meta", fill(T.team, { team: teamName(c.team) })));
      if (c.callback) button.appendChild(el("span", "cs-line cs-line--callback", callbackText(c.callback)));
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function renderLive() {
    var list = $("live-list");
    clear(list);
    var shown = app.live.filter(function (c) { return c.state !== "closed"; });
    var total = Math.max(app.liveTotal, shown.length);
    $("live-count").textContent = String(total);
    $("live-empty").hidden = shown.length > 0;
    var more = $("live-more");
    more.hidden = total <= shown.length;
    more.textContent = fill(T.liveMore, { shown: shown.length, total: total });
    shown.forEach(function (c) {
      var item = el("li", "cs-item");
      var button = entryButton(c.id, "cs-entry--live cs-entry--" + c.state);
      var who = c.state === "staff" ? (c.assignee === (app.me && app.me.username) ? T.withYou
        : fill(T.withColleague, { name: c.assignee_name || T.colleague })) : STATE_NAMES[c.state] || c.state;
      var badge = el("span", "cs-badge cs-badge--state cs-badge--" + c.state, who);
      var since = el("span", "cs-ago");
      since.setAttribute("data-since", String(c.updated || 0));
      since.textContent = fill(T.ago, { duration: duration(Date.now() / 1000 - (c.updated || 0)) });
      button.appendChild(line("cs-line--top", [badge, since]));
      button.appendChild(el("span", "cs-line cs-title", serviceName(c.service)));
      button.appendChild(line("cs-line--meta", [channelName(c.channel), languageName(c.language), c.id.slice(0, 12) + "…"]));
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function tickWaits() {
    var now = Date.now() / 1000;
    Array.prototype.forEach.call(document.querySelectorAll(".cs-wait[data-since]"), function (node) {
      node.textContent = fill(T.waiting, { duration: duration(now - Number(node.getAttribute("data-since"))) });
    });
    Array.prototype.forEach.call(document.querySelectorAll(".cs-ago[data-since]"), function (node) {
      node.textContent = fill(T.ago, { duration: duration(now - Number(node.getAttribute("data-since"))) });
    });
  }

  function refreshQueue() {
    return api("GET", "/queue").then(function (entries) {
      var previous = app.queueIds;
      app.queue = entries || [];
      app.queueIds = {};
      var fresh = [];
      app.queue.forEach(function (entry) {
        var id = entry.conversation.id;
        app.queueIds[id] = true;
        if (previous && !previous[id]) fresh.push(entry);
      });
      var focusedId = document.activeElement && document.activeElement.getAttribute &&
        document.activeElement.closest && document.activeElement.closest("#queue-list") ?
        document.activeElement.getAttribute("data-id") : null;
      renderQueue();
      if (focusedId) restoreFocus("#queue-list", focusedId);
      if (fresh.length === 1) {
        var c = fresh[0].conversation;
        announce(fill(T.newRequest, {
          urgent: c.priority ? T.newRequestUrgent : "", team: teamName(c.team), callback: c.callback ? T.newRequestCallback : ""
        }));
      } else if (fresh.length > 1) {
        announce(fill(T.newRequests, { n: fresh.length }));
      }
    }).catch(function () { /* the status line and the next refresh cover it */ });
  }

  function refreshLive() {
    return api("GET", "/live").then(function (data) {
      app.live = (data && data.conversations) || [];
      app.liveTotal = (data && data.total) || 0;
      app.liveWindowMin = (data && data.window_min) || app.liveWindowMin;
      var focused = document.activeElement && document.activeElement.closest &&
        document.activeElement.closest("#live-list") ? document.activeElement.getAttribute("data-id") : null;
      renderLive();
      if (focused) restoreFocus("#live-list", focused);
    }).catch(function () { /* retried on the next refresh */ });
  }

  function restoreFocus(listSelector, id) {
    var buttons = document.querySelectorAll(listSelector + " .cs-entry");
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].getAttribute("data-id") === id) {
        buttons[i].focus();
        return;
      }
    }
  }

  function markSelected() {
    Array.prototype.forEach.call(document.querySelectorAll(".cs-entry"), function (button) {
      if (button.getAttribute("data-id") === app.selected) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    });
  }

  function scheduleRefresh(frame) {
    if (frame && frame.conversation_id && frame.conversation_id === app.selected) app.refreshDetailWanted = true;
    if (app.refreshTimer) return;
    app.refreshTimer = window.setTimeout(function () {
      app.refreshTimer = null;
      refreshQueue();
      refreshLive();
      if (app.refreshDetailWanted) {
        app.refreshDetailWanted = false;
        refreshDetail();
      }
      if (isSupervisor()) refreshOverview();
    }, 250);
  }

  // ---- the selected conversation ----------------------------------------------------------------------
  function roleLabel(message) {
    if (message.role === "citizen") return T.roleCitizen;
    if (message.role === "bot") return T.roleBot;
    if (message.role === "staff") return message.staff ? fill(T.roleStaffNamed, { name: message.staff }) : T.roleStaff;
    return T.roleSystem;
  }

  function renderSources(sources) {
    var box = el("div", "cs-sources");
    box.appendChild(el("p", "cs-sources-title", T.sources));
    var list = el("ul", "cs-source-list");
    sources.forEach(function (source) {
      if (!source || typeof source !== "object") return;
      var label = String(source.title || T.source);
      if (source.section_label) label = fill(T.sourceSection, { title: label, section: source.section_label });
      var item = el("li");
      var href = safeHttpsUrl(source.url);
      item.appendChild(href ? externalLink(href, label) : el("span", null, label));
      var date = isoDate(source.updated);
      if (date) item.appendChild(el("span", "cs-muted", fill(T.updated, { date: date })));
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  /** The buttons the citizen was offered, so staff can read what a click answered. */
  function renderOptions(options) {
    var box = el("div", "cs-options");
    box.appendChild(el("p", "cs-options-title", T.offered));
    var list = el("ul", "cs-option-list");
    options.forEach(function (title) { list.appendChild(el("li", "cs-option", title)); });
    box.appendChild(list);
    return box;
  }

  function messageElement(message) {
    var role = /^(citizen|bot|staff|system)$/.test(message.role) ? message.role : "system";
    var node = el("div", "cs-msg cs-msg--" + role);
    node.setAttribute("data-seq", String(message.seq || 0));
    var head = el("p", "cs-msg-head");
    head.appendChild(el("span", "cs-msg-who", roleLabel(message)));
    if (message.ts) head.appendChild(el("span", "cs-msg-time", clock(message.ts)));
    node.appendChild(head);
    if (message.choice) head.appendChild(el("span", "cs-badge cs-badge--choice", T.buttonChosen));
    node.appendChild(el("p", "cs-msg-text", message.text));
    if (Array.isArray(message.sources) && message.sources.length) node.appendChild(renderSources(message.sources));
    if (Array.isArray(message.options) && message.options.length) node.appendChild(renderOptions(message.options));
    return node;
  }

  function addMessage(message, live) {
    if (!message || typeof message !== "object") return;
    var seq = Number(message.seq) || 0;
    if (seq && app.seen[seq]) return;
    if (seq) {
      app.seen[seq] = true;
      app.lastSeq = Math.max(app.lastSeq, seq);
    }
    var log = $("transcript");
    var atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    var node = messageElement(message);
    var children = log.children;
    var placed = false;
    for (var i = 0; i < children.length; i++) {
      if (Number(children[i].getAttribute("data-seq")) > seq) {
        log.insertBefore(node, children[i]);
        placed = true;
        break;
      }
    }
    if (!placed) log.appendChild(node);
    if (atEnd || !live) log.scrollTop = log.scrollHeight;
    if (live && message.role === "citizen") {
      announce(fill(T.newCitizenMessage, { text: truncate(message.text, 200) }));
    }
  }

  function renderNotes(notes) {
    var list = $("notes");
    clear(list);
    (notes || []).forEach(function (note) {
      var item = el("li", "cs-note");
      var head = el("p", "cs-note-head");
      head.appendChild(el("span", "cs-badge cs-badge--internal", T.internal));
      head.appendChild(document.createTextNode(" " + (note.staff || "") + " · " + clock(note.ts)));
      item.appendChild(head);
      item.appendChild(el("p", "cs-note-text", note.text));
      list.appendChild(item);
    });
    $("notes-empty").hidden = Boolean(notes && notes.length);
  }

  function renderMeta(detail) {
    var c = detail.conversation;
    app.conversation = c;
    $("conversation-heading").textContent = fill(T.heading, { service: serviceName(c.service) });
    var meta = $("conv-meta");
    clear(meta);
    var state = STATE_NAMES[c.state] || c.state;
    if (c.state === "queued" && detail.position) state = fill(T.queuedPosition, { state: state, position: detail.position });
    if (c.state === "staff") state = mine(c) ? T.heldByYou : fill(T.heldBy, { name: c.assignee_name || T.aColleague });
    var parts = [
      el("span", "cs-badge cs-badge--state cs-badge--" + c.state, state),
      fill(T.team, { team: teamName(c.team) }),
      fill(T.channel, { channel: channelName(c.channel) }),
      fill(T.language, { language: languageName(c.language) }),
      fill(T.started, { time: clock(c.created) })
    ];
    if (c.priority) parts.splice(1, 0, el("span", "cs-badge cs-badge--urgent", T.urgent));
    meta.appendChild(line("cs-line--meta", parts));
    var callback = $("conv-callback");
    callback.textContent = c.callback ? fill(T.callbackOpen, { request: callbackText(c.callback) }) : "";
    callback.hidden = !c.callback;

    var closed = c.state === "closed";
    var held = mine(c);
    $("act-take").disabled = closed || c.state === "staff";
    $("act-handback").disabled = !held;
    $("act-transfer").disabled = !held;
    $("transfer-team").disabled = !held;
    $("act-close").disabled = closed || (c.state === "staff" && !held);
    $("reply-send").disabled = !held;
    $("reply-hint").textContent = held ? T.hintHeld : closed ? T.hintClosed : T.hintTake;
    $("note-text").disabled = false;
    $("note-save").disabled = false;
    $("suggestions-refresh").disabled = false;
    renderNotes(detail.notes);
  }

  function select(id, focusHeading) {
    if (!id) return Promise.resolve();
    var switching = id !== app.selected;
    app.selected = id;
    try { window.sessionStorage.setItem(SELECTED_KEY, id); } catch (e) { /* private mode */ }
    showView("conversations");
    markSelected();
    if (switching) {
      app.lastSeq = 0;
      app.seen = {};
      clear($("transcript"));
      showActionError("");
      $("reply-text").value = "";
    }
    $("conv-placeholder").hidden = true;
    $("conv-notice").hidden = true;
    $("conv-body").hidden = false;
    return api("GET", "/conversations/" + encodeURIComponent(id)).then(function (detail) {
      if (app.selected !== id) return;
      renderMeta(detail);
      (detail.messages || []).forEach(function (m) { addMessage(m, false); });
      if (switching || app.streamFor !== id) openStream();
      if (switching) loadSuggestions();
      if (focusHeading) $("conversation-heading").focus();
    }).catch(function (err) {
      if (err.status === 404) {
        try { window.sessionStorage.removeItem(SELECTED_KEY); } catch (e) { /* ignore */ }
      }
      if (err.status === 403 && app.selected === id) {
        leaveConversation(err.message);
        return;
      }
      failed(err);
    });
  }

  function refreshDetail() {
    if (!app.selected) return Promise.resolve();
    var id = app.selected;
    return api("GET", "/conversations/" + encodeURIComponent(id)).then(function (detail) {
      if (app.selected !== id) return;
      renderMeta(detail);
      (detail.messages || []).forEach(function (m) { addMessage(m, false); });
    }).catch(function (err) {
      if (err.status === 403 && app.selected === id) leaveConversation(err.message);
      /* otherwise the next event or refresh tries again */
    });
  }

  // ---- actions --------------------------------------------------------------------------------------
  function take(id) {
    if (!id) {
      announce(T.selectFirst);
      return Promise.resolve();
    }
    showActionError("");
    var switching = id !== app.selected;
    if (switching) {
      app.selected = id;
      app.lastSeq = 0;
      app.seen = {};
      clear($("transcript"));
      $("reply-text").value = "";
      try { window.sessionStorage.setItem(SELECTED_KEY, id); } catch (e) { /* ignore */ }
      showView("conversations");
      $("conv-placeholder").hidden = true;
      $("conv-notice").hidden = true;
      $("conv-body").hidden = false;
      markSelected();
    }
    return api("POST", "/conversations/" + encodeURIComponent(id) + "/take").then(function (detail) {
      // show the result at once; the refresh below (and the console event) confirm it from the server
      app.queue = app.queue.filter(function (entry) { return entry.conversation.id !== id; });
      app.live = app.live.map(function (c) { return c.id === id ? detail.conversation : c; });
      renderQueue();
      renderLive();
      renderMeta(detail);
      (detail.messages || []).forEach(function (m) { addMessage(m, false); });
      if (switching || app.streamFor !== id) openStream();
      if (switching) loadSuggestions();
      announce(T.taken);
      $("reply-text").focus();
      scheduleRefresh();
    }).catch(function (err) {
      failed(err);
      refreshDetail().then(function () {
        if (switching && app.streamFor !== id) openStream();
      });
      scheduleRefresh();
    });
  }

  function takeFromFocusOrSelection() {
    var active = document.activeElement;
    var id = active && active.classList && active.classList.contains("cs-entry") ? active.getAttribute("data-id") : null;
    take(id || app.selected);
  }

  function takeNext() {
    if (!app.queue.length) {
      announce(T.nobodyWaitingNow);
      return;
    }
    take(app.queue[0].conversation.id);
  }

  function requireHeld(what) {
    if (!app.selected || !app.conversation) {
      announce(T.selectFirst);
      return false;
    }
    if (!mine(app.conversation)) {
      showActionError(fill(T.notYours, { what: what }));
      return false;
    }
    return true;
  }

  function sendReply() {
    var field = $("reply-text");
    var text = field.value.trim();
    if (!requireHeld(T.toReply)) return;
    if (!text) {
      showActionError(T.enterReply);
      field.focus();
      return;
    }
    showActionError("");
    var id = app.selected;
    $("reply-send").disabled = true;
    api("POST", "/conversations/" + encodeURIComponent(id) + "/messages", { text: text }).then(function (message) {
      if (app.selected === id) {
        if (field.value.trim() === text) field.value = "";
        addMessage(message, false);
        announce(T.replySent);
      }
    }).catch(failed).then(function () {
      $("reply-send").disabled = !mine(app.conversation);
      // Back to the reply field only if focus was lost with the disabled button: staff who moved on
      // (Alt+K to a note) while the answer was on its way must not have their typing split.
      var active = document.activeElement;
      if (!active || active === document.body || active === field || active === $("reply-send")) field.focus();
    });
  }

  function saveNote() {
    var field = $("note-text");
    var text = field.value.trim();
    if (!app.selected) return;
    if (!text) {
      showActionError(T.enterNote);
      field.focus();
      return;
    }
    showActionError("");
    api("POST", "/conversations/" + encodeURIComponent(app.selected) + "/notes", { text: text }).then(function () {
      field.value = "";
      announce(T.noteSaved);
      return refreshDetail();
    }).catch(failed);
  }

  function handBack() {
    if (!requireHeld(T.toHandBack)) return;
    var id = app.selected;
    showActionError("");
    // ask the server (not the transcript on screen) whether the citizen's last message got a reply
    api("GET", "/conversations/" + encodeURIComponent(id)).then(function (detail) {
      if (app.selected !== id) return;
      if (detail.unanswered) {
        app.returnFocus = document.activeElement;
        $("handback-question").textContent = fill(T.quoted, { text: truncate(detail.unanswered, 300) });
        $("handback-dialog").showModal();
        $("handback-cancel").focus();
        return;
      }
      confirmHandBack();
    }).catch(failed);
  }

  function confirmHandBack() {
    var id = app.selected;
    if ($("handback-dialog").open) $("handback-dialog").close();
    api("POST", "/conversations/" + encodeURIComponent(id) + "/handback").then(function () {
      announce(T.handedBack);
      return refreshDetail();
    }).catch(failed);
  }

  function transfer() {
    if (!requireHeld(T.toTransfer)) return;
    var team = $("transfer-team").value;
    var id = app.selected;
    api("POST", "/conversations/" + encodeURIComponent(id) + "/transfer", { team: team }).then(function () {
      var done = fill(T.transferred, { team: teamName(team) });
      var gone = fill(T.transferredAway, { done: done });
      if (app.selected !== id) { // the stream said first that it is no longer ours: say why
        if (!app.selected) leaveConversation(gone);
        return null;
      }
      announce(done);
      return api("GET", "/conversations/" + encodeURIComponent(id)).then(function (detail) {
        if (app.selected === id) renderMeta(detail);
      }, function (err) {
        if (err.status === 403 && (app.selected === id || !app.selected)) leaveConversation(gone);
      });
    }).catch(failed);
  }

  function openCloseDialog() {
    var c = app.conversation;
    if (!app.selected || !c) {
      announce(T.selectFirst);
      return;
    }
    if ($("act-close").disabled) {
      showActionError(c.state === "closed" ? T.alreadyClosed : T.heldByColleague);
      return;
    }
    var dialog = $("close-dialog");
    $("close-error").hidden = true;
    app.returnFocus = document.activeElement;
    dialog.showModal();
    $("close-resolution").focus();
  }

  function closeConversation() {
    var resolution = $("close-resolution").value;
    var id = app.selected;
    api("POST", "/conversations/" + encodeURIComponent(id) + "/close", { resolution: resolution }).then(function () {
      $("close-dialog").close();
      announce(T.closed);
      return refreshDetail();
    }).catch(function (err) {
      if (err.status === 401) return;
      $("close-error").textContent = err.message;
      $("close-error").hidden = false;
    });
  }

  function insertIntoReply(text, replaceSelection) {
    var field = $("reply-text");
    if (replaceSelection && typeof field.setRangeText === "function") {
      field.focus();
      field.setRangeText(text, field.selectionStart, field.selectionEnd, "end");
    } else {
      field.value = field.value.trim() ? field.value.replace(/\s+$/, "") + "\n\n" + text : text;
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
    }
  }

  // ---- suggestions from the knowledge base ----------------------------------------------------------------
  function loadSuggestions() {
    var id = app.selected;
    if (!id) return;
    app.suggestionsFor = id;
    var list = $("suggestions");
    clear(list);
    list.setAttribute("aria-busy", "true");
    $("suggestions-status").textContent = T.searching;
    api("GET", "/conversations/" + encodeURIComponent(id) + "/suggestions").then(function (items) {
      if (app.suggestionsFor !== id) return;
      clear(list);
      items = items || [];
      $("suggestions-status").textContent = items.length ? T.checkFirst : T.noSuggestion;
      items.forEach(function (s, index) {
        var item = el("li", "cs-suggestion");
        var title = el("h3", "cs-suggestion-title", s.service_title || T.suggestion);
        title.id = "cs-suggestion-" + index;
        item.appendChild(title);
        item.appendChild(el("p", "cs-muted", fill(T.forQuestion, { question: truncate(s.question, 160) })));
        item.appendChild(el("p", "cs-suggestion-text", s.text));
        if (Array.isArray(s.sources) && s.sources.length) item.appendChild(renderSources(s.sources));
        var use = el("button", "cs-btn cs-btn--small", T.useSuggestion);
        use.type = "button";
        use.setAttribute("aria-describedby", title.id);
        use.addEventListener("click", function () {
          insertIntoReply(String(s.text || ""), false);
          announce(T.suggestionUsed);
        });
        item.appendChild(use);
        list.appendChild(item);
      });
    }).catch(function (err) {
      if (app.suggestionsFor !== id) return;
      $("suggestions-status").textContent = err.status === 401 ? "" : T.suggestionsFailed;
    }).then(function () {
      if (app.suggestionsFor === id) list.removeAttribute("aria-busy");
    });
  }

  // ---- live stream (Server-Sent Events) -------------------------------------------------------------
  function parse(data) {
    try { return JSON.parse(data); } catch (e) { return null; }
  }

  function openStream() {
    if (app.source) app.source.close();
    var id = app.selected;
    var url = "/console/api/stream" + (id ? "?conversation=" + encodeURIComponent(id) + "&after=" + app.lastSeq : "");
    var source = new window.EventSource(url);
    app.source = source;
    app.streamFor = id;
    source.addEventListener("ready", function () {
      if (source !== app.source) return;
      setConnection("");
      if (app.streamBroken) { // we may have missed queue changes while away
        app.streamBroken = false;
        scheduleRefresh({ conversation_id: app.selected });
      }
    });
    source.addEventListener("message", function (event) {
      if (source !== app.source || app.selected !== id) return;
      var message = parse(event.data);
      addMessage(message, true);
      // a bot answer on another topic changed the conversation's service: header and lists follow
      if (message && message.service_id && app.conversation && message.service_id !== app.conversation.service) {
        scheduleRefresh({ conversation_id: id });
      }
    });
    source.addEventListener("console", function (event) {
      if (source !== app.source) return;
      scheduleRefresh(parse(event.data));
    });
    source.addEventListener("state", function () {
      if (source !== app.source) return;
      scheduleRefresh({ conversation_id: id });
    });
    source.addEventListener("forbidden", function () {
      if (source !== app.source || app.selected !== id) return;
      leaveConversation(T.otherTeamNow);
    });
    source.addEventListener("error", function () {
      if (source !== app.source) return;
      app.streamBroken = true;
      setConnection(RECONNECTING);
      if (source.readyState === window.EventSource.CLOSED) {
        // the browser gave up (e.g. the session ended or the server answered with an error): check, then retry
        window.setTimeout(function () {
          if (source !== app.source) return;
          api("GET", "/me").then(function () {
            if (source === app.source) openStream();
          }, function (err) {
            if (err.status !== 401 && source === app.source) window.setTimeout(openStream, RECONNECT_MS);
          });
        }, RECONNECT_MS);
      }
    });
  }

  // ---- which teams' work this person sees (enforced by the server; said here so nobody wonders) ----
  function showQueueScope() {
    var scope = $("queue-scope");
    var me = app.me || {};
    var teams = me.teams || [];
    if (me.role !== "agent" || !teams.length) {
      scope.hidden = true;
      return;
    }
    var names = teams.map(teamName);
    var general = app.config.default_team;
    if (general && teams.indexOf(general) < 0) names.push(fill(T.openToAll, { team: teamName(general) }));
    scope.textContent = fill(T.queueScope, { teams: names.join(", ") });
    scope.hidden = false;
  }

  /** The selected conversation is no longer ours to see (e.g. transferred to another team). */
  function leaveConversation(message) {
    app.selected = null;
    app.conversation = null;
    try { window.sessionStorage.removeItem(SELECTED_KEY); } catch (e) { /* ignore */ }
    clear($("transcript"));
    $("conv-body").hidden = true;
    $("conv-placeholder").hidden = false;
    $("conversation-heading").textContent = T.noneSelected;
    clear($("conv-meta"));
    $("conv-callback").hidden = true;
    renderNotes([]);
    $("note-text").disabled = true;
    $("note-save").disabled = true;
    $("suggestions-refresh").disabled = true;
    clear($("suggestions"));
    $("suggestions-status").textContent = T.selectOne;
    markSelected();
    openStream();
    $("conv-notice").textContent = message || "";
    $("conv-notice").hidden = !message;
  }

  // ---- supervisor overview ------------------------------------------------------------------------------
  function isSupervisor() {
    return Boolean(app.me && (app.me.role === "supervisor" || app.me.role === "admin"));
  }

  function tableRows(body, rows, emptyText, columns) {
    clear(body);
    if (!rows.length) {
      var tr = el("tr");
      var td = el("td", "cs-muted", emptyText);
      td.colSpan = columns;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (cells) {
      var row = el("tr");
      cells.forEach(function (cell, index) {
        var td = el("td", index === cells.length - 1 && typeof cell === "number" ? "cs-num" : null);
        if (cell && cell.nodeType) td.appendChild(cell);
        else td.textContent = String(cell);
        row.appendChild(td);
      });
      body.appendChild(row);
    });
  }

  function refreshOverview() {
    if (!isSupervisor()) return Promise.resolve();
    return api("GET", "/overview").then(function (data) {
      $("ov-online-count").textContent = String((data.online || []).length);
      $("ov-queue").textContent = String(data.queue_length || 0);
      $("ov-live").textContent = String(data.live_total || 0);
      $("ov-states-total").textContent = String(data.live_total || 0);
      $("ov-mean").textContent = duration(data.mean_wait_s);
      $("ov-max").textContent = duration(data.max_wait_s);
      var online = $("ov-online");
      clear(online);
      (data.online || []).forEach(function (m) {
        var item = el("li");
        item.appendChild(el("span", "cs-strong", m.display_name || m.username));
        var teams = (m.teams || []).map(teamName).join(", ");
        item.appendChild(document.createTextNode(" – " + (ROLE_NAMES[m.role] || m.role) + (teams ? ", " + teams : "")));
        online.appendChild(item);
      });
      if (!(data.online || []).length) online.appendChild(el("li", "cs-muted", T.nobodySignedIn));
      var byTeam = data.queue_by_team || {};
      tableRows($("ov-teams"), Object.keys(byTeam).sort().map(function (t) { return [teamName(t), byTeam[t]]; }),
        T.nobodyWaits, 2);
      var byState = data.live_by_state || {};
      tableRows($("ov-states"), Object.keys(byState).sort().map(function (s) { return [STATE_NAMES[s] || s, byState[s]]; }),
        T.noneActive, 2);
      tableRows($("ov-staffed"), (data.staffed || []).map(function (s) {
        var open = el("button", "cs-btn cs-btn--small cs-btn--quiet", T.open);
        open.type = "button";
        open.setAttribute("aria-label", fill(T.openConversationOf, { name: s.assignee || "" }));
        open.addEventListener("click", function () { select(s.id, true); });
        return [s.assignee || "–", teamName(s.team), s.since ? fill(T.clock, { time: clock(s.since) }) : "–", open];
      }), T.nobodyHolds, 4);
      $("overview-updated").textContent = fill(T.overviewUpdated, { time: clock(Date.now() / 1000) });
    }).catch(function () { /* retried on the next event or refresh */ });
  }

  function showView(view) {
    app.view = view;
    $("overview").hidden = view !== "overview";
    $("conversation").hidden = view !== "conversations";
    $("view-conversations").setAttribute("aria-pressed", String(view === "conversations"));
    $("view-overview").setAttribute("aria-pressed", String(view === "overview"));
    if (view === "overview") refreshOverview();
  }

  // ---- keyboard ---------------------------------------------------------------------------------------
  function anyDialogOpen() {
    return $("close-dialog").open || $("help-dialog").open || $("handback-dialog").open;
  }

  function openHelp() {
    app.returnFocus = document.activeElement;
    $("help-dialog").showModal();
    $("help-close").focus();
  }

  function onKeydown(event) {
    if (event.defaultPrevented || anyDialogOpen()) return;
    if (event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      var handled = true;
      switch (event.code) {
        case "KeyN": takeNext(); break;
        case "KeyT": takeFromFocusOrSelection(); break;
        case "KeyB": handBack(); break;
        case "KeyE": openCloseDialog(); break;
        case "KeyK":
          if (!$("note-text").disabled) $("note-text").focus();
          else announce(T.selectFirst);
          break;
        case "KeyA":
          if (!$("conv-body").hidden) $("reply-text").focus();
          else announce(T.selectFirst);
          break;
        case "KeyW":
          if (!$("transfer-team").disabled) $("transfer-team").focus();
          else requireHeld(T.toTransfer);
          break;
        case "KeyQ": {
          var first = document.querySelector("#queue-list .cs-entry");
          (first || $("take-next")).focus();
          break;
        }
        default: handled = false;
      }
      if (handled) event.preventDefault();
      return;
    }
    if (event.key === "?" && !event.ctrlKey && !event.altKey && !isTyping(event.target)) {
      event.preventDefault();
      openHelp();
    }
  }

  // ---- set-up -----------------------------------------------------------------------------------------
  function fillSelect(select, items, value, label) {
    clear(select);
    items.forEach(function (item, index) {
      var option = el("option", null, label(item));
      option.value = value(item, index);
      select.appendChild(option);
    });
  }

  function wire() {
    document.addEventListener("keydown", onKeydown);
    $("take-next").addEventListener("click", takeNext);
    $("act-take").addEventListener("click", function () { take(app.selected); });
    $("act-handback").addEventListener("click", handBack);
    $("act-transfer").addEventListener("click", transfer);
    $("act-close").addEventListener("click", openCloseDialog);
    $("reply-form").addEventListener("submit", function (event) {
      event.preventDefault();
      sendReply();
    });
    $("reply-text").addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        sendReply();
      }
    });
    $("note-form").addEventListener("submit", function (event) {
      event.preventDefault();
      saveNote();
    });
    $("note-text").addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        saveNote();
      }
    });
    $("canned-insert").addEventListener("click", function () {
      var canned = app.config.canned_responses[Number($("canned").value)];
      if (canned) {
        insertIntoReply(String(canned.text || ""), true);
        announce(fill(T.cannedInserted, { title: canned.title }));
      }
    });
    $("suggestions-refresh").addEventListener("click", loadSuggestions);
    $("close-form").addEventListener("submit", function (event) {
      event.preventDefault();
      closeConversation();
    });
    $("close-cancel").addEventListener("click", function () { $("close-dialog").close(); });
    $("help-open").addEventListener("click", openHelp);
    $("help-close").addEventListener("click", function () { $("help-dialog").close(); });
    $("handback-confirm").addEventListener("click", confirmHandBack);
    $("handback-cancel").addEventListener("click", function () {
      app.returnFocus = $("reply-text");  // answer first
      $("handback-dialog").close();
    });
    ["close-dialog", "help-dialog", "handback-dialog"].forEach(function (id) {
      $(id).addEventListener("close", function () {
        var target = app.returnFocus;
        app.returnFocus = null;
        if (target && document.body.contains(target) && typeof target.focus === "function") target.focus();
      });
    });
    $("view-conversations").addEventListener("click", function () { showView("conversations"); });
    $("view-overview").addEventListener("click", function () { showView("overview"); });
    $("logout").addEventListener("click", function () {
      if (app.source) app.source.close();
      app.source = null;
      api("POST", "/logout").catch(function () { /* the session ends on the server anyway */ }).then(function () {
        window.location.replace("/console/login");
      });
    });
  }

  var timersStarted = false;

  function start() {
    wire();
    boot();
  }

  /** Session, configuration and lists; retried while the server cannot be reached (e.g. during a restart). */
  function boot() {
    api("GET", "/me").then(function (me) {
      app.me = me;
      app.csrf = me.csrf;
      $("me").textContent = me.display_name + " · " + (ROLE_NAMES[me.role] || me.role);
      if (isSupervisor()) {
        $("view-overview").hidden = false;
        $("dashboard-link").hidden = false;
      }
      return api("GET", "/config");
    }).then(function (config) {
      app.config = {
        teams: config.teams || [],
        resolutions: config.resolutions || [],
        canned_responses: config.canned_responses || [],
        services: config.services || {},
        default_team: config.default_team || ""
      };
      showQueueScope();
      fillSelect($("transfer-team"), app.config.teams, function (t) { return t.id; }, function (t) { return t.name; });
      fillSelect($("close-resolution"), app.config.resolutions, function (r) { return r.code; }, function (r) { return r.label; });
      fillSelect($("canned"), app.config.canned_responses, function (c, i) { return String(i); }, function (c) { return c.title; });
      return Promise.all([refreshQueue(), refreshLive()]);
    }).then(function () {
      var remembered = null;
      try { remembered = window.sessionStorage.getItem(SELECTED_KEY); } catch (e) { /* ignore */ }
      if (remembered) select(remembered, false);
      else openStream();
      setConnection("");
      if (timersStarted) return;
      timersStarted = true;
      window.setInterval(tickWaits, WAIT_TICK_MS);
      window.setInterval(function () {
        refreshQueue();
        refreshLive();
        if (isSupervisor()) refreshOverview();
      }, REFRESH_MS);
    }).catch(function (err) {
      if (err && err.status === 401) return;
      setConnection(RECONNECTING);
      window.setTimeout(boot, RECONNECT_MS);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
