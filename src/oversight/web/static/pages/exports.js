// Evidence export jobs: each export runs in the background on the server; this list follows them
// (stage and a progress bar), survives a reload, cancels, and links the signed package once done.
import { t } from "../lib/i18n.js";
import { recipientLabel } from "../lib/recipients.js";
export const title = t("Exports");
export const permission = "export.read";

const ACTIVE = ["queued", "running"];
const STATUS = () => ({ queued: t("queued"), running: t("running"), done: t("done"), failed: t("failed"), cancelled: t("cancelled") });

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, me, can, onCleanup } = ctx;
  const canExport = can(me, "export.create");
  const body = h("tbody"), note = h("p", { class: "muted" });
  el.append(h("h1", {}, title),
    h("p", { class: "muted" }, canExport
      ? t("Your evidence exports. Start one from the Reveals page; it keeps running if you leave or reload this page. Check a package offline with `oversight verify-export`.")
      : t("Every export job (no footage is shown or downloaded here).")),
    h("table", { "aria-label": t("Export jobs") },
      h("thead", {}, h("tr", {}, ...["#", t("Created"), t("By"), t("Cameras"), t("Window"), t("Purpose"), t("Recipient"), t("Status"), t("Progress"), ""].map(x => h("th", {}, x)))), body), note);

  function action(j) {
    if (j.status === "done" && j.download && canExport) {
      return h("a", { href: j.download, download: "", dataset: { download: String(j.id) } }, t("Download"));
    }
    if (ACTIVE.includes(j.status) && j.exporter === me.username) {
      return h("button", { type: "button", onclick: async () => {
        try { await api(`/api/exports/jobs/${j.id}/cancel`, { method: "POST" }); toast(t("Export {id} cancelled.", { id: j.id })); }
        catch (x) { toast(x.message, { kind: "error" }); }
        load();
      } }, t("Cancel"));
    }
    return "";
  }
  function row(j) {
    const pct = Math.round(100 * (j.progress || 0));
    const status = j.status === "done" ? (j.redacted ? t("done · redacted") : t("done · holds unredacted footage")) : (STATUS()[j.status] || j.status);
    return h("tr", { dataset: { job: String(j.id), status: j.status } },
      h("td", {}, String(j.id)), h("td", { class: "small" }, fmtTime(j.created_at)), h("td", {}, j.exporter),
      h("td", {}, j.camera_ids.join(", ")), h("td", { class: "small" }, `${fmtTime(j.start)} – ${fmtTime(j.end)}`),
      h("td", {}, j.purpose),
      h("td", { dataset: { recipient: j.recipient } }, recipientLabel(j.recipient), j.recipient_ref ? h("div", { class: "small muted" }, j.recipient_ref) : ""),
      h("td", {}, status, j.error ? h("div", { class: "small error" }, j.error) : "",
        ACTIVE.includes(j.status) && j.stage ? h("div", { class: "small muted" }, j.stage) : ""),
      h("td", {}, h("progress", { max: "100", value: String(pct), "aria-label": t("Export {id} progress", { id: j.id }) }), ` ${pct}%`),
      h("td", {}, action(j)));
  }
  let timer = null;
  async function load() {
    let jobs;
    try { jobs = await api("/api/exports/jobs"); } catch (x) { note.textContent = x.message; return; }
    body.replaceChildren(...jobs.map(row));
    note.textContent = jobs.length ? "" : t("No exports yet.");
    clearTimeout(timer);
    if (jobs.some(j => ACTIVE.includes(j.status))) timer = setTimeout(load, 1000);  // follow running jobs
  }
  onCleanup(() => clearTimeout(timer));
  await load();
}
