// Bookmarks: moments and spans operators marked on live or recorded footage, with their notes.
// Search them, open one in review, attach one to an incident (its footage is then held as
// evidence) or export its span through the signed evidence export.
import { consoleCss, formDialog } from "../lib/console.js";
import { t } from "../lib/i18n.js";
import { recipientBody, recipientFields } from "../lib/recipients.js";

export const title = t("Bookmarks");
export const permission = "bookmarks.read";
const SOURCES = () => ({ live: t("live"), playback: t("playback") });  // where the bookmark was made

export async function render(el, ctx) {
  consoleCss();
  const { h, api, go, toast, fmtTime, siteInputToDate, can, me, state } = ctx;
  const cameras = await api("/api/cameras").catch(() => []);
  const q = h("input", { type: "search", placeholder: t("Words in the note"), "aria-label": t("Search notes") });
  const cam = h("select", { "aria-label": t("Camera") }, h("option", { value: "" }, t("all cameras")), ...cameras.map(c => h("option", { value: c.id }, c.name)));
  const from = h("input", { type: "datetime-local", "aria-label": t("From") }), to = h("input", { type: "datetime-local", "aria-label": t("To") });
  const body = h("tbody");
  el.append(h("h1", {}, title),
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); load(); } }, q, cam, h("label", {}, t("From"), " ", from), h("label", {}, t("To"), " ", to),
      h("button", { type: "submit", class: "primary" }, t("Search"))),
    h("table", { class: "bookmarks" }, h("thead", {}, h("tr", {}, ...[t("When"), t("Camera"), t("Note"), t("By"), t("Incident"), ""].map(x => h("th", {}, x)))), body));

  async function attach(b) {
    const open = await api("/api/incidents?status=open").catch(() => []);
    const items = Array.isArray(open) ? open : (open.items || []);
    if (!items.length) { toast(t("There is no open incident to attach it to.")); return; }
    const sel = h("select", { name: "incident", required: true, "aria-label": t("Incident") },
      ...items.map(i => h("option", { value: i.id }, `#${i.id} ${i.type} · ${i.priority} · ${i.address || i.description || ""}`)));
    const got = await formDialog(h, { title: t("Attach to an incident"), submit: t("Attach"), fields: [[t("Incident"), sel]],
      intro: t("The bookmarked footage is held as evidence while the incident is open.") });
    if (!got) return;
    try { await api(`/api/bookmarks/${b.id}/incident`, { method: "POST", body: { incident_id: +got.incident } }); toast(t("Attached to incident #{id}.", { id: got.incident })); load(); }
    catch (x) { toast(x.message, { kind: "error" }); }
  }
  async function exportSpan(b) {
    const purpose = h("input", { name: "purpose", required: true, minlength: 10, "aria-label": t("Purpose"), placeholder: t("e.g. handover to the prosecutor") });
    const to = recipientFields(h);
    const got = await formDialog(h, { title: t("Export this bookmark"), submit: t("Export"),
      fields: [[t("Purpose"), purpose], [t("Recipient"), to.recipient], [t("Recipient reference"), to.recipientRef]],
      intro: t("A signed evidence package of the bookmarked span (redacted unless your own reveal covers it).") });
    if (!got) return;
    const start = new Date(b.start), end = b.end ? new Date(b.end) : new Date(start.getTime() + 15e3);
    try {
      const r = await api("/api/exports", { method: "POST", body: { camera_ids: [b.camera_id], start: new Date(Math.min(start, end - 15e3)).toISOString(), end: end.toISOString(), purpose: got.purpose, reference: `bookmark:${b.id}`, ...recipientBody(to) } });
      toast(t("Export {id} ready.", { id: r.id }), { onclick: () => { location.href = `/api/exports/${r.id}/download`; } });
    } catch (x) { toast(typeof x.detail === "string" ? x.detail : x.message, { kind: "error" }); }
  }
  async function load() {
    const p = new URLSearchParams();
    if (q.value.trim()) p.set("q", q.value.trim());
    if (cam.value) p.set("camera_id", cam.value);
    if (from.value) p.set("start", siteInputToDate(from.value).toISOString());
    if (to.value) p.set("end", siteInputToDate(to.value).toISOString());
    const rows = await api("/api/bookmarks?" + p).catch((x) => { toast(x.message, { kind: "error" }); return []; });
    body.replaceChildren(...rows.map(b => h("tr", { "data-bookmark": b.id },
      h("td", { class: "small" }, fmtTime(b.start), b.end ? ` – ${fmtTime(b.end, { date: false })}` : "", h("span", { class: "muted" }, ` (${SOURCES()[b.source] || b.source})`)),
      h("td", {}, state.cameraNames[b.camera_id] || b.camera_id), h("td", {}, b.note), h("td", {}, b.created_by),
      h("td", {}, b.incident_id ? h("a", { href: `#/incidents/${b.incident_id}` }, `#${b.incident_id}`) : ""),
      h("td", {},
        can(me, "footage.view") ? h("button", { type: "button", onclick: () => go(`review?cameras=${encodeURIComponent(b.camera_id)}&t=${new Date(Date.parse(b.start) - 10e3).toISOString()}&m=5`) }, t("Review")) : null,
        can(me, "bookmarks.create") && !b.incident_id ? h("button", { type: "button", onclick: () => attach(b) }, t("Attach to incident")) : null,
        can(me, "export.create") ? h("button", { type: "button", onclick: () => exportSpan(b) }, t("Export")) : null))));
    if (!rows.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, t("No bookmarks match."))));
  }
  await load();
}
