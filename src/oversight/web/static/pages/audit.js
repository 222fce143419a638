// The audit log, its integrity check and exports, plus the reports. Auditors and admins: no footage here.
export const title = "Audit";
export const permission = "audit.read";

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, siteInputToDate } = ctx;
  const body = h("tbody"), status = h("p", { class: "muted" }), verdict = h("p"), retention = h("tbody");
  const actor = h("input", { placeholder: "who (exact user name)", "aria-label": "Actor" });
  const action = h("input", { placeholder: "action, e.g. footage.* or reveal.*", "aria-label": "Action" });
  const since = h("input", { type: "datetime-local", "aria-label": "From" });
  const until = h("input", { type: "datetime-local", "aria-label": "To" });
  let offset = 0; const limit = 100;

  const q = () => {
    const p = new URLSearchParams();
    if (actor.value.trim()) p.set("actor", actor.value.trim());
    if (action.value.trim()) p.set("action", action.value.trim());
    if (since.value) p.set("since", siteInputToDate(since.value).toISOString());
    if (until.value) p.set("until", siteInputToDate(until.value).toISOString());
    return p;
  };
  const link = (fmt) => { const p = q(); p.delete("actor"); p.delete("action"); p.set("format", fmt); return `/api/audit/export?${p}`; };
  const csv = h("a", { href: link("csv"), download: "audit.csv" }, "Export CSV");
  const json = h("a", { href: link("json"), download: "audit.json" }, "Export JSON");
  const report = (kind, fmt) => h("a", { href: `/api/reports/${kind}?format=${fmt}`, target: "_blank", rel: "noopener" }, `${kind === "pia" ? "Privacy impact assessment" : "Transparency report"} (${fmt.toUpperCase()})`);

  el.append(
    h("h1", {}, "Audit log"),
    h("p", { class: "muted" }, "Every access to footage, login, configuration change, reveal, export and deletion. Entries are hash-chained; checkpoints are signed with the installation key."),
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); offset = 0; load(); } },
      actor, action, since, until, h("button", { class: "primary", type: "submit" }, "Search"), csv, " ", json),
    h("div", { class: "toolbar" }, h("button", { type: "button", onclick: verify }, "Verify integrity"), verdict),
    h("table", {}, h("thead", {}, h("tr", {}, ...["#", "When", "Who", "Role", "Action", "Object", "Why", "From"].map(x => h("th", {}, x)))), body),
    h("div", { class: "toolbar" },
      h("button", { type: "button", onclick: () => { offset = Math.max(0, offset - limit); load(); } }, "Newer ‹"),
      h("button", { type: "button", onclick: () => { offset += limit; load(); } }, "› Older"), status),
    h("h2", {}, "Reports"),
    h("ul", {}, ...[["transparency", "html"], ["transparency", "pdf"], ["transparency", "csv"], ["pia", "html"], ["pia", "pdf"]].map(([k, f]) => h("li", {}, report(k, f)))),
    h("h2", {}, "Retention"),
    h("table", {}, h("thead", {}, h("tr", {}, ...["Camera", "Policy (days)", "Oldest held (days)", "Held", "Violations", "Deleted (period)"].map(x => h("th", {}, x)))), retention));

  async function load() {
    csv.href = link("csv"); json.href = link("json");
    const p = q(); p.set("limit", limit); p.set("offset", offset);
    try {
      const page = await api(`/api/audit?${p}`);
      body.replaceChildren(...page.entries.map(e => h("tr", {},
        h("td", { class: "mono" }, String(e.seq)), h("td", { class: "small" }, fmtTime(e.ts)), h("td", {}, e.actor), h("td", {}, e.role || ""),
        h("td", { class: "mono" }, e.action), h("td", {}, [e.object_type, e.object_id].filter(Boolean).join(" ")),
        h("td", {}, e.purpose || ""), h("td", { class: "small" }, e.source || ""))));
      status.textContent = `${page.entries.length} shown of ${page.total} entries`;
    } catch (x) { toast(x.message, { kind: "error" }); }
  }
  async function verify() {
    verdict.textContent = "checking…";
    const r = await api("/api/audit/verify");
    verdict.textContent = r.message; verdict.className = r.ok ? "ok" : "error";
  }
  async function loadRetention() {
    const r = await api("/api/reports/retention").catch(() => null);
    if (!r) return;
    retention.replaceChildren(...r.cameras.map(c => h("tr", {}, h("td", {}, c.camera_id), h("td", {}, String(c.retention_days)),
      h("td", {}, c.oldest_age_days == null ? "–" : String(c.oldest_age_days)), h("td", {}, String(c.held_segments)),
      h("td", { class: c.violations ? "error" : "" }, String(c.violations)), h("td", {}, String(c.deleted_in_period)))));
  }
  await Promise.all([load(), loadRetention()]);
}
