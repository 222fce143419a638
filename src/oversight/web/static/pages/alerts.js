// Alerts: the queue of situations to handle (not every detection). Pushed over the WebSocket (topic
// "alert"); acknowledge with a reason (and a cause for false alarms), in bulk, or escalate to an incident.
import { showOnWall } from "../lib/console.js";
import { t, tn } from "../lib/i18n.js";
export const title = t("Alerts");
export const permission = "alerts.handle";

const REASONS = () => [["real", t("Real")], ["false_alarm", t("False alarm")], ["test", t("Test")], ["duplicate", t("Duplicate")]];
const CAUSES = () => [["weather", t("weather")], ["lighting", t("lighting")], ["animal", t("animal")], ["vegetation", t("vegetation")], ["reflection", t("reflection")], ["camera", t("camera")], ["detection", t("detection")], ["other", t("other")]];

function select(h, options, label) {
  return h("select", { "aria-label": label }, options.map(([v, text]) => h("option", { value: v }, text)));
}

export async function render(el, ctx) {
  const { h, api, go, fmtTime, onMessage, onCleanup, alerts, state, toast } = ctx;
  const list = h("div", { class: "alerts", "aria-live": "polite" });
  const showAcked = h("input", { type: "checkbox" });
  const sound = h("input", { type: "checkbox", checked: state.sound });
  sound.addEventListener("change", () => { state.sound = sound.checked; localStorage.setItem("ov_sound", sound.checked ? "on" : "off"); });
  const count = h("span", { class: "muted", id: "alerts-count" });
  const all = h("input", { type: "checkbox", "aria-label": t("Select all shown") });
  const bulkReason = select(h, REASONS(), t("Reason for the selected"));
  const bulkCause = select(h, CAUSES(), t("Cause of the false alarms"));
  bulkCause.hidden = true;
  bulkReason.addEventListener("change", () => { bulkCause.hidden = bulkReason.value !== "false_alarm"; });
  const bulkBtn = h("button", { type: "button", id: "bulk-ack" }, t("Acknowledge selected"));
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), count, h("span", { class: "spacer" }),
    h("label", { style: "display:flex;gap:6px;align-items:center" }, sound, t("Sound")),
    h("label", { style: "display:flex;gap:6px;align-items:center" }, showAcked, t("Show acknowledged")),
    h("span", { class: "muted small" }, h("kbd", {}, "j"), "/", h("kbd", {}, "k"), t(" move · "), h("kbd", {}, "n"), t(" note · "), h("kbd", {}, t("Enter")), t(" acknowledge"))),
    h("div", { class: "toolbar small" }, h("label", { style: "display:flex;gap:6px;align-items:center" }, all, t("All shown")), bulkReason, bulkCause, bulkBtn),
    list);
  showAcked.addEventListener("change", load);
  all.addEventListener("change", () => { for (const c of cards.values()) if (!c.a.acknowledged_at) c.pick.checked = all.checked; });
  bulkBtn.addEventListener("click", bulkAck);
  const cards = new Map();

  function body(reason, cause, note) {
    return reason === "false_alarm" ? { reason, cause, note } : { reason, note };
  }

  function card(a, fresh = false) {
    const note = h("input", { placeholder: t("Note (what you saw, what you did)"), maxlength: 2000, "aria-label": t("Acknowledgement note") });
    const reason = select(h, REASONS(), t("Reason"));
    const cause = select(h, CAUSES(), t("Cause of the false alarm")); cause.hidden = true;
    reason.addEventListener("change", () => { cause.hidden = reason.value !== "false_alarm"; });
    const pick = h("input", { type: "checkbox", "aria-label": t("Select") });
    const ackBtn = h("button", { type: "button", class: "primary", onclick: () => ack(a.id, body(reason.value, cause.value, note.value)) }, t("Acknowledge"));
    const escBtn = a.event_id ? h("button", { type: "button", onclick: () => escalate(a.id, note.value) }, t("Escalate to incident")) : null;
    note.addEventListener("keydown", (k) => { if (k.key === "Enter") ack(a.id, body(reason.value, cause.value, note.value)); });
    const thumb = a.thumbnail ? h("img", { src: a.thumbnail, alt: t("Snapshot (redacted)"), loading: "lazy" }) : h("div", { class: "thumb" });
    if (a.thumbnail) {  // a new event's snapshot may be written a moment after the alert
      let tries = 0;
      thumb.addEventListener("error", () => { if (tries++ < 5) setTimeout(() => { thumb.src = a.thumbnail + "?r=" + tries; }, 1500); });
    }
    const head = h("div", { class: "title" });
    const meta = h("div", { class: "muted small" });
    const ackInfo = h("div", { class: "muted small" });
    const camLink = a.camera_id
      ? h("a", { href: `#/camera/${encodeURIComponent(a.camera_id)}?t=${encodeURIComponent(new Date(Date.parse(a.opened_at) - 5000).toISOString())}` }, a.camera_name || a.camera_id)
      : h("span", {}, t("Server"));
    const el = h("article", { class: `alert-card prio-${a.priority}` + (fresh ? " new" : ""), tabindex: 0,
      dataset: { id: a.id, event: a.event_id || "", kind: a.kind, shownAt: Date.now() } },
      h("div", {}, pick, thumb),
      h("div", {}, head, h("div", {}, camLink, h("span", { class: "muted" }, " · " + fmtTime(a.opened_at))), meta, ackInfo),
      h("div", { class: "actions" }, h("div", { class: "row" }, reason, cause), note, h("div", { class: "row" }, ackBtn, escBtn,
        a.camera_id ? h("button", { type: "button", title: t("Put this camera on the wall (every window showing a view)"), onclick: () => showOnWall(a.camera_id, ctx.go) }, t("Show on wall")) : null)));
    const entry = { el, a, note, reason, cause, pick, head, meta, ackInfo, ackBtn };
    refresh(entry, a);
    return entry;
  }
  function refresh(entry, a) {
    entry.a = { ...entry.a, ...a };
    a = entry.a;
    entry.el.className = entry.el.className.replace(/prio-P\d/, "prio-" + a.priority);
    entry.head.replaceChildren(h("span", { class: "prio" }, a.priority), " ", a.title);
    const bits = [a.kind === "rule" ? t("rule alert") : a.kind === "storm" ? t("grouped alerts") : t("health")];
    if (a.occurrences > 1) bits.push(t("{n}×, last {time}", { n: a.occurrences, time: fmtTime(a.updated_at, { date: false }) }));
    bits.push(a.ended_at ? t("situation over") : t("ongoing"));
    if (a.escalated_at) bits.push(t("escalated (unacknowledged too long)"));
    entry.meta.textContent = bits.join(" · ");
    entry.el.classList.toggle("ongoing", !a.ended_at);
    entry.el.classList.toggle("escalated", !!a.escalated_at);
    const acked = !!a.acknowledged_at;
    entry.el.classList.toggle("acked", acked);
    entry.ackBtn.disabled = acked; entry.note.disabled = acked; entry.pick.disabled = acked;
    if (acked) entry.pick.checked = false;
    const why = a.ack_reason ? ` (${(REASONS().find(r => r[0] === a.ack_reason) || [0, a.ack_reason])[1]}${a.ack_cause ? ": " + ((CAUSES().find(c => c[0] === a.ack_cause) || [0, a.ack_cause])[1]) : ""})` : "";
    entry.ackInfo.textContent = acked ? t("Acknowledged by {user} at {time}", { user: a.acknowledged_by, time: fmtTime(a.acknowledged_at) }) + `${why}${a.ack_note ? ": " + a.ack_note : ""}` : "";
    if (acked && !showAcked.checked) setTimeout(() => { entry.el.remove(); cards.delete(a.id); empty(); }, 1500);
  }
  async function updateCount() {
    const c = await api("/api/alerts/count").catch(() => null);
    if (c) count.textContent = c.unacknowledged ? t("{n} unacknowledged", { n: c.unacknowledged }) : "";
  }
  function empty() {
    if (!cards.size && !list.querySelector("#no-alerts")) list.replaceChildren(h("p", { class: "muted", id: "no-alerts" }, t("No unacknowledged alerts. New ones appear here at once.")));
  }
  function acked(a) { alerts.ack(a.id); const c = cards.get(a.id); if (c) refresh(c, a); }
  async function ack(id, b) {
    try {
      acked(await api(`/api/alerts/${id}/ack`, { method: "POST", body: b }));
      toast(t("Alert acknowledged.")); updateCount();
    } catch (x) { toast(t("Could not acknowledge: {error}", { error: x.message }), { kind: "error" }); }
  }
  async function bulkAck() {
    const ids = [...cards.values()].filter(c => c.pick.checked).map(c => c.a.id);
    if (!ids.length) { toast(t("Select alerts first."), { kind: "error" }); return; }
    try {
      const r = await api("/api/alerts/ack", { method: "POST", body: { ids, ...body(bulkReason.value, bulkCause.value, "") } });
      toast(tn("{n} alert acknowledged.", "{n} alerts acknowledged.", r.acknowledged.length)); all.checked = false;
      for (const id of r.acknowledged) { alerts.ack(id); const c = cards.get(id); if (c) refresh(c, { acknowledged_at: new Date().toISOString(), acknowledged_by: state.me.username, ack_reason: bulkReason.value }); }
      updateCount();
    } catch (x) { toast(t("Could not acknowledge: {error}", { error: x.message }), { kind: "error" }); }
  }
  async function escalate(id, note) {
    try {
      const r = await api(`/api/alerts/${id}/escalate`, { method: "POST", body: { note } });
      toast(t("Incident {id} opened.", { id: r.incident_id }), { onclick: () => go("incidents/" + r.incident_id) });
      acked(await api(`/api/alerts/${id}`)); updateCount();
    } catch (x) { toast(t("Could not escalate: {error}", { error: x.message }), { kind: "error" }); }
  }
  function add(a, fresh) {
    if (cards.has(a.id)) { refresh(cards.get(a.id), a); return; }
    const c = card(a, fresh); cards.set(a.id, c);
    const none = list.querySelector("#no-alerts"); if (none) none.remove();
    if (fresh) list.prepend(c.el); else list.append(c.el);
  }
  async function load() {
    list.replaceChildren(); cards.clear();
    const page = await api(`/api/alerts?limit=200&state=${showAcked.checked ? "all" : "unacknowledged"}`);
    page.items.forEach(a => add(a, false));
    empty(); updateCount();
  }
  onCleanup(onMessage((m) => {
    if (m.topic !== "alert") return;
    const a = { ...m.data, camera_name: state.cameraNames[m.data.camera_id] || m.data.camera_id };
    if (m.data.phase === "open") { add(a, true); updateCount(); }
    else if (cards.has(a.id)) { refresh(cards.get(a.id), a); if (m.data.phase === "ack") updateCount(); }
    else if (m.data.phase === "escalate" && !a.acknowledged_at) add(a, true);
  }));
  function keys(e) {
    if (e.target.closest("input, textarea, select")) return;
    const items = [...list.querySelectorAll(".alert-card")];
    const i = items.indexOf(document.activeElement);
    const c = i >= 0 ? cards.get(+items[i].dataset.id) : null;
    if (e.key === "j") { (items[i + 1] || items[0])?.focus(); e.preventDefault(); }
    else if (e.key === "k") { (items[i - 1] || items[items.length - 1])?.focus(); e.preventDefault(); }
    else if (e.key === "n" && c) { c.note.focus(); e.preventDefault(); }
    else if (e.key === "Enter" && c) ack(c.a.id, body(c.reason.value, c.cause.value, c.note.value));
  }
  document.addEventListener("keydown", keys); onCleanup(() => document.removeEventListener("keydown", keys));
  await load();
}
