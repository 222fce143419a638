// Health: is each camera received, recorded and analysed, and how long will the disk last.
// Refreshes every 5 s while the server answers; a failed refresh says so instead of showing stale numbers.
export const title = "Health";
export const permission = "health.read";

const PROBLEM = {
  camera_down: "not sending video", not_recording: "not recorded", analysis_stalled: "analytics stalled", storage_low: "storage low",
  clock_skew: "camera clock off", decode_dropping: "decoder dropping video", server_clock: "server clock off", queue_backlog: "queue backlog",
  host_clock: "clock off", host_disk: "disk nearly full", host_queue: "queue backlog",
};

function age(s) { return s === null || s === undefined ? "never" : s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${(s / 3600).toFixed(1)} h ago`; }
function clock(s) {
  if (!s.time_reference) return "no time reference configured";
  return s.clock_offset_s === null ? (s.time_error || "time reference not asked yet") : `clock ${s.clock_offset_s >= 0 ? "+" : ""}${s.clock_offset_s} s against ${s.time_reference}`;
}
function queues(qs) { return Object.entries(qs || {}).map(([name, q]) => `${name} ${q.depth}/${q.capacity}${q.dropped ? ` (${q.dropped} dropped)` : ""}`).join(", ") || "no queues"; }
function live(e) { return e ? `${e.viewers} viewer${e.viewers === 1 ? "" : "s"}${e.fps !== null ? ` · ${e.fps} fps` : ""}${e.cpu_cores !== null ? ` · ${Math.round(e.cpu_cores * 100)}% of a core` : ""}${e.stalled ? " · stalled" : ""}` : "none"; }
function bytes(n) { return n === null || n === undefined ? "?" : n >= 1e12 ? (n / 1e12).toFixed(1) + " TB" : n >= 1e9 ? (n / 1e9).toFixed(1) + " GB" : (n / 1e6).toFixed(1) + " MB"; }

export async function render(el, ctx) {
  const { h, api, onCleanup } = ctx;
  const body = h("tbody"), server = h("div", { class: "toolbar", id: "server-health" }), stamp = h("span", { class: "muted small" });
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), stamp), server,
    h("table", { id: "camera-health" }, h("thead", {}, h("tr", {}, ...["Camera", "Receiving", "Recording", "Analysing", "Live encode", "Codec", "Clock", "Reconnects", "Last error", "Problems"].map(t => h("th", {}, t)))), body));
  async function load() {
    let r;
    try { r = await api("/api/health"); } catch (x) { stamp.textContent = "Could not refresh: " + x.message; stamp.className = "error small"; return; }
    stamp.className = "muted small"; stamp.textContent = "checked " + ctx.fmtTime(r.checked_at, { date: false });
    const s = r.server;
    server.replaceChildren(h("span", {}, `Disk free ${bytes(s.disk_free_bytes)} of ${bytes(s.disk_total_bytes)}`),
      h("span", {}, s.days_left === null ? "no recent recordings to estimate days left" : `${s.days_left} days of footage still fit at ${bytes(s.bytes_per_day)}/day`),
      h("span", {}, `database ${bytes(s.db_bytes)}`),
      h("span", { id: "server-clock" }, clock(s)),
      h("span", { id: "server-queues" }, "queues: " + queues(s.queues)),
      ...s.problems.map(p => h("span", { class: "error" }, PROBLEM[p] || p)),
      // a cluster head: one line per camera host (its clock against the head's, its disk)
      ...(r.hosts || []).map(x => h("span", { class: x.problems.length ? "error" : "", dataset: { host: x.host } },
        `${x.host}: clock ${x.clock_offset_s} s, ${bytes(x.disk_free_bytes)} free` + (x.problems.length ? " · " + x.problems.map(p => PROBLEM[p] || p).join(", ") : ""))));
    body.replaceChildren(...r.cameras.map(c => h("tr", { dataset: { camera: c.id }, class: c.problems.length ? "bad" : "" },
      h("td", {}, h("a", { href: `#/camera/${encodeURIComponent(c.id)}` }, c.name), h("div", { class: "muted small" }, c.enabled ? c.state : "disabled")),
      h("td", {}, c.online ? `yes · frame ${age(c.frame_age_s)}` : `no · last frame ${age(c.frame_age_s)}`),
      h("td", {}, c.record_mode === "continuous" || c.segment_age_s !== null ? `segment ${age(c.segment_age_s)} · ${bytes(c.bytes_per_min)}/min` : "on events"),
      h("td", {}, c.analytics_fps_configured ? `${c.analytics_fps ?? "?"} of ${c.analytics_fps_configured} fps` : "off",
        c.decode_drops_per_min ? h("div", { class: "muted small" }, `decoder drops ${c.decode_drops_per_min}/min`) : ""),
      h("td", { class: "live-encode" }, live(c.live_encode)),
      h("td", {}, (c.codec || "?") + (c.transcoding ? ` → H.264${c.transcode_load !== null ? ` (${Math.round(c.transcode_load * 100)}% of a core)` : ""}` : "")), h("td", {}, c.clock_skew_s === null || c.clock_skew_s === undefined ? "?" : `${c.clock_skew_s >= 0 ? "+" : ""}${c.clock_skew_s} s`), h("td", {}, String(c.reconnects)), h("td", {}, c.last_error || ""),
      h("td", { class: c.problems.length ? "error" : "ok" }, c.problems.map(p => PROBLEM[p] || p).join(", ") || "OK"))));
  }
  const timer = setInterval(() => { if (ctx.state.me && document.visibilityState === "visible") load(); }, 5000);
  onCleanup(() => clearInterval(timer));
  await load();
}
