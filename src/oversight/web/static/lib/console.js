// The operator console's shared pieces: its stylesheet, the channel between console windows, the
// bookmark and reveal dialogs (real <dialog>s, never prompt()), and the "revealed" marker.
import { t } from "./i18n.js";

export function consoleCss() {
  if (document.getElementById("console-css")) return;
  const link = document.createElement("link");
  link.id = "console-css"; link.rel = "stylesheet"; link.href = "/static/pages/console.css";
  document.head.append(link);
}

// Windows of one origin talk over a BroadcastChannel: a second monitor follows the first's view, and
// "show on wall" from an alert or incident puts a camera on whichever window shows a view.
const CHANNEL = "oversight-wall";
export function wallChannel(onMsg) {
  if (!("BroadcastChannel" in window)) return { post() {}, close() {} };
  const ch = new BroadcastChannel(CHANNEL);
  if (onMsg) ch.onmessage = (m) => onMsg(m.data || {});
  return { post: (msg) => ch.postMessage(msg), close: () => ch.close() };
}
// Put a camera on the wall: every open view window takes it on its first tile and answers; with
// none answering, this window opens the views page on it.
export function showOnWall(cameraId, go) {
  let answered = false;
  const ch = wallChannel((m) => { if (m.type === "spotlight-ack" && m.camera === cameraId) answered = true; });
  ch.post({ type: "spotlight", camera: cameraId, at: Date.now() });
  setTimeout(() => { ch.close(); if (!answered && go) go("views?camera=" + encodeURIComponent(cameraId)); }, 400);
}

function field(h, label, input) { return h("label", {}, label, " ", input); }

// A modal dialog with a form; resolves with the values, or null when cancelled.
export function formDialog(h, { title, fields, submit = t("Save"), intro = null }) {
  return new Promise((resolve) => {
    const err = h("p", { class: "error", role: "alert" });
    const form = h("form", { method: "dialog" }, h("h2", { style: "margin:0" }, title), intro ? h("p", { class: "muted small" }, intro) : null,
      ...fields.map(([label, input]) => field(h, label, input)), err,
      h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary", value: "ok" }, submit),
        h("button", { type: "button", value: "cancel", onclick: () => { dlg.close(); } }, t("Cancel"))));
    const dlg = h("dialog", { class: "ov" }, form);
    let done = false;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      done = true; dlg.close();
      resolve(Object.fromEntries(fields.map(([, input]) => [input.name, input.type === "checkbox" ? input.checked : input.value])));
    });
    dlg.addEventListener("close", () => { dlg.remove(); if (!done) resolve(null); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// Bookmark a moment (or the span [start, end]) of a camera with a note.
export async function bookmarkDialog(ctx, cameraId, start, end = null, source = "live") {
  const { h, api, toast, fmtTime } = ctx;
  const note = h("textarea", { name: "note", rows: 3, maxlength: 2000, placeholder: t("What is happening here"), "aria-label": t("Bookmark note") });
  const got = await formDialog(h, { title: t("Bookmark"), submit: t("Save bookmark"),
    intro: `${ctx.state.cameraNames[cameraId] || cameraId} · ${fmtTime(start)}${end ? " – " + fmtTime(end) : ""}`, fields: [[t("Note"), note]] });
  if (!got) return null;
  try {
    const b = await api("/api/bookmarks", { method: "POST", body: { camera_id: cameraId, start: start.toISOString(), end: end ? end.toISOString() : null, note: got.note, source } });
    toast(t("Bookmarked.")); return b;
  } catch (x) { toast(x.message, { kind: "error" }); return null; }
}

// Ask for a reveal of what is being watched: cameras and window prefilled, reason and reference asked.
export async function revealDialog(ctx, cameraIds, start, end) {
  const { h, api, toast, fmtTime } = ctx;
  const reason = h("textarea", { name: "reason", required: true, minlength: 10, rows: 2, "aria-label": t("Reason"), placeholder: t("Why unredacted footage is needed (10+ characters)") });
  const reference = h("input", { name: "reference", required: true, "aria-label": t("Reference"), placeholder: t("Incident or case reference") });
  const got = await formDialog(h, { title: t("Request a reveal"), submit: t("Request reveal"), fields: [[t("Reason"), reason], [t("Reference"), reference]],
    intro: t("Cameras: {cameras} · {start} – {end}. A supervisor other than you must approve it.", { cameras: cameraIds.map(c => ctx.state.cameraNames[c] || c).join(", "), start: fmtTime(start), end: fmtTime(end) }) });
  if (!got) return null;
  try {
    const r = await api("/api/reveals", { method: "POST", body: { camera_ids: cameraIds, start: start.toISOString(), end: end.toISOString(), reason: got.reason.trim(), reference: got.reference.trim() } });
    toast(t("Reveal requested; a supervisor will decide.")); return r;
  } catch (x) { toast(typeof x.detail === "string" ? x.detail : x.message, { kind: "error" }); return null; }
}

// While the viewer's own approved reveal covers what a player shows, the player carries a marker, a
// watermark with the viewer's name and the time, and a countdown to the reveal's end. The server
// decides what is unredacted (the egress gate); this only says so, loudly, on the picture.
export function revealMarker(ctx, player, current) {
  const { h, api, me, fmtTime } = ctx;
  const marker = h("div", { class: "revealed-marker", role: "status", hidden: true });
  const mark = h("div", { class: "watermark", "aria-hidden": "true", hidden: true });
  player.append(marker, mark);
  let mine = [];
  async function load() {
    const rows = await api("/api/reveals?status=approved").catch(() => []);
    mine = rows.filter(r => r.requested_by === me.username && r.status === "approved");
  }
  function tick() {
    const now = Date.now(), at = current();  // { camera, t } of the picture shown, or null (live)
    const r = at && mine.find(x => x.camera_ids.includes(at.camera) && Date.parse(x.start) <= at.t && at.t <= Date.parse(x.end) && Date.parse(x.expires_at) > now);
    marker.hidden = mark.hidden = !r;
    player.classList.toggle("revealed", !!r);
    if (!r) return;
    const left = Math.max(0, Math.round((Date.parse(r.expires_at) - now) / 1000));
    const hh = Math.floor(left / 3600), mm = Math.floor(left / 60) % 60, ss = left % 60;
    marker.textContent = t("UNREDACTED · reveal #{id} · ends in {left}", { id: r.id, left: `${hh ? hh + ":" : ""}${String(mm).padStart(2, "0")}:${String(ss).padStart(2, "0")}` });
    mark.textContent = `${me.username}\n${fmtTime(new Date(now))}`;
  }
  const timer = setInterval(tick, 500), reload = setInterval(load, 15000);
  load().then(tick);
  return { refresh: () => load().then(tick), stop: () => { clearInterval(timer); clearInterval(reload); } };
}
