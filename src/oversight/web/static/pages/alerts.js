// Alerts: arrive over the WebSocket (no polling); acknowledge with a note or escalate to an incident.
export const title = "Alerts";
export const permission = "alerts.handle";

export async function render(el, ctx) {
  const { h, api, go, fmtTime, onMessage, onCleanup, alerts, state, toast } = ctx;
  const list = h("div", { class: "alerts", "aria-live": "polite" });
  const showAcked = h("input", { type: "checkbox" });
  const sound = h("input", { type: "checkbox", checked: state.sound });
  sound.addEventListener("change", () => { state.sound = sound.checked; localStorage.setItem("ov_sound", sound.checked ? "on" : "off"); });
  const count = h("span", { class: "muted" });
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), count, h("span", { class: "spacer" }),
    h("label", { style: "display:flex;gap:6px;align-items:center" }, sound, "Sound"),
    h("label", { style: "display:flex;gap:6px;align-items:center" }, showAcked, "Show acknowledged"),
    h("span", { class: "muted small" }, h("kbd", {}, "j"), "/", h("kbd", {}, "k"), " move · ", h("kbd", {}, "n"), " note · ", h("kbd", {}, "Enter"), " acknowledge")), list);
  showAcked.addEventListener("change", load);
  const cards = new Map();

  function card(e, fresh = false) {
    const note = h("input", { placeholder: "Note (what you saw, what you did)", maxlength: 2000, "aria-label": "Acknowledgement note" });
    const ackBtn = h("button", { type: "button", class: "primary", onclick: () => ack(e.id, note.value) }, "Acknowledge");
    const escBtn = h("button", { type: "button", onclick: () => escalate(e.id, note.value) }, "Escalate to incident");
    note.addEventListener("keydown", (k) => { if (k.key === "Enter") ack(e.id, note.value); });
    const thumb = e.thumbnail ? h("img", { src: e.thumbnail, alt: "Snapshot (redacted)", loading: "lazy" }) : h("div", { class: "thumb" });
    if (e.thumbnail) {  // a new event's snapshot may be written a moment after the alert
      let tries = 0;
      thumb.addEventListener("error", () => { if (tries++ < 5) setTimeout(() => { thumb.src = e.thumbnail + "?r=" + tries; }, 1500); });
    }
    const ackInfo = h("div", { class: "muted small" });
    const el = h("article", { class: "alert-card" + (fresh ? " new" : ""), tabindex: 0, dataset: { id: e.id, shownAt: Date.now() } },
      thumb,
      h("div", {}, h("div", { class: "title" }, `${e.label}${e.rule_id ? " · " + e.rule_id : ""}`),
        h("div", {}, h("a", { href: `#/camera/${encodeURIComponent(e.camera_id)}?t=${encodeURIComponent(new Date(Date.parse(e.start) - 5000).toISOString())}` }, e.camera_name || e.camera_id),
          h("span", { class: "muted" }, " · " + fmtTime(e.start))),
        h("div", { class: "muted small" }, `${e.rule_type || "event"}${e.confidence ? " · confidence " + Math.round(e.confidence * 100) + "%" : ""}`), ackInfo),
      h("div", { class: "actions" }, note, h("div", { class: "row" }, ackBtn, escBtn)));
    const entry = { el, e, note, ackInfo, ackBtn, escBtn };
    setAcked(entry, e);
    return entry;
  }
  function setAcked(entry, e) {
    entry.e = e;
    const acked = !!e.acknowledged_at;
    entry.el.classList.toggle("acked", acked);
    entry.ackBtn.disabled = acked; entry.note.disabled = acked;
    entry.ackInfo.textContent = acked ? `Acknowledged by ${e.acknowledged_by} at ${fmtTime(e.acknowledged_at)}${e.ack_note ? ": " + e.ack_note : ""}` : "";
    if (acked && !showAcked.checked) setTimeout(() => { entry.el.remove(); cards.delete(e.id); updateCount(); }, 1500);
  }
  function updateCount() {
    const open = [...cards.values()].filter(c => !c.e.acknowledged_at).length;
    count.textContent = open ? `${open} unacknowledged` : "";
    if (!cards.size) list.replaceChildren(h("p", { class: "muted", id: "no-alerts" }, "No unacknowledged alerts. New ones appear here at once."));
  }
  async function ack(id, note) {
    try {
      const e = await api(`/api/events/${id}/ack`, { method: "POST", body: { note } });
      alerts.ack(id); const c = cards.get(id); if (c) setAcked(c, e);
      toast("Alert acknowledged.");
    } catch (x) { toast("Could not acknowledge: " + x.message, { kind: "error" }); }
  }
  async function escalate(id, note) {
    try {
      const r = await api(`/api/events/${id}/escalate`, { method: "POST", body: { note } });
      alerts.ack(id); toast(`Incident ${r.incident_id} opened.`, { onclick: () => go("incidents/" + r.incident_id) });
      const e = await api(`/api/events/${id}`); const c = cards.get(id); if (c) setAcked(c, e);
    } catch (x) { toast("Could not escalate: " + x.message, { kind: "error" }); }
  }
  function add(e, fresh) {
    if (cards.has(e.id)) return;
    const c = card(e, fresh); cards.set(e.id, c);
    const empty = list.querySelector("#no-alerts"); if (empty) empty.remove();
    if (fresh) list.prepend(c.el); else list.append(c.el);
    updateCount();
  }
  async function load() {
    list.replaceChildren(); cards.clear();
    const page = await api(`/api/events?limit=100${showAcked.checked ? "" : "&unacknowledged=true"}`);
    page.items.forEach(e => add(e, false));
    updateCount();
  }
  onCleanup(onMessage(async (m) => {
    if (m.topic === "event" && m.data.phase === "start") {
      // show at once from the pushed message; no extra round trip before the operator sees it
      const d = m.data;
      add({ id: d.id, camera_id: d.camera_id, camera_name: state.cameraNames[d.camera_id] || d.camera_id, label: d.label,
        rule_id: d.rule_id, rule_type: d.rule_type, start: d.start, confidence: d.confidence || 0,
        thumbnail: `/api/events/${d.id}/thumbnail.jpg`, acknowledged_at: null }, true);
    } else if (m.topic === "alert.ack" && cards.has(m.data.id)) {
      try { setAcked(cards.get(m.data.id), await api(`/api/events/${m.data.id}`)); } catch { /* ignore */ }
    }
  }));
  function keys(e) {
    if (e.target.closest("input, textarea, select")) return;
    const items = [...list.querySelectorAll(".alert-card")];
    const i = items.indexOf(document.activeElement);
    if (e.key === "j") { (items[i + 1] || items[0])?.focus(); e.preventDefault(); }
    else if (e.key === "k") { (items[i - 1] || items[items.length - 1])?.focus(); e.preventDefault(); }
    else if (e.key === "n" && i >= 0) { cards.get(+items[i].dataset.id)?.note.focus(); e.preventDefault(); }
    else if (e.key === "Enter" && i >= 0) ack(+items[i].dataset.id, cards.get(+items[i].dataset.id)?.note.value || "");
  }
  document.addEventListener("keydown", keys); onCleanup(() => document.removeEventListener("keydown", keys));
  await load();
}
