// Units board and roster: every response unit, its status, shift and assignment; status buttons for
// the console; for supervisors the roster (add, edit, retire units) and the stations. The same changes
// arrive from mobile apps / radio gateways through the API and show up here live. Forms open in the
// page's own dialogs (lib/dialog.js), never the browser's prompt/confirm.
import { ensureCss, label, pill, unitState } from "./incidents-common.js";
import { formDialog } from "../lib/dialog.js";
import { t, tn } from "../lib/i18n.js";

export const title = t("Units");
export const permission = "incidents.manage";

const NEXT = { dispatched: ["en_route", "available"], en_route: ["on_scene", "available"], on_scene: ["available"],
  available: ["out_of_service"], out_of_service: ["available"] };
const TYPES = ["police", "fire", "medical", "other"];

// The fields of a unit's form; ``u`` fills them when editing.
function unitFields(stations, u = null) {
  const loc = (u && u.location) || {};
  return [
    u ? null : { name: "id", label: t("Call sign"), required: true, pattern: "[A-Za-z0-9_\\-]{1,32}" },
    { name: "name", label: t("Name"), value: u ? u.name || "" : "" },
    { name: "type", label: t("Type"), type: "select", value: u ? u.type : "police", options: TYPES.map(x => [x, label(x)]) },
    { name: "station", label: t("Station"), type: "select", value: u ? u.station || "" : "",
      options: [["", t("(none)")], ...stations.map(s => [s.id, s.name]), ...(u && u.station && !stations.some(s => s.id === u.station) ? [[u.station, u.station]] : [])] },
    { name: "lat", label: t("Latitude"), type: "number", step: "any", value: loc.lat, help: t("Empty: the station's position") },
    { name: "lon", label: t("Longitude"), type: "number", step: "any", value: loc.lon },
  ].filter(Boolean);
}

