// Subject access requests: a person asks for their own footage. The privacy officer records the
// request (contact, window, cameras, how they described themselves, jurisdiction and its deadline,
// how identity was checked outside the system); an operator plays the footage of one camera, pauses
// on the requester and clicks them (a human choice: nothing here recognises anyone); a supervisor
// makes the signed export, in which only the marked person is unblurred; or the request is refused.
import { t } from "../lib/i18n.js";
import { promptDialog } from "../lib/dialog.js";

export const title = t("Access requests");
const STATUS = { open: () => t("open"), answered: () => t("answered"), refused: () => t("refused") };
export const permission = "sar.read";

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, me, siteInputToDate, can } = ctx;
  const err = h("p", { class: "error" }), body = h("tbody"), work = h("div");
  const laws = await api("/api/sars/jurisdictions").catch(() => ({}));
  const cams = await api("/api/cameras").catch(() => []);
  const iso = (input) => input.value ? siteInputToDate(input.value).toISOString() : null;
  el.append(h("h1", {}, title),
    h("p", { class: "muted" }, t("Requests by people for footage of themselves. Identity is checked outside the system; nothing here searches faces or follows anyone across cameras.")));
  if (can(me, "sar.record")) el.append(intakeForm());
  el.append(h("h2", {}, t("Requests")),
    h("table", {}, h("thead", {}, h("tr", {}, ...["#", t("Received"), t("Deadline"), t("Law"), t("Cameras"), t("Window"), t("Status"), ""].map(x => h("th", {}, x)))), body), work);

  function intakeForm() {
    const f = {
      contact: h("input", { required: true, placeholder: t("How to answer (e-mail or postal address)"), "aria-label": t("Contact") }),
      cams: h("select", { multiple: true, size: Math.min(6, Math.max(2, cams.length)), "aria-label": t("Cameras") }, ...cams.map(c => h("option", { value: c.id }, `${c.name || c.id} (${c.id})`))),
      start: h("input", { type: "datetime-local", required: true, "aria-label": t("From") }),
      end: h("input", { type: "datetime-local", required: true, "aria-label": t("To") }),
      places: h("input", { placeholder: t("Places named by the requester"), "aria-label": t("Places") }),
      description: h("textarea", { rows: 2, placeholder: t("How the requester described themselves (clothing, what they did)"), "aria-label": t("Description") }),
      law: h("select", { "aria-label": t("Jurisdiction") }, ...Object.entries(laws).map(([k, v]) => h("option", { value: k }, v))),
      identity: h("input", { required: true, minlength: 10, placeholder: t("How identity was checked (outside the system)"), "aria-label": t("Identity check") }),
    };
    return h("form", { class: "stack", onsubmit: async (e) => { e.preventDefault(); err.textContent = "";
      try {
        await api("/api/sars", { method: "POST", body: { contact: f.contact.value.trim(), camera_ids: [...f.cams.selectedOptions].map(o => o.value),
          start: iso(f.start), end: iso(f.end), places: f.places.value.trim(), description: f.description.value.trim(), jurisdiction: f.law.value, identity_check: f.identity.value.trim() } });
        toast(t("Request recorded; its deadline is tracked.")); load();
      } catch (x) { err.textContent = typeof x.detail === "string" ? x.detail : t("Check the fields."); } } },
      h("h2", {}, t("Record a request")), f.contact, h("label", {}, t("Cameras "), f.cams), h("label", {}, t("From "), f.start), h("label", {}, t("To "), f.end),
      f.places, f.description, h("label", {}, t("Jurisdiction "), f.law), f.identity, h("button", { class: "primary", type: "submit" }, t("Record request")), err);
  }

  async function load() {
    const rows = await api("/api/sars").catch(() => []);
    body.replaceChildren(...rows.map(r => h("tr", {},
      h("td", {}, String(r.id)), h("td", {}, fmtTime(r.received_at)), h("td", {}, fmtTime(r.deadline_at)), h("td", {}, r.law),
      h("td", {}, r.camera_ids.join(", ")), h("td", {}, `${fmtTime(r.start)} – ${fmtTime(r.end)}`),
      h("td", {}, (STATUS[r.status] || (() => r.status))() + (r.refusal_reason ? `: ${r.refusal_reason}` : "") + (r.export_id ? " " + t("(export {id})", { id: r.export_id }) : "")),
      h("td", {}, r.status === "open" ? h("button", { type: "button", onclick: () => open(r) }, t("Work on it")) : ""))));
    if (!rows.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, t("No requests."))));
  }

  function open(r) {
    const note = h("p", { class: "small" });
    const video = h("video", { controls: true, muted: true, "aria-label": t("Footage: pause on the requester and click them") });
    const camSel = h("select", { "aria-label": t("Camera") }, ...r.camera_ids.map(c => h("option", { value: c }, c)));
    let seg = null;
    async function play() {
      const rec = await api(`/api/cameras/${encodeURIComponent(camSel.value)}/recordings?start=${encodeURIComponent(r.start)}&end=${encodeURIComponent(r.end)}`).catch(() => null);
      const segs = (rec && rec.segments) || [];
      if (!segs.length) { note.textContent = t("No footage of this camera in the window."); return; }
      let i = 0;
      const show = () => { seg = segs[i]; video.src = seg.url; note.textContent = t("Segment {i} of {n}: pause on the requester and click them.", { i: i + 1, n: segs.length }); };
      video.onended = () => { if (i + 1 < segs.length) { i += 1; show(); video.play(); } };
      show();
    }
    video.addEventListener("click", async (e) => {
      if (!seg || !video.paused) return;
      const b = video.getBoundingClientRect();
      const x = (e.clientX - b.left) / b.width, y = (e.clientY - b.top) / b.height;
      const ts = new Date(new Date(seg.start).getTime() + video.currentTime * 1000).toISOString();
      try { const m = await api(`/api/sars/${r.id}/marks`, { method: "POST", body: { camera_id: camSel.value, ts, x, y } }); toast(t("Marked; followed over {n} samples of this camera.", { n: m.followed_samples })); }
      catch (x) { toast(typeof x.detail === "string" ? x.detail : x.message, { kind: "error" }); }
    });
    camSel.addEventListener("change", play);
    const actions = [];
    if (can(me, "export.create")) actions.push(h("button", { type: "button", class: "primary", onclick: async () => {
      try { const x = await api(`/api/sars/${r.id}/export`, { method: "POST" }); toast(t("Signed export {id} made; the request is answered.", { id: x.id })); load(); }
      catch (x) { toast(typeof x.detail === "string" ? x.detail : x.message, { kind: "error" }); } } }, t("Export the answer")));
    if (can(me, "sar.record")) actions.push(h("button", { type: "button", class: "danger", onclick: async () => {
      const reason = await promptDialog({ title: t("Refuse request {id}", { id: r.id }), label: t("Reason for the refusal (given to the requester)"), minlength: 3 }); if (!reason) return;
      try { await api(`/api/sars/${r.id}/refuse`, { method: "POST", body: { reason } }); toast(t("Refused.")); load(); }
      catch (x) { toast(typeof x.detail === "string" ? x.detail : x.message, { kind: "error" }); } } }, t("Refuse")));
    work.replaceChildren(h("h2", {}, t("Request {id}", { id: r.id })), h("p", {}, t("Described as: {description} · places: {places}", { description: r.description || "-", places: r.places || "-" })),
      ...(can(me, "sar.mark") ? [h("div", { class: "toolbar" }, camSel), video, note] : []), h("div", { class: "toolbar" }, ...actions));
    if (can(me, "sar.mark")) play();
  }
  load();
}
