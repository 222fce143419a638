// Units board: every response unit, its status and assignment; status buttons for the console.
// The same changes arrive from mobile apps / radio gateways through the API and show up here live.
import { ensureCss, label, pill } from "./incidents-common.js";
import { t, tn } from "../lib/i18n.js";

export const title = t("Units");
export const permission = "incidents.manage";

const NEXT = { dispatched: ["en_route", "available"], en_route: ["on_scene", "available"], on_scene: ["available"],
  available: ["out_of_service"], out_of_service: ["available"] };

export async function render(el, ctx) {
  ensureCss();
  const { h, api, toast, fmtTime, onMessage, onCleanup, me, can } = ctx;
  const canWrite = can(me, "incidents.manage");
  const filter = h("select", { "aria-label": t("Show"), id: "units-filter" }, ...["all", "available", "busy", "out_of_service"].map(v => h("option", { value: v }, label(v === "all" ? "all_units" : v))));
  const summary = h("span", { class: "muted" });
  const body = h("tbody");
  el.append(h("div", { class: "toolbar" }, h("h1", {}, title), summary, h("span", { class: "spacer" }), h("label", { class: "actions-row" }, t("Show"), filter)),
    h("table", { class: "units-board", "aria-label": t("Units") },
      h("thead", {}, h("tr", {}, ...[t("Unit"), t("Type"), t("Station"), t("Status"), t("Incident"), t("Since"), ""].map(x => h("th", {}, x)))), body));
  let units = [];
  const byId = new Map();

  function row(u) {
    const acts = canWrite ? (NEXT[u.status] || []).map(s => h("button", { type: "button", dataset: { to: s }, onclick: () => setStatus(u.id, s) }, label(s))) : [];
    return h("tr", { dataset: { unit: u.id, status: u.status } }, h("td", { class: "mono" }, u.id + (u.name ? " · " + u.name : "")),
      h("td", {}, label(u.type)), h("td", {}, u.station || ""), h("td", {}, pill(h, u.status)),
      h("td", {}, u.incident_id ? h("a", { href: "#/incidents/" + u.incident_id }, "#" + u.incident_id) : ""),
      h("td", { class: "mono" }, fmtTime(u.status_changed_at, { date: false })), h("td", {}, h("div", { class: "actions-row" }, ...acts)));
  }
  function visible(u) {
    const v = filter.value;
    return v === "all" || (v === "busy" ? ["dispatched", "en_route", "on_scene"].includes(u.status) : u.status === v);
  }
  function count() {
    const counts = {};
    for (const u of units) counts[u.status] = (counts[u.status] || 0) + 1;
    summary.textContent = Object.entries(counts).map(([k, n]) => t("{n} {status}", { n, status: label(k) })).join(" · ");
  }
  function draw() { count(); body.replaceChildren(...units.filter(visible).map(row)); }
  async function load() { units = await api("/api/units"); byId.clear(); units.forEach(u => byId.set(u.id, u)); draw(); }
  async function setStatus(id, status) {
    try { const u = await api(`/api/units/${encodeURIComponent(id)}/status`, { method: "POST", body: { status } }); apply(u); }
    catch (x) { toast(x.message, { kind: "error" }); }
  }
  function apply(u) {
    if (!byId.has(u.id)) { units.push(u); } else { units[units.findIndex(x => x.id === u.id)] = u; }
    byId.set(u.id, u);
    const tr = body.querySelector(`tr[data-unit="${CSS.escape(u.id)}"]`);
    if (tr && visible(u)) { tr.replaceWith(row(u)); count(); } else draw();
  }
  filter.addEventListener("change", draw);
  onCleanup(onMessage((m) => { if (m.topic === "unit" && m.data.unit) apply(m.data.unit); }));
  await load();
}
