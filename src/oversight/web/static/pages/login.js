import { loggedIn } from "../app.js";
import { t, tn } from "../lib/i18n.js";

export const title = t("Log in");
export const permission = null;

export function render(el, { h, api, go, state }) {
  const err = h("p", { class: "error", role: "alert" });
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  // second factor: shown when the server asks for it (roles that can see or reveal footage)
  const code = h("input", { name: "totp", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9 ]{6,8}", maxlength: 8 });
  const codeLabel = h("label", { hidden: true }, t("Code from your authenticator app"), code);
  const enrol = h("div", { class: "panel", hidden: true });
  const btn = h("button", { class: "primary", type: "submit" }, t("Log in"));
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault(); err.textContent = ""; btn.disabled = true;
      const body = { username: user.value.trim(), password: pass.value };
      if (!codeLabel.hidden && code.value.trim()) body.totp = code.value.trim();
      try {
        const me = await api("/api/auth/login", { method: "POST", body });
        loggedIn(me); go("");
      } catch (x) {
        const d = x.detail && typeof x.detail === "object" ? x.detail : null;
        if (x.status === 401 && d && d.totp) {
          codeLabel.hidden = false; code.value = ""; code.focus(); err.textContent = d.message || "";
          if (d.totp === "enrol") {
            enrol.hidden = false;
            enrol.replaceChildren(h("p", {}, t("Key for your authenticator app (time-based, 6 digits):")),
              h("p", {}, h("code", {}, d.secret || "")), h("p", { class: "muted small" }, d.otpauth_uri || ""));
          }
        } else { err.textContent = x.status === 429 ? x.message : t("Wrong user name or password."); pass.select(); }
      }
      finally { btn.disabled = false; }
    },
  }, h("label", {}, t("User name"), user), h("label", {}, t("Password"), pass), codeLabel, enrol, btn, err);
  const sso = h("p", { hidden: true }, h("a", { class: "btn", href: "/api/auth/oidc/login" }, t("Log in with single sign-on")));
  api("/api/auth/state").then(st => { sso.hidden = !(st && st.sso); }).catch(() => {});
  // a session an administrator ended says why, once (the server forgets it after telling)
  const ended = h("p", { id: "session-ended", class: "notice", role: "status", hidden: true });
  api("/api/auth/ended").then(r => { if (r && r.message) { ended.textContent = r.message; ended.hidden = false; } }).catch(() => {});
  el.append(h("div", { class: "login panel" }, h("h1", {}, "Oversight"), ended, form, sso,
    h("p", { class: "muted small" }, t("Access is logged. Use of this system is limited to its stated purposes."))));
  user.focus();
}