export async function render(el, ctx) {
  ensureCss();
  const { h, api, toast, fmtTime, onMessage, onCleanup, me, can } = ctx;
  const canWrite = can(me, "incidents.manage"), canRoster = can(me, "units.manage"), canShift = can(me, "units.shift");
  const filter = h("select", { "aria-label": t("Show"), id: "units-filter" }, ...["all", "available", "busy", "out_of_service", "off_shift"].map(v => h("option", { value: v }, v === "off_shift" ? t("off shift") : label(v === "all" ? "all_units" : v))));
  const summary = h("span", { class: "muted" });
  const body = h("tbody"), stationBody = h("tbody");
  const addBtn = canRoster ? h("button", { type: "button", class: "primary", id: "unit-add", onclick: () => addUnit() }, t("Add unit")) : null;
  el.append(h("div", { class: "toolbar" }, h("h1", {}, title), summary, h("span", { class: "spacer" }), addBtn, h("label", { class: "actions-row" }, t("Show"), filter)),
    h("table", { class: "units-board", "aria-label": t("Units") },
      h("thead", {}, h("tr", {}, ...[t("Unit"), t("Type"), t("Station"), t("Status"), t("Shift"), t("Incident"), t("Since"), ""].map(x => h("th", {}, x)))), body));
  el.append(h("div", { class: "toolbar" }, h("h2", {}, t("Stations")), h("span", { class: "spacer" }),
    canRoster ? h("button", { type: "button", id: "station-add", onclick: () => editStation(null) }, t("Add station")) : null),
  h("table", { class: "units-board", "aria-label": t("Stations") },
    h("thead", {}, h("tr", {}, ...[t("Station"), t("Name"), t("Latitude"), t("Longitude"), ""].map(x => h("th", {}, x)))), stationBody));
  let units = [], stations = [];
  const byId = new Map();

  function actions(u) {
    const acts = canWrite && u.on_duty ? (NEXT[u.status] || []).map(s => h("button", { type: "button", dataset: { to: s }, onclick: () => setStatus(u.id, s) }, label(s))) : [];
    if (canShift && !u.incident_id) acts.push(h("button", { type: "button", dataset: { shift: u.on_duty ? "end" : "start" }, onclick: () => shift(u, !u.on_duty) }, u.on_duty ? t("End shift") : t("Start shift")));
    if (canRoster) acts.push(h("button", { type: "button", dataset: { edit: u.id }, onclick: () => editUnit(u) }, t("Edit")));
    if (canRoster && !u.incident_id) acts.push(h("button", { type: "button", class: "danger", dataset: { retire: u.id }, onclick: () => retire(u) }, t("Retire")));
    return acts;
  }
  function row(u) {
    const st = stations.find(s => s.id === u.station);
    return h("tr", { dataset: { unit: u.id, status: u.status, duty: u.on_duty ? "on" : "off" } }, h("td", { class: "mono" }, u.id + (u.name ? " · " + u.name : "")),
      h("td", {}, label(u.type)), h("td", {}, st ? st.name : u.station || ""), h("td", {}, pill(h, unitState(u))),
      h("td", {}, u.on_duty ? t("on shift") : h("span", { class: "muted" }, t("off shift"))),
      h("td", {}, u.incident_id ? h("a", { href: "#/incidents/" + u.incident_id }, "#" + u.incident_id) : ""),
      h("td", { class: "mono" }, fmtTime(u.status_changed_at, { date: false })), h("td", {}, h("div", { class: "actions-row" }, ...actions(u))));
  }
  function visible(u) {
    const v = filter.value;
    if (v === "off_shift") return !u.on_duty;
    return v === "all" || (u.on_duty && (v === "busy" ? ["dispatched", "en_route", "on_scene"].includes(u.status) : u.status === v));
  }
  function count() {
    const counts = {};
    for (const u of units) if (u.on_duty) counts[u.status] = (counts[u.status] || 0) + 1;
    const off = units.filter(u => !u.on_duty).length;
    summary.textContent = [...Object.entries(counts).map(([k, n]) => t("{n} {status}", { n, status: label(k) })),
      ...(off ? [tn("{n} off shift", "{n} off shift", off)] : [])].join(" · ");
  }
  function drawStations() {
    stationBody.replaceChildren(...stations.map(s => h("tr", { dataset: { station: s.id } }, h("td", { class: "mono" }, s.id), h("td", {}, s.name),
      h("td", { class: "mono" }, s.location.lat != null ? s.location.lat.toFixed(6) : ""), h("td", { class: "mono" }, s.location.lon != null ? s.location.lon.toFixed(6) : ""),
      h("td", {}, canRoster ? h("button", { type: "button", onclick: () => editStation(s) }, t("Edit")) : ""))));
  }
  function draw() { count(); body.replaceChildren(...units.filter(visible).map(row)); drawStations(); }
  async function load() {
    [units, stations] = await Promise.all([api("/api/units"), api("/api/stations")]);
    byId.clear(); units.forEach(u => byId.set(u.id, u)); draw();
  }
  async function call(path, method, payload, done) {
    try { const u = await api(path, { method, body: payload }); apply(u); if (done) toast(done); return true; }
    catch (x) { toast(x.message, { kind: "error" }); return false; }
  }
  const setStatus = (id, status) => call(`/api/units/${encodeURIComponent(id)}/status`, "POST", { status });
  const shift = (u, on) => call(`/api/units/${encodeURIComponent(u.id)}/shift`, "POST", { on_duty: on }, on ? t("Shift started: {unit}.", { unit: u.id }) : t("Shift ended: {unit}.", { unit: u.id }));
  const blank = (v) => (v === "" ? null : v);
  async function addUnit() {
    const r = await formDialog({ title: t("Add unit"), fields: unitFields(stations), ok: t("Add unit") });
    if (!r) return;
    await call("/api/units", "POST", { ...r, name: blank(r.name), station: blank(r.station) }, t("Unit {unit} added.", { unit: r.id }));
  }
  async function editUnit(u) {
    const r = await formDialog({ title: t("Edit unit {unit}", { unit: u.id }), fields: unitFields(stations, u), ok: t("Save") });
    if (!r) return;
    await call(`/api/units/${encodeURIComponent(u.id)}`, "PATCH", { ...r, name: blank(r.name), station: blank(r.station) }, t("Saved."));
  }
  async function retire(u) {
    const r = await formDialog({ title: t("Retire unit {unit}?", { unit: u.id }), danger: true, ok: t("Retire"),
      text: t("The unit leaves the board, the map and the recommendations. Its history is kept."),
      fields: [{ name: "reason", label: t("Reason"), required: true }] });
    if (r) await call(`/api/units/${encodeURIComponent(u.id)}/retire`, "POST", { reason: r.reason }, t("Unit {unit} retired.", { unit: u.id }));
  }
  async function editStation(s) {
    const loc = (s && s.location) || {};
    const fields = [s ? null : { name: "id", label: t("Station id"), required: true, pattern: "[A-Za-z0-9_\\-]{1,64}" },
      { name: "name", label: t("Name"), required: true, value: s ? s.name : "" },
      { name: "lat", label: t("Latitude"), type: "number", step: "any", value: loc.lat }, { name: "lon", label: t("Longitude"), type: "number", step: "any", value: loc.lon }].filter(Boolean);
    const r = await formDialog({ title: s ? t("Edit station {station}", { station: s.id }) : t("Add station"), fields, ok: t("Save") });
    if (!r) return;
    try {
      await api(s ? `/api/stations/${encodeURIComponent(s.id)}` : "/api/stations", { method: s ? "PUT" : "POST", body: r });
      toast(t("Saved.")); await load();
    } catch (x) { toast(x.message, { kind: "error" }); }
  }
  function apply(u) {
    if (u.retired) { units = units.filter(x => x.id !== u.id); byId.delete(u.id); draw(); return; }
    if (!byId.has(u.id)) { units.push(u); } else { units[units.findIndex(x => x.id === u.id)] = u; }
    byId.set(u.id, u);
    const tr = body.querySelector(`tr[data-unit="${CSS.escape(u.id)}"]`);
    if (tr && visible(u)) { tr.replaceWith(row(u)); count(); } else draw();
  }
  filter.addEventListener("change", draw);
  onCleanup(onMessage((m) => { if (m.topic === "unit" && m.data.unit) apply(m.data.unit); }));
  await load();
}
