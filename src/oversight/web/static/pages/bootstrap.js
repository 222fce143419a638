import { loggedIn } from "../app.js";
import { t, tn } from "../lib/i18n.js";

export const title = t("Create the first admin");
export const permission = null;

export function render(el, { h, api, go, query }) {
  const err = h("p", { class: "error", role: "alert" });
  const secret = h("input", { name: "secret", required: true, value: query.get("secret") || "", autocomplete: "off" });
  const user = h("input", { name: "username", required: true, value: "admin", autocomplete: "username" });
  const pass = h("input", { name: "password", type: "password", required: true, minlength: 10, autocomplete: "new-password" });
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault(); err.textContent = "";
      try {
        const me = await api("/api/auth/bootstrap", { method: "POST", body: { secret: secret.value.trim(), username: user.value.trim(), password: pass.value } });
        history.replaceState(null, "", location.pathname); loggedIn(me); go("users");
      } catch (x) { err.textContent = typeof x.detail === "string" ? x.detail : t("Please check the fields (password: at least 10 characters)."); }
    },
  },
    h("label", {}, t("One-time secret (printed by the server at first start)"), secret),
    h("label", {}, t("Admin user name"), user), h("label", {}, t("Password (10+ characters)"), pass),
    h("button", { class: "primary", type: "submit" }, t("Create admin")), err);
  el.append(h("div", { class: "login panel" }, h("h1", {}, title), form));
}
