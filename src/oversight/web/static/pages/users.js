// Users and roles, and API tokens for integrations. Admins only.
// Changes that could expose people wait for another admin or an auditor (/api/changes).
import { confirmDialog } from "../lib/dialog.js";
const WAITS = "This change waits for another admin or an auditor to approve it.";
export const title = "Users";
export const permission = "users.manage";
const ROLES = ["viewer", "operator", "supervisor", "auditor", "admin"];
const ABOUT = { viewer: "live video, redacted", operator: "alerts, incidents, playback", supervisor: "approves reveals and exports",
  auditor: "audit log and reports, no footage", admin: "configuration and users, no footage" };

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, me } = ctx;
  const users = h("tbody"), tokens = h("tbody"), changes = h("tbody"), err = h("p", { class: "error" });
  const name = h("input", { name: "username", required: true, placeholder: "user name" });
  const pass = h("input", { name: "password", type: "password", required: true, minlength: 10, placeholder: "password (10+)", autocomplete: "new-password" });
  const role = h("select", { name: "role" }, ...ROLES.map(r => h("option", { value: r }, `${r} — ${ABOUT[r]}`)));
  const tName = h("input", { required: true, placeholder: "integration name" });
  const tRole = h("select", {}, ...ROLES.map(r => h("option", { value: r }, r)));
  const secret = h("p", { class: "mono ok" });
  el.append(h("h1", {}, "Users and roles"),
    h("form", { class: "toolbar", onsubmit: async (e) => { e.preventDefault(); err.textContent = "";
      try { const r = await api("/api/users", { method: "POST", body: { username: name.value.trim(), password: pass.value, role: role.value } }); name.value = pass.value = ""; toast(r.pending_change ? WAITS : "User added."); load(); }
      catch (x) { err.textContent = typeof x.detail === "string" ? x.detail : "Check the fields: user name letters/digits, password at least 10 characters."; } } },
      name, pass, role, h("button", { class: "primary", type: "submit" }, "Add user")), err,
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "User"), h("th", {}, "Role"), h("th", {}, "Status"), h("th", {}, "Created"), h("th", {}, ""))), users),
    h("h2", {}, "API tokens (integrations)"),
    h("form", { class: "toolbar", onsubmit: async (e) => { e.preventDefault();
      const t = await api("/api/tokens", { method: "POST", body: { name: tName.value.trim(), role: tRole.value } });
      secret.textContent = `Token for ${t.name} (shown once, copy it now): ${t.token}` + (t.pending_change ? ` (inactive: ${WAITS})` : ""); tName.value = ""; load(); } },
      tName, tRole, h("button", { type: "submit" }, "Create token")), secret,
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Role"), h("th", {}, "Created by"), h("th", {}, "Last used"), h("th", {}, ""))), tokens),
    h("h2", {}, "Changes waiting for a second person"),
    h("p", { class: "muted" }, "Weakening redaction, changing retention, footage or admin rights, password resets of others and footage tokens take effect only when another admin or an auditor approves."),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Change"), h("th", {}, "Why"), h("th", {}, "Asked by"), h("th", {}, "Status"), h("th", {}, ""))), changes));

  async function decide(c, verb) {
    try { const r = await api(`/api/changes/${c.id}/${verb}`, { method: "POST", body: {} }); toast(r.status === "failed" ? `Not applied: ${r.result.error}` : `Change ${r.status}.`); }
    catch (x) { toast(x.message, { kind: "error" }); }
    load();
  }

  async function patch(u, body) {
    try { const r = await api(`/api/users/${encodeURIComponent(u)}`, { method: "PATCH", body }); toast(r.pending_change ? WAITS : "Saved; the user's sessions ended."); }
    catch (x) { toast(x.message, { kind: "error" }); }
    load();
  }
  // A role change ends the user's sessions: say so and ask first; cancelling puts the old role back.
  async function changeRole(u, sel) {
    const ok = await confirmDialog({ title: `Change the role of ${u.username}?`, ok: "Change role",
      text: `${u.username} goes from ${u.role} to ${sel.value} (${ABOUT[sel.value]}). ${u.username === me.username ? "You" : "They"} will be logged out everywhere and must log in again.` });
    if (!ok) { sel.value = u.role; return; }
    patch(u.username, { role: sel.value });
  }
  async function load() {
    const list = await api("/api/users");
    users.replaceChildren(...list.map(u => {
      const sel = h("select", { "aria-label": `Role of ${u.username}`, onchange: () => changeRole(u, sel) }, ...ROLES.map(r => h("option", { value: r, selected: r === u.role }, r)));
      return h("tr", {}, h("td", {}, u.username, u.username === me.username ? h("span", { class: "muted" }, " (you)") : ""), h("td", {}, sel),
        h("td", {}, u.active ? "active" : h("span", { class: "muted" }, "disabled")), h("td", { class: "small" }, fmtTime(u.created_at)),
        h("td", {}, h("button", { type: "button", onclick: () => patch(u.username, { active: !u.active }) }, u.active ? "Disable" : "Enable"), " ",
          h("button", { type: "button", onclick: async () => { await api(`/api/users/${encodeURIComponent(u.username)}/logout-all`, { method: "POST" }); toast("Sessions ended."); } }, "Log out everywhere")));
    }));
    const toks = await api("/api/tokens");
    tokens.replaceChildren(...toks.map(t => h("tr", {}, h("td", {}, t.name), h("td", {}, t.role), h("td", {}, t.created_by),
      h("td", { class: "small" }, t.last_used_at ? fmtTime(t.last_used_at) : "never"),
      h("td", {}, t.revoked_at ? h("span", { class: "muted" }, "revoked") : h("button", { type: "button", class: "danger", onclick: async () => { await api(`/api/tokens/${t.id}`, { method: "DELETE" }); load(); } }, "Revoke")))));
    const waiting = await api("/api/changes");
    changes.replaceChildren(...waiting.map(c => h("tr", {}, h("td", {}, `${c.kind} ${c.target}`), h("td", { class: "small" }, c.reasons.join("; ")),
      h("td", {}, c.requested_by), h("td", {}, c.status, c.decided_by ? h("span", { class: "muted" }, ` by ${c.decided_by}`) : ""),
      h("td", {}, c.status !== "pending" || c.requested_by === me.username ? "" : [
        h("button", { type: "button", class: "primary", onclick: () => decide(c, "approve") }, "Approve"), " ",
        h("button", { type: "button", onclick: () => decide(c, "reject") }, "Reject")]))));
  }
  await load();
}
