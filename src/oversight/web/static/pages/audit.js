// The audit log, its integrity check and exports, plus the reports. Auditors and admins: no footage here.
import { t, tn, roleName } from "../lib/i18n.js";
export const title = t("Audit");
export const permission = "audit.read";
// the purposes the server itself records (a person's own words show as written)
const PURPOSES = () => ({ configuration: t("configuration"), "emergency response": t("emergency response"), "capacity benchmark": t("capacity benchmark") });

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, siteInputToDate } = ctx;
  const body = h("tbody"), status = h("p", { class: "muted" }), verdict = h("p"), retention = h("tbody");
  const actor = h("input", { placeholder: t("who (exact user name)"), "aria-label": t("Actor") });
  const action = h("input", { placeholder: t("action, e.g. footage.* or reveal.*"), "aria-label": t("Action") });
  const since = h("input", { type: "datetime-local", "aria-label": t("From") });
  const until = h("input", { type: "datetime-local", "aria-label": t("To") });
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
  const csv = h("a", { href: link("csv"), download: "audit.csv" }, t("Export CSV"));
  const json = h("a", { href: link("json"), download: "audit.json" }, t("Export JSON"));
  const report = (kind, fmt) => h("a", { href: `/api/reports/${kind}?format=${fmt}`, target: "_blank", rel: "noopener" }, `${kind === "pia" ? t("Privacy impact assessment") : t("Transparency report")} (${fmt.toUpperCase()})`);

  el.append(
    h("h1", {}, t("Audit log")),
    h("p", { class: "muted" }, t("Every access to footage, login, configuration change, reveal, export and deletion. Entries are hash-chained; checkpoints are signed with the installation key.")),
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); offset = 0; load(); } },
      actor, action, since, until, h("button", { class: "primary", type: "submit" }, t("Search")), csv, " ", json),
    h("div", { class: "toolbar" }, h("button", { type: "button", onclick: verify }, t("Verify integrity")), verdict),
    h("table", {}, h("thead", {}, h("tr", {}, ...["#", t("When"), t("Who"), t("Role"), t("Action"), t("Object"), t("Why"), t("From")].map(x => h("th", {}, x)))), body),
    h("div", { class: "toolbar" },
      h("button", { type: "button", onclick: () => { offset = Math.max(0, offset - limit); load(); } }, t("Newer ‹")),
      h("button", { type: "button", onclick: () => { offset += limit; load(); } }, t("› Older")), status),
    h("h2", {}, t("Reports")),
    h("ul", {}, ...[["transparency", "html"], ["transparency", "pdf"], ["transparency", "csv"], ["pia", "html"], ["pia", "pdf"]].map(([k, f]) => h("li", {}, report(k, f)))),
    h("h2", {}, t("Retention")),
    h("table", {}, h("thead", {}, h("tr", {}, ...[t("Camera"), t("Policy (days)"), t("Oldest held (days)"), t("Held"), t("Violations"), t("Deleted (period)")].map(x => h("th", {}, x)))), retention));

  async function load() {
    csv.href = link("csv"); json.href = link("json");
    const p = q(); p.set("limit", limit); p.set("offset", offset);
    try {
      const page = await api(`/api/audit?${p}`);
      body.replaceChildren(...page.entries.map(e => h("tr", {},
        h("td", { class: "mono" }, String(e.seq)), h("td", { class: "small" }, fmtTime(e.ts)), h("td", {}, e.actor), h("td", {}, e.role ? roleName(e.role) : ""),
        h("td", { class: "mono" }, e.action), h("td", { class: "mono" }, [e.object_type, e.object_id].filter(Boolean).join(" ")),
        h("td", {}, PURPOSES()[e.purpose] || e.purpose || ""), h("td", { class: "small" }, e.source || ""))));
      status.textContent = t("{shown} shown of {total} entries", { shown: page.entries.length, total: page.total });
    } catch (x) { toast(x.message, { kind: "error" }); }
  }
  async function verify() {
    verdict.textContent = t("checking…");
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
