// Helpers shared by the emergency-response pages (not a page itself; not listed in index.js).
import { t, tn } from "../lib/i18n.js";
export const STATUSES = ["new", "dispatched", "en_route", "on_scene", "cleared", "closed"];

export function ensureCss() {
  if (document.getElementById("incidents-css")) return;
  const link = document.createElement("link");
  link.id = "incidents-css"; link.rel = "stylesheet"; link.href = "/static/pages/incidents.css";
  document.head.append(link);
}

// the built-in incident types' labels (config/incidents.py DEFAULT_TYPES); a city's own labels show as written
export const typeLabel = (s) => ({ "Assault": t("Assault"), "Medical emergency": t("Medical emergency"), "Fire": t("Fire"),
  "Traffic collision": t("Traffic collision"), "Fall / person down": t("Fall / person down"), "Crowd surge": t("Crowd surge"),
  "Intrusion": t("Intrusion"), "Theft": t("Theft"), "Disturbance": t("Disturbance"), "Hazard / obstruction": t("Hazard / obstruction"),
  "Other": t("Other") }[s] || s);
// a built-in type's label by its id (the response-times report groups by id)
const TYPE_IDS = { assault: "Assault", medical: "Medical emergency", fire: "Fire", traffic_collision: "Traffic collision",
  fall: "Fall / person down", crowd_surge: "Crowd surge", intrusion: "Intrusion", theft: "Theft", disturbance: "Disturbance",
  hazard: "Hazard / obstruction", other: "Other" };
export const typeIdLabel = (id) => (TYPE_IDS[id] ? typeLabel(TYPE_IDS[id]) : label(id));
// the response timers' steps (incidents/timers.py STEPS), by key
export const stepLabel = (key, fallback) => ({ dispatch: t("Call → dispatch"), turnout: t("Dispatch → en route"), travel: t("En route → on scene"), total: t("Total response") }[key] || fallback);
// what a status or field key is called on screen
export const label = (s) => ({ new: t("new"), dispatched: t("dispatched"), en_route: t("en route"), on_scene: t("on scene"), cleared: t("cleared"), closed: t("closed"),
  police: t("police"), medical: t("medical"), fire: t("fire"), other: t("other"),
  all_units: t("all"), available: t("available"), off_shift: t("off shift"), retired: t("retired"), busy: t("busy"), out_of_service: t("out of service"), lat: t("latitude"), lon: t("longitude"), x: t("site plan x"), y: t("site plan y") }[s] || (s || "").replace(/_/g, " "));

// seconds -> "m:ss" (or "h:mm:ss")
export function fmtDur(sec) {
  if (sec === null || sec === undefined) return "—";
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(r).padStart(2, "0")}`;
}

// A timer's elapsed seconds now: finished steps are fixed, running ones tick with the clock.
export function elapsed(t, now = Date.now()) {
  if (t.running && t.start) return (now - Date.parse(t.start)) / 1000;
  return t.seconds;
}

export function isOverdue(t, now = Date.now()) {
  const e = elapsed(t, now);
  return e !== null && e !== undefined && e > t.target;
}

// what a unit is now as a person reads it: a retired or off-shift unit is not "available" whatever its status column says
export const unitState = (u) => (u.retired ? "retired" : u.on_duty === false ? "off_shift" : u.status);
export function pill(h, status) { return h("span", { class: "status-pill " + status, dataset: { status } }, label(status)); }
export function prio(h, p) { return h("span", { class: "prio " + p }, p); }

// replaceChildren without the "null" text nodes the DOM makes of null/undefined/false
export function put(node, ...kids) { node.replaceChildren(...kids.flat().filter(k => k !== null && k !== undefined && k !== false && k !== "")); }
