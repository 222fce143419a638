// Users and roles, and API tokens for integrations. Admins only.
// Changes that could expose people wait for another admin or an auditor (/api/changes).
import { confirmDialog } from "../lib/dialog.js";
import { t, tn, roleName } from "../lib/i18n.js";
const WAITS = () => t("This change waits for another admin or an auditor to approve it.");
export const title = t("Users");
export const permission = "users.manage";
// a pending change's status as shown (web/duties.py speaks the machine values)
const changeStatus = (s) => ({ pending: t("pending"), approving: t("being applied"), approved: t("approved"), rejected: t("rejected"), failed: t("failed") }[s] || s);
const ROLES = ["viewer", "operator", "supervisor", "auditor", "admin"];
const ABOUT = () => ({ viewer: t("live video, redacted"), operator: t("alerts, incidents, playback"), supervisor: t("approves reveals and exports"),
  auditor: t("audit log and reports, no footage"), admin: t("configuration and users, no footage") });

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, me } = ctx;
  const users = h("tbody"), tokens = h("tbody"), changes = h("tbody"), err = h("p", { class: "error" });
  const name = h("input", { name: "username", required: true, placeholder: t("user name") });
  const pass = h("input", { name: "password", type: "password", required: true, minlength: 10, placeholder: t("password (10+)"), autocomplete: "new-password" });
  const role = h("select", { name: "role" }, ...ROLES.map(r => h("option", { value: r }, `${roleName(r)} — ${ABOUT()[r]}`)));
  const tName = h("input", { required: true, placeholder: t("integration name") });
  const tRole = h("select", {}, ...ROLES.map(r => h("option", { value: r }, roleName(r))));
  const secret = h("p", { class: "mono ok" });
  el.append(h("h1", {}, t("Users and roles")),
    h("form", { class: "toolbar", onsubmit: async (e) => { e.preventDefault(); err.textContent = "";
      try { const r = await api("/api/users", { method: "POST", body: { username: name.value.trim(), password: pass.value, role: role.value } }); name.value = pass.value = ""; toast(r.pending_change ? WAITS() : t("User added.")); load(); }
      catch (x) { err.textContent = typeof x.detail === "string" ? x.detail : t("Check the fields: user name letters/digits, password at least 10 characters."); } } },
      name, pass, role, h("button", { class: "primary", type: "submit" }, t("Add user"))), err,
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("User")), h("th", {}, t("Role")), h("th", {}, t("Camera groups")), h("th", {}, t("Status")), h("th", {}, t("Created")), h("th", {}, ""))), users),
    h("h2", {}, t("API tokens (integrations)")),
    h("form", { class: "toolbar", onsubmit: async (e) => { e.preventDefault();
      const tok = await api("/api/tokens", { method: "POST", body: { name: tName.value.trim(), role: tRole.value } });
      secret.textContent = t("Token for {name} (shown once, copy it now): {token}", { name: tok.name, token: tok.token }) + (tok.pending_change ? " " + t("(inactive: {why})", { why: WAITS() }) : ""); tName.value = ""; load(); } },
      tName, tRole, h("button", { type: "submit" }, t("Create token"))), secret,
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("Name")), h("th", {}, t("Role")), h("th", {}, t("Created by")), h("th", {}, t("Last used")), h("th", {}, ""))), tokens),
    h("h2", {}, t("Changes waiting for a second person")),
    h("p", { class: "muted" }, t("Weakening redaction, changing retention, footage or admin rights, password resets of others and footage tokens take effect only when another admin or an auditor approves.")),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("Change")), h("th", {}, t("Why")), h("th", {}, t("Asked by")), h("th", {}, t("Status")), h("th", {}, ""))), changes));

  async function decide(c, verb) {
    try { const r = await api(`/api/changes/${c.id}/${verb}`, { method: "POST", body: {} }); toast(r.status === "failed" ? t("Not applied: {error}", { error: r.result.error }) : t("Change {status}.", { status: changeStatus(r.status) })); }
    catch (x) { toast(x.message, { kind: "error" }); }
    load();
  }

  async function patch(u, body) {
    try { const r = await api(`/api/users/${encodeURIComponent(u)}`, { method: "PATCH", body }); toast(r.pending_change ? WAITS() : t("Saved; the user's sessions ended.")); }
    catch (x) { toast(x.message, { kind: "error" }); }
    load();
  }
  // Camera groups (districts, sites) from the configuration: ticking one grants its cameras; giving
  // footage of a group waits for a second person, taking it away applies at once.
  function groupCell(u, groups) {
    if (!groups.length) return h("span", { class: "muted" }, t("all cameras (no groups configured)"));
    if (u.role === "admin") return h("span", { class: "muted" }, t("all cameras (admin)"));
    const boxes = groups.map(g => h("input", { type: "checkbox", value: g.id, checked: u.camera_groups.includes(g.id),
      "aria-label": t("{group} for {user}", { group: g.name || g.id, user: u.username }), onchange: () => setGroups(u.username, boxes) }));
    return groups.map((g, i) => h("label", { class: "small", title: g.cameras.join(", ") }, boxes[i], ` ${g.name || g.id} `));
  }
  async function setGroups(username, boxes) {
    const body = { camera_groups: boxes.filter(b => b.checked).map(b => b.value) };
    try { const r = await api(`/api/users/${encodeURIComponent(username)}/camera-groups`, { method: "PUT", body }); toast(r.pending_change ? WAITS() : t("Camera groups saved.")); }
    catch (x) { toast(x.message, { kind: "error" }); }
    load();
  }
  // A role change ends the user's sessions: say so and ask first; cancelling puts the old role back.
  async function changeRole(u, sel) {
    const vars = { user: u.username, from: roleName(u.role), to: roleName(sel.value), about: ABOUT()[sel.value] };
    const ok = await confirmDialog({ title: t("Change the role of {user}?", vars), ok: t("Change role"),
      text: u.username === me.username ? t("{user} goes from {from} to {to} ({about}). You will be logged out everywhere and must log in again.", vars)
        : t("{user} goes from {from} to {to} ({about}). They will be logged out everywhere and must log in again.", vars) });
    if (!ok) { sel.value = u.role; return; }
    patch(u.username, { role: sel.value });
  }
  async function load() {
    const list = await api("/api/users");
    const groups = await api("/api/camera-groups");
    users.replaceChildren(...list.map(u => {
      const sel = h("select", { "aria-label": t("Role of {user}", { user: u.username }), onchange: () => changeRole(u, sel) }, ...ROLES.map(r => h("option", { value: r, selected: r === u.role }, roleName(r))));
      return h("tr", {}, h("td", {}, u.username, u.username === me.username ? h("span", { class: "muted" }, t(" (you)")) : ""), h("td", {}, sel),
        h("td", {}, groupCell(u, groups)), h("td", {}, u.active ? t("active") : h("span", { class: "muted" }, t("disabled"))), h("td", { class: "small" }, fmtTime(u.created_at)),
        h("td", {}, h("button", { type: "button", onclick: () => patch(u.username, { active: !u.active }) }, u.active ? t("Disable") : t("Enable")), " ",
          h("button", { type: "button", onclick: async () => { await api(`/api/users/${encodeURIComponent(u.username)}/logout-all`, { method: "POST" }); toast(t("Sessions ended.")); } }, t("Log out everywhere"))));
    }));
    const toks = await api("/api/tokens");
    tokens.replaceChildren(...toks.map(tok => h("tr", {}, h("td", {}, tok.name), h("td", {}, roleName(tok.role)), h("td", {}, tok.created_by),
      h("td", { class: "small" }, tok.last_used_at ? fmtTime(tok.last_used_at) : t("never")),
      h("td", {}, tok.revoked_at ? h("span", { class: "muted" }, t("revoked")) : h("button", { type: "button", class: "danger", onclick: async () => { await api(`/api/tokens/${tok.id}`, { method: "DELETE" }); load(); } }, t("Revoke"))))));
    const waiting = await api("/api/changes");
    changes.replaceChildren(...waiting.map(c => h("tr", {}, h("td", {}, `${c.kind} ${c.target}`), h("td", { class: "small" }, c.reasons.join("; ")),
      h("td", {}, c.requested_by), h("td", {}, changeStatus(c.status), c.decided_by ? h("span", { class: "muted" }, t(" by {user}", { user: c.decided_by })) : ""),
      h("td", {}, c.status !== "pending" || c.requested_by === me.username ? "" : [
        h("button", { type: "button", class: "primary", onclick: () => decide(c, "approve") }, t("Approve")), " ",
        h("button", { type: "button", onclick: () => decide(c, "reject") }, t("Reject"))]))));
  }
  await load();
}
