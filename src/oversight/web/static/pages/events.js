// Events review: filter by camera, time range, label, rule; thumbnails; open the clip.
import { t, tn } from "../lib/i18n.js";
export const title = t("Events");
export const permission = "events.read";

export async function render(el, ctx) {
  const { h, api, go, fmtTime, siteInputToDate, dateToSiteInput, me, can } = ctx;
  const cams = await api("/api/cameras");
  const thumbs = can(me, "footage.view");
  const camSel = h("select", { name: "camera" }, h("option", { value: "" }, t("All cameras")), ...cams.map(c => h("option", { value: c.id }, c.name)));
  const from = h("input", { type: "datetime-local", name: "from", value: dateToSiteInput(new Date(Date.now() - 86400e3)) });
  const to = h("input", { type: "datetime-local", name: "to" });
  const label = h("input", { name: "label", placeholder: t("person, car, motion…"), size: 12 });
  const rule = h("input", { name: "rule", placeholder: t("rule / zone id"), size: 12 });
  const unack = h("input", { type: "checkbox", name: "unack" });
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true, onclick: () => search(true) }, t("Load more"));
  const info = h("span", { class: "muted" });
  let cursor = null, shown = 0;
  const form = h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); search(false); } },
    h("label", {}, t("Camera"), camSel), h("label", {}, t("From ({zone})", { zone: ctx.state.tz }), from), h("label", {}, t("To"), to),
    h("label", {}, t("Label"), label), h("label", {}, t("Rule"), rule),
    h("label", { style: "display:flex;gap:6px;align-items:center" }, unack, t("Unacknowledged only")),
    h("button", { class: "primary", type: "submit" }, t("Search")), info);
  el.append(h("h1", {}, title), form,
    h("table", {}, h("thead", {}, h("tr", {}, thumbs ? h("th", {}, t("Snapshot")) : null, h("th", {}, t("Time")), h("th", {}, t("Camera")), h("th", {}, t("Label")), h("th", {}, t("Rule")), h("th", {}, t("Duration")), h("th", {}, t("Acknowledged")), h("th", {}, ""))), body), more);

  async function search(append) {
    const q = new URLSearchParams({ limit: "50" });
    if (camSel.value) q.append("camera", camSel.value);
    const a = siteInputToDate(from.value), b = siteInputToDate(to.value);
    if (a) q.set("start", a.toISOString()); if (b) q.set("end", b.toISOString());
    if (label.value.trim()) q.set("label", label.value.trim()); if (rule.value.trim()) q.set("rule", rule.value.trim());
    if (unack.checked) q.set("unacknowledged", "true");
    if (append && cursor) q.set("cursor", cursor);
    if (!append) { body.replaceChildren(); shown = 0; }
    const page = await api("/api/events?" + q);
    for (const e of page.items) {
      const dur = e.end ? Math.max(0, (Date.parse(e.end) - Date.parse(e.start)) / 1000).toFixed(0) + " s" : t("ongoing");
      const open = () => go(`camera/${encodeURIComponent(e.camera_id)}?t=${encodeURIComponent(new Date(Date.parse(e.start) - 5000).toISOString())}`);
      body.append(h("tr", {},
        thumbs ? h("td", {}, e.thumbnail ? h("img", { class: "thumb", src: e.thumbnail, loading: "lazy", alt: t("snapshot") }) : "") : null,
        h("td", { class: "mono" }, fmtTime(e.start)), h("td", {}, e.camera_name), h("td", {}, e.label), h("td", {}, e.rule_id || ""),
        h("td", {}, dur), h("td", { class: "small" }, e.acknowledged_at ? `${e.acknowledged_by}${e.ack_note ? ": " + e.ack_note : ""}` : "—"),
        h("td", {}, thumbs ? h("button", { type: "button", onclick: open }, t("Open clip")) : "")));
    }
    shown += page.items.length; cursor = page.next_cursor; more.hidden = !cursor;
    info.textContent = tn("{n} event", "{n} events", shown) + (cursor ? "+" : "");
  }
  await search(false);
}
