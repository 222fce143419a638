// Response times: p50/p90 of every step by type, priority, district or period, against the targets;
// a chart, CSV exports, and one line per incident with its measured durations.
import { ensureCss, label, typeLabel, typeIdLabel, fmtDur, pill } from "./incidents-common.js";
import { t, tn } from "../lib/i18n.js";

export const title = t("Response times");
export const permission = "incidents.read";
const STEPS = [["dispatch", t("Call→dispatch")], ["turnout", t("Turnout")], ["travel", t("Travel")], ["total", t("Total")]];

export async function render(el, ctx) {
  ensureCss();
  const { h, api, fmtTime, dateToSiteInput, siteInputToDate } = ctx;
  const now = new Date();
  const start = h("input", { type: "datetime-local", id: "rep-start", value: dateToSiteInput(new Date(now.getTime() - 30 * 86400000)) });
  const end = h("input", { type: "datetime-local", id: "rep-end", value: dateToSiteInput(new Date(now.getTime() + 60000)) });
  const group = h("select", { id: "rep-group" }, ...[["type", t("type")], ["priority", t("priority")], ["district", t("district")], ["period", t("period")]].map(([g, n]) => h("option", { value: g }, n)));
  const period = h("select", { id: "rep-period" }, ...[["day", t("day")], ["week", t("week")], ["month", t("month")]].map(([g, n]) => h("option", { value: g }, n)));
  const summary = h("tbody"), lines = h("tbody");
  const chart = h("img", { class: "report-chart", alt: t("Total response p50 and p90 by group"), id: "rep-chart" });
  const csvGrouped = h("a", { class: "btn", download: "" }, t("CSV (percentiles)"));
  const csvLines = h("a", { class: "btn", download: "" }, t("CSV (incidents)"));
  el.append(h("div", { class: "toolbar" }, h("h1", {}, title), h("span", { class: "spacer" }),
      h("label", {}, t("From"), start), h("label", {}, t("To"), end), h("label", {}, t("Group by"), group), h("label", {}, t("Period"), period),
      csvGrouped, csvLines),
    h("table", { id: "rep-summary" }, h("thead", {}, h("tr", {}, h("th", {}, t("Group")), h("th", {}, t("Incidents")),
      ...STEPS.map(([, l]) => h("th", {}, t("{step} p50 / p90 (n, ≤target)", { step: l }))))), summary),
    h("h2", {}, t("Chart")), chart,
    h("h2", {}, t("Incidents")),
    h("table", { id: "rep-lines" }, h("thead", {}, h("tr", {}, ...["#", t("Type"), t("Priority"), t("District"), t("Status"), t("Reported"), ...STEPS.map(([, l]) => l)].map(x => h("th", {}, x)))), lines));

  async function load() {
    const s = siteInputToDate(start.value), e = siteInputToDate(end.value);
    const q = new URLSearchParams({ start: s.toISOString(), end: e.toISOString(), group_by: group.value, period: period.value });
    const rep = await api("/api/incidents/reports?" + q);
    const cell = (st) => st.n ? `${fmtDur(st.p50)} / ${fmtDur(st.p90)} (${st.n}${st.within_target_pct !== null ? ", " + st.within_target_pct + "%" : ""})` : "—";
    summary.replaceChildren(...[{ key: "all", ...rep.overall }, ...rep.groups].map(g => h("tr", { dataset: { key: g.key } },
      h("td", {}, g.key === "all" ? t("all incidents") : rep.group_by === "type" ? typeIdLabel(g.key) : label(g.key)), h("td", {}, String(g.count)), ...STEPS.map(([k]) => h("td", { class: "mono" }, cell(g.steps[k]))))));
    chart.src = "/api/incidents/reports/chart.svg?" + q;
    csvGrouped.href = "/api/incidents/reports.csv?" + q;
    csvLines.href = "/api/incidents/reports.csv?" + q + "&detail=true";
    const all = await api("/api/incidents?status=all&limit=1000");
    const inRange = all.filter(i => Date.parse(i.reported_at) >= s.getTime() && Date.parse(i.reported_at) < e.getTime());
    lines.replaceChildren(...inRange.map(i => h("tr", { dataset: { id: i.id } }, h("td", {}, h("a", { href: "#/incidents/" + i.id }, "#" + i.id)),
      h("td", {}, typeLabel(i.type_label)), h("td", {}, i.priority), h("td", {}, i.district || ""), h("td", {}, pill(h, i.status)),
      h("td", { class: "mono" }, fmtTime(i.reported_at)), ...STEPS.map(([k]) => h("td", { class: "mono", dataset: { step: k } }, fmtDur(i.durations[k]))))));
  }
  for (const c of [start, end, group, period]) c.addEventListener("change", load);
  await load();
}
