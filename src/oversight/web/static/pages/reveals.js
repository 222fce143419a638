// Four-eyes reveals (unredacted footage needs a reason and a second person) and signed evidence exports.
import { t, tn } from "../lib/i18n.js";
export const title = t("Reveals");
import { formDialog } from "../lib/dialog.js";
import { recipientBody, recipientFields, recipientLabel } from "../lib/recipients.js";
export const permission = "reveal.read";
// a request's status as shown (the API speaks the machine values)
export const revealStatus = (s) => ({ pending: t("pending"), approved: t("approved"), denied: t("denied"), revoked: t("revoked"), expired: t("expired") }[s] || s);

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, me, siteInputToDate, can, go } = ctx;
  const canRequest = can(me, "reveal.request");
  const canDecide = can(me, "reveal.approve");
  const list = h("tbody"), exportsBody = h("tbody"), err = h("p", { class: "error" }), exErr = h("p", { class: "error" });
  const cams = await api("/api/cameras").catch(() => []);
  const camSelect = () => h("select", { multiple: true, size: Math.min(6, Math.max(2, cams.length)), "aria-label": t("Cameras") },
    ...cams.map(c => h("option", { value: c.id }, `${c.name || c.id} (${c.id})`)));
  const chosen = (sel) => [...sel.selectedOptions].map(o => o.value);
  const iso = (input) => input.value ? siteInputToDate(input.value).toISOString() : null;

  const rCams = camSelect(), rStart = h("input", { type: "datetime-local", required: true, "aria-label": t("From") }),
    rEnd = h("input", { type: "datetime-local", required: true, "aria-label": t("To") }),
    rReason = h("textarea", { required: true, minlength: 10, rows: 2, placeholder: t("Why unredacted footage is needed (10+ characters)"), "aria-label": t("Reason") }),
    rRef = h("input", { required: true, placeholder: t("Incident or case reference"), "aria-label": t("Reference") });

  el.append(h("h1", {}, t("Reveals")),
    h("p", { class: "muted" }, t("Faces stay blurred unless a reveal is approved by a second person with the supervisor role. An approved reveal shows only the requested cameras and time window, only to the requester, and expires. Every step is audited.")));
  if (canRequest) {
    el.append(h("h2", {}, t("Request a reveal")),
      h("form", { class: "stack", onsubmit: async (e) => { e.preventDefault(); err.textContent = "";
        try {
          await api("/api/reveals", { method: "POST", body: { camera_ids: chosen(rCams), start: iso(rStart), end: iso(rEnd), reason: rReason.value.trim(), reference: rRef.value.trim() } });
          rReason.value = ""; toast(t("Reveal requested; a supervisor other than you must approve it.")); load();
        } catch (x) { err.textContent = typeof x.detail === "string" ? x.detail : t("Check the fields: cameras, a window, a reason of 10+ characters and a reference."); } } },
        h("label", {}, t("Cameras "), rCams), h("label", {}, t("From "), rStart), h("label", {}, t("To "), rEnd), rReason, rRef,
        h("button", { class: "primary", type: "submit" }, t("Request reveal"))), err);
  }
  const heads = ["#", t("Requested by"), t("Cameras"), t("Window"), t("Reason"), t("Reference"), t("Status"), ""];
  el.append(h("h2", {}, t("Requests")),
    h("table", { class: "cards", id: "reveal-requests" }, h("thead", {}, h("tr", {}, ...heads.map(x => h("th", {}, x)))), list));

  async function decide(r, approve) {
    const fields = [{ name: "note", label: approve ? t("Note for the record (why this is justified)") : t("Why is it denied?"), type: "textarea", required: true }];
    if (approve) fields.push({ name: "hours", label: t("Valid for how many hours?"), type: "number", value: 8, min: 0.25, max: 168, step: 0.25, required: true });
    const d = await formDialog({ title: approve ? t("Approve reveal #{id}", { id: r.id }) : t("Deny reveal #{id}", { id: r.id }), fields, ok: approve ? t("Approve") : t("Deny"), danger: !approve });
    if (!d) return;
    const note = d.note, hours = approve ? d.hours : 8;
    try { await api(`/api/reveals/${r.id}/${approve ? "approve" : "deny"}`, { method: "POST", body: { note, valid_hours: hours } }); toast(approve ? t("Approved.") : t("Denied.")); }
    catch (x) { toast(x.message, { kind: "error" }); }
    load();
  }
  async function load() {
    const rows = await api("/api/reveals");
    list.replaceChildren(...rows.map(r => h("tr", {},
      h("td", {}, String(r.id)), h("td", {}, r.requested_by), h("td", {}, r.camera_ids.join(", ")),
      h("td", { class: "small" }, `${fmtTime(r.start)} – ${fmtTime(r.end)}`), h("td", {}, r.reason), h("td", {}, r.reference),
      h("td", { class: "reveal-status", dataset: { status: r.status } }, revealStatus(r.status), r.expires_at && r.status === "approved" ? h("span", { class: "small muted" }, t(" until {time}", { time: fmtTime(r.expires_at) })) : "",
        r.decided_by ? h("span", { class: "small muted" }, t(" by {user}", { user: r.decided_by })) : "",
        r.approvals_needed > 1 && r.status === "pending" ? h("span", { class: "small muted" },
          " (" + t("far into the future: {state}", { state: r.first_approved_by ? t("1 of 2 approvals, first by {user}", { user: r.first_approved_by }) : t("needs 2 approvals") }) + ")") : ""),
      h("td", {},
        canDecide && r.status === "pending" && r.requested_by !== me.username && r.first_approved_by !== me.username ? [
          h("button", { type: "button", class: "primary", onclick: () => decide(r, true) }, t("Approve")), " ",
          h("button", { type: "button", class: "danger", onclick: () => decide(r, false) }, t("Deny"))] : "",
        (r.requested_by === me.username || canDecide) && ["pending", "approved"].includes(r.status) ?
          h("button", { type: "button", onclick: async () => { await api(`/api/reveals/${r.id}/revoke`, { method: "POST" }); load(); } }, t("Revoke")) : ""))));
    // on a phone each request is a card whose lines say what they are (app.css table.cards)
    for (const tr of list.children) [...tr.children].forEach((td, i) => { if (heads[i]) td.dataset.label = heads[i]; });
  }

  if (canDecide) {
    const eCams = camSelect(), eStart = h("input", { type: "datetime-local", required: true, "aria-label": t("Export from") }),
      eEnd = h("input", { type: "datetime-local", required: true, "aria-label": t("Export to") }),
      ePurpose = h("input", { required: true, minlength: 10, placeholder: t("Purpose (e.g. handover to the prosecutor)"), "aria-label": t("Purpose") }),
      eRef = h("input", { placeholder: t("Incident or case reference"), "aria-label": t("Export reference") }),
      eTo = recipientFields(h);
    el.append(h("h2", {}, t("Signed evidence export")),
      h("p", { class: "muted" }, t("Clips are redacted outside your own approved reveals of these cameras. The export runs in the background (see Exports); the package is signed; check it with `oversight verify-export`.")),
      h("form", { class: "stack", onsubmit: async (e) => { e.preventDefault(); exErr.textContent = "";
        try {
          const r = await api("/api/exports", { method: "POST", body: { camera_ids: chosen(eCams), start: iso(eStart), end: iso(eEnd), purpose: ePurpose.value.trim(), reference: eRef.value.trim() || null, ...recipientBody(eTo) } });
          toast(t("Export {id} started; follow it on the Exports page.", { id: r.id })); go("exports");
        } catch (x) { exErr.textContent = typeof x.detail === "string" ? x.detail : t("Check the fields."); } } },
        h("label", {}, t("Cameras "), eCams), h("label", {}, t("From "), eStart), h("label", {}, t("To "), eEnd), ePurpose, eRef,
        h("label", {}, t("Recipient") + " ", eTo.recipient), eTo.recipientRef,
        h("button", { class: "primary", type: "submit" }, t("Export"))), exErr,
      h("table", {}, h("thead", {}, h("tr", {}, ...["#", t("When"), t("By"), t("Cameras"), t("Purpose"), t("Recipient"), t("Redacted"), t("Manifest SHA-256"), ""].map(x => h("th", {}, x)))), exportsBody));
  }
  async function loadExports() {
    const rows = await api("/api/exports").catch(() => []);
    exportsBody.replaceChildren(...rows.map(r => h("tr", {}, h("td", {}, String(r.id)), h("td", { class: "small" }, fmtTime(r.created_at)), h("td", {}, r.exporter),
      h("td", {}, r.camera_ids.join(", ")), h("td", {}, r.purpose),
      h("td", {}, recipientLabel(r.recipient), r.recipient_ref ? h("div", { class: "small muted" }, r.recipient_ref) : ""), h("td", {}, r.redacted ? "yes" : "NO"), h("td", { class: "mono small" }, r.manifest_sha256.slice(0, 16) + "…"),
      h("td", {}, h("a", { href: `/api/exports/${r.id}/download` }, t("Download"))))));
  }
  await load();
  if (canDecide) await loadExports();
}
