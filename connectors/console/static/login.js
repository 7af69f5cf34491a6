/**
 * Login page of the staff console. Plain JS (strict CSP: no inline code), texts only via textContent.
 * A signed-in user is sent straight on to the console; errors are the server's German `detail`.
 */
(function () {
  "use strict";

  // The page's texts, written in by the gateway when it serves this file, from wording/texts.py (LOGIN_TEXTS).
  var T = __BUERGERBOT_LOGIN_TEXTS__;

  var form = document.getElementById("login-form");
  var errorBox = document.getElementById("login-error");
  var username = document.getElementById("username");
  var password = document.getElementById("password");
  var submit = document.getElementById("login-submit");

  function detailText(body, fallback) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail) && body.detail.length) {
      return body.detail.map(function (d) { return String((d && d.msg) || "").replace(/^Value error, /, ""); })
        .filter(Boolean).join(" ") || fallback;
    }
    return fallback;
  }

  function showError(text, field) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
    [username, password].forEach(function (input) { input.removeAttribute("aria-invalid"); });
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  // already signed in (e.g. a second tab): straight on to the console
  window.fetch("/console/api/me", { credentials: "same-origin" }).then(function (response) {
    if (response.ok) window.location.replace("/console");
  }).catch(function () { /* offline: the form still works once the network is back */ });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = username.value.trim();
    if (!name) return showError(T.enterUsername, username);
    if (!password.value) return showError(T.enterPassword, password);
    showError("");
    submit.disabled = true;
    submit.textContent = T.signingIn;
    window.fetch("/console/api/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: name, password: password.value })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          window.location.assign("/console");
          return;
        }
        password.value = "";
        showError(detailText(body, T.failed), password);
      });
    }).catch(function () {
      showError(T.offline);
    }).then(function () {
      submit.disabled = false;
      submit.textContent = T.signIn;
    });
  });

  username.focus();
})();
