// Four-eyes reveals (unredacted footage needs a reason and a second person) and signed evidence exports.
export const title = "Reveals";
export const permission = "reveal.read";

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, me, siteInputToDate, can, go } = ctx;
  const canRequest = can(me, "reveal.request");
  const canDecide = can(me, "reveal.approve");
  const list = h("tbody"), exportsBody = h("tbody"), err = h("p", { class: "error" }), exErr = h("p", { class: "error" });
  const cams = await api("/api/cameras").catch(() => []);
  const camSelect = () => h("select", { multiple: true, size: Math.min(6, Math.max(2, cams.length)), "aria-label": "Cameras" },
    ...cams.map(c => h("option", { value: c.id }, `${c.name || c.id} (${c.id})`)));
  const chosen = (sel) => [...sel.selectedOptions].map(o => o.value);
  const iso = (input) => input.value ? siteInputToDate(input.value).toISOString() : null;

  const rCams = camSelect(), rStart = h("input", { type: "datetime-local", required: true, "aria-label": "From" }),
    rEnd = h("input", { type: "datetime-local", required: true, "aria-label": "To" }),
    rReason = h("textarea", { required: true, minlength: 10, rows: 2, placeholder: "Why unredacted footage is needed (10+ characters)", "aria-label": "Reason" }),
    rRef = h("input", { required: true, placeholder: "Incident or case reference", "aria-label": "Reference" });

  el.append(h("h1", {}, "Reveals"),
    h("p", { class: "muted" }, "Faces stay blurred unless a reveal is approved by a second person with the supervisor role. An approved reveal shows only the requested cameras and time window, only to the requester, and expires. Every step is audited."));
  if (canRequest) {
    el.append(h("h2", {}, "Request a reveal"),
      h("form", { class: "stack", onsubmit: async (e) => { e.preventDefault(); err.textContent = "";
        try {
          await api("/api/reveals", { method: "POST", body: { camera_ids: chosen(rCams), start: iso(rStart), end: iso(rEnd), reason: rReason.value.trim(), reference: rRef.value.trim() } });
          rReason.value = ""; toast("Reveal requested; a supervisor other than you must approve it."); load();
        } catch (x) { err.textContent = typeof x.detail === "string" ? x.detail : "Check the fields: cameras, a window, a reason of 10+ characters and a reference."; } } },
        h("label", {}, "Cameras ", rCams), h("label", {}, "From ", rStart), h("label", {}, "To ", rEnd), rReason, rRef,
        h("button", { class: "primary", type: "submit" }, "Request reveal")), err);
  }
  el.append(h("h2", {}, "Requests"),
    h("table", {}, h("thead", {}, h("tr", {}, ...["#", "Requested by", "Cameras", "Window", "Reason", "Reference", "Status", ""].map(x => h("th", {}, x)))), list));

  async function decide(r, approve) {
    const note = prompt(approve ? "Note for the record (why this is justified):" : "Why is it denied?") || "";
    const hours = approve ? Number(prompt("Valid for how many hours?", "8") || "8") : 8;
    try { await api(`/api/reveals/${r.id}/${approve ? "approve" : "deny"}`, { method: "POST", body: { note, valid_hours: hours } }); toast(approve ? "Approved." : "Denied."); }
    catch (x) { toast(x.message, { kind: "error" }); }
    load();
  }
  async function load() {
    const rows = await api("/api/reveals");
    list.replaceChildren(...rows.map(r => h("tr", {},
      h("td", {}, String(r.id)), h("td", {}, r.requested_by), h("td", {}, r.camera_ids.join(", ")),
      h("td", { class: "small" }, `${fmtTime(r.start)} – ${fmtTime(r.end)}`), h("td", {}, r.reason), h("td", {}, r.reference),
      h("td", {}, r.status, r.expires_at && r.status === "approved" ? h("span", { class: "small muted" }, ` until ${fmtTime(r.expires_at)}`) : "",
        r.decided_by ? h("span", { class: "small muted" }, ` by ${r.decided_by}`) : "",
        r.approvals_needed > 1 && r.status === "pending" ? h("span", { class: "small muted" },
          ` (far into the future: ${r.first_approved_by ? `1 of 2 approvals, first by ${r.first_approved_by}` : "needs 2 approvals"})`) : ""),
      h("td", {},
        canDecide && r.status === "pending" && r.requested_by !== me.username && r.first_approved_by !== me.username ? [
          h("button", { type: "button", class: "primary", onclick: () => decide(r, true) }, "Approve"), " ",
          h("button", { type: "button", class: "danger", onclick: () => decide(r, false) }, "Deny")] : "",
        (r.requested_by === me.username || canDecide) && ["pending", "approved"].includes(r.status) ?
          h("button", { type: "button", onclick: async () => { await api(`/api/reveals/${r.id}/revoke`, { method: "POST" }); load(); } }, "Revoke") : ""))));
  }

  if (canDecide) {
    const eCams = camSelect(), eStart = h("input", { type: "datetime-local", required: true, "aria-label": "Export from" }),
      eEnd = h("input", { type: "datetime-local", required: true, "aria-label": "Export to" }),
      ePurpose = h("input", { required: true, minlength: 10, placeholder: "Purpose (e.g. handover to the prosecutor)", "aria-label": "Purpose" }),
      eRef = h("input", { placeholder: "Incident or case reference", "aria-label": "Export reference" });
    el.append(h("h2", {}, "Signed evidence export"),
      h("p", { class: "muted" }, "Clips are redacted outside your own approved reveals of these cameras. The export runs in the background (see Exports); the package is signed; check it with `oversight verify-export`."),
      h("form", { class: "stack", onsubmit: async (e) => { e.preventDefault(); exErr.textContent = "";
        try {
          const r = await api("/api/exports", { method: "POST", body: { camera_ids: chosen(eCams), start: iso(eStart), end: iso(eEnd), purpose: ePurpose.value.trim(), reference: eRef.value.trim() || null } });
          toast(`Export ${r.id} started; follow it on the Exports page.`); go("exports");
        } catch (x) { exErr.textContent = typeof x.detail === "string" ? x.detail : "Check the fields."; } } },
        h("label", {}, "Cameras ", eCams), h("label", {}, "From ", eStart), h("label", {}, "To ", eEnd), ePurpose, eRef,
        h("button", { class: "primary", type: "submit" }, "Export")), exErr,
      h("table", {}, h("thead", {}, h("tr", {}, ...["#", "When", "By", "Cameras", "Purpose", "Redacted", "Manifest SHA-256", ""].map(x => h("th", {}, x)))), exportsBody));
  }
  async function loadExports() {
    const rows = await api("/api/exports").catch(() => []);
    exportsBody.replaceChildren(...rows.map(r => h("tr", {}, h("td", {}, String(r.id)), h("td", { class: "small" }, fmtTime(r.created_at)), h("td", {}, r.exporter),
      h("td", {}, r.camera_ids.join(", ")), h("td", {}, r.purpose), h("td", {}, r.redacted ? "yes" : "NO"), h("td", { class: "mono small" }, r.manifest_sha256.slice(0, 16) + "…"),
      h("td", {}, h("a", { href: `/api/exports/${r.id}/download` }, "Download")))));
  }
  await load();
  if (canDecide) await loadExports();
}
