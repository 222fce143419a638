import { loggedIn } from "../app.js";

export const title = "Log in";
export const permission = null;

export function render(el, { h, api, go, state }) {
  const err = h("p", { class: "error", role: "alert" });
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const btn = h("button", { class: "primary", type: "submit" }, "Log in");
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault(); err.textContent = ""; btn.disabled = true;
      try {
        const me = await api("/api/auth/login", { method: "POST", body: { username: user.value.trim(), password: pass.value } });
        loggedIn(me); go("");
      } catch (x) { err.textContent = x.status === 429 ? x.message : "Wrong user name or password."; pass.select(); }
      finally { btn.disabled = false; }
    },
  }, h("label", {}, "User name", user), h("label", {}, "Password", pass), btn, err);
  el.append(h("div", { class: "login panel" }, h("h1", {}, "Oversight"), form,
    h("p", { class: "muted small" }, "Access is logged. Use of this system is limited to its stated purposes.")));
  user.focus();
}
