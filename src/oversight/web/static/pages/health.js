// Health: is each camera received, recorded and analysed, and how long will the disk last.
// Refreshes every 5 s while the server answers; a failed refresh says so instead of showing stale numbers.
export const title = "Health";
export const permission = "health.read";

const PROBLEM = { camera_down: "not sending video", not_recording: "not recorded", analysis_stalled: "analytics stalled", storage_low: "storage low" };

function age(s) { return s === null || s === undefined ? "never" : s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${(s / 3600).toFixed(1)} h ago`; }
function bytes(n) { return n === null || n === undefined ? "?" : n >= 1e12 ? (n / 1e12).toFixed(1) + " TB" : n >= 1e9 ? (n / 1e9).toFixed(1) + " GB" : (n / 1e6).toFixed(1) + " MB"; }

export async function render(el, ctx) {
  const { h, api, onCleanup } = ctx;
  const body = h("tbody"), server = h("div", { class: "toolbar", id: "server-health" }), stamp = h("span", { class: "muted small" });
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), stamp), server,
    h("table", { id: "camera-health" }, h("thead", {}, h("tr", {}, ...["Camera", "Receiving", "Recording", "Analysing", "Codec", "Reconnects", "Last error", "Problems"].map(t => h("th", {}, t)))), body));
  async function load() {
    let r;
    try { r = await api("/api/health"); } catch (x) { stamp.textContent = "Could not refresh: " + x.message; stamp.className = "error small"; return; }
    stamp.className = "muted small"; stamp.textContent = "checked " + ctx.fmtTime(r.checked_at, { date: false });
    const s = r.server;
    server.replaceChildren(h("span", {}, `Disk free ${bytes(s.disk_free_bytes)} of ${bytes(s.disk_total_bytes)}`),
      h("span", {}, s.days_left === null ? "no recent recordings to estimate days left" : `${s.days_left} days of footage still fit at ${bytes(s.bytes_per_day)}/day`),
      h("span", {}, `database ${bytes(s.db_bytes)}`),
      ...s.problems.map(p => h("span", { class: "error" }, PROBLEM[p] || p)));
    body.replaceChildren(...r.cameras.map(c => h("tr", { dataset: { camera: c.id }, class: c.problems.length ? "bad" : "" },
      h("td", {}, h("a", { href: `#/camera/${encodeURIComponent(c.id)}` }, c.name), h("div", { class: "muted small" }, c.enabled ? c.state : "disabled")),
      h("td", {}, c.online ? `yes · frame ${age(c.frame_age_s)}` : `no · last frame ${age(c.frame_age_s)}`),
      h("td", {}, c.record_mode === "continuous" || c.segment_age_s !== null ? `segment ${age(c.segment_age_s)} · ${bytes(c.bytes_per_min)}/min` : "on events"),
      h("td", {}, c.analytics_fps_configured ? `${c.analytics_fps ?? "?"} of ${c.analytics_fps_configured} fps` : "off"),
      h("td", {}, (c.codec || "?") + (c.transcoding ? ` → H.264${c.transcode_load !== null ? ` (${Math.round(c.transcode_load * 100)}% of a core)` : ""}` : "")), h("td", {}, String(c.reconnects)), h("td", {}, c.last_error || ""),
      h("td", { class: c.problems.length ? "error" : "ok" }, c.problems.map(p => PROBLEM[p] || p).join(", ") || "OK"))));
  }
  const timer = setInterval(() => { if (ctx.state.me && document.visibilityState === "visible") load(); }, 5000);
  onCleanup(() => clearInterval(timer));
  await load();
}
