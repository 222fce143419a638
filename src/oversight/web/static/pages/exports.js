// Evidence export jobs: each export runs in the background on the server; this list follows them
// (stage and a progress bar), survives a reload, cancels, and links the signed package once done.
export const title = "Exports";
export const permission = "export.read";

const ACTIVE = ["queued", "running"];

export async function render(el, ctx) {
  const { h, api, toast, fmtTime, me, can, onCleanup } = ctx;
  const canExport = can(me, "export.create");
  const body = h("tbody"), note = h("p", { class: "muted" });
  el.append(h("h1", {}, "Exports"),
    h("p", { class: "muted" }, canExport
      ? "Your evidence exports. Start one from the Reveals page; it keeps running if you leave or reload this page. Check a package offline with `oversight verify-export`."
      : "Every export job (no footage is shown or downloaded here)."),
    h("table", { "aria-label": "Export jobs" },
      h("thead", {}, h("tr", {}, ...["#", "Created", "By", "Cameras", "Window", "Purpose", "Status", "Progress", ""].map(x => h("th", {}, x)))), body), note);

  function action(j) {
    if (j.status === "done" && j.download && canExport) {
      return h("a", { href: j.download, download: "", dataset: { download: String(j.id) } }, "Download");
    }
    if (ACTIVE.includes(j.status) && j.exporter === me.username) {
      return h("button", { type: "button", onclick: async () => {
        try { await api(`/api/exports/jobs/${j.id}/cancel`, { method: "POST" }); toast(`Export ${j.id} cancelled.`); }
        catch (x) { toast(x.message, { kind: "error" }); }
        load();
      } }, "Cancel");
    }
    return "";
  }
  function row(j) {
    const pct = Math.round(100 * (j.progress || 0));
    const status = j.status === "done" ? (j.redacted ? "done · redacted" : "done · holds unredacted footage") : j.status;
    return h("tr", { dataset: { job: String(j.id), status: j.status } },
      h("td", {}, String(j.id)), h("td", { class: "small" }, fmtTime(j.created_at)), h("td", {}, j.exporter),
      h("td", {}, j.camera_ids.join(", ")), h("td", { class: "small" }, `${fmtTime(j.start)} – ${fmtTime(j.end)}`),
      h("td", {}, j.purpose), h("td", {}, status, j.error ? h("div", { class: "small error" }, j.error) : "",
        ACTIVE.includes(j.status) && j.stage ? h("div", { class: "small muted" }, j.stage) : ""),
      h("td", {}, h("progress", { max: "100", value: String(pct), "aria-label": `Export ${j.id} progress` }), ` ${pct}%`),
      h("td", {}, action(j)));
  }
  let timer = null;
  async function load() {
    let jobs;
    try { jobs = await api("/api/exports/jobs"); } catch (x) { note.textContent = x.message; return; }
    body.replaceChildren(...jobs.map(row));
    note.textContent = jobs.length ? "" : "No exports yet.";
    clearTimeout(timer);
    if (jobs.some(j => ACTIVE.includes(j.status))) timer = setTimeout(load, 1000);  // follow running jobs
  }
  onCleanup(() => clearTimeout(timer));
  await load();
}
