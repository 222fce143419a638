// Health: is each camera received, recorded and analysed, and how long will the disk last.
// Refreshes every 5 s while the server answers; a failed refresh says so instead of showing stale numbers.
import { t, tn, fmtNumber } from "../lib/i18n.js";
export const title = t("Health");
export const permission = "health.read";

const PROBLEM = () => ({
  camera_down: t("not sending video"), not_recording: t("not recorded"), analysis_stalled: t("analytics stalled"), storage_low: t("storage low"),
  clock_skew: t("camera clock off"), decode_dropping: t("decoder dropping video"), server_clock: t("server clock off"), queue_backlog: t("queue backlog"),
  host_clock: t("clock off"), host_disk: t("disk nearly full"), host_queue: t("queue backlog"),
});
const problem = (p) => PROBLEM()[p] || p;

function age(s) { return s === null || s === undefined ? t("never") : s < 90 ? t("{n} s ago", { n: Math.round(s) }) : s < 5400 ? t("{n} min ago", { n: Math.round(s / 60) }) : t("{n} h ago", { n: fmtNumber(s / 3600, { maximumFractionDigits: 1 }) }); }
const one = (x) => fmtNumber(x, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const signed = (x) => (x >= 0 ? "+" : "") + fmtNumber(x);
function clock(s) {
  if (!s.time_reference) return t("no time reference configured");
  return s.clock_offset_s === null ? (s.time_error || t("time reference not asked yet")) : t("clock {offset} s against {reference}", { offset: signed(s.clock_offset_s), reference: s.time_reference });
}
function queues(qs) { return Object.entries(qs || {}).map(([name, q]) => `${name} ${q.depth}/${q.capacity}` + (q.dropped ? " " + t("({n} dropped)", { n: q.dropped }) : "")).join(", ") || t("no queues"); }
function live(e) {
  if (!e) return t("none");
  const parts = [tn("{n} viewer", "{n} viewers", e.viewers)];
  if (e.fps !== null) parts.push(t("{fps} fps", { fps: e.fps }));
  if (e.cpu_cores !== null) parts.push(t("{percent} of a core", { percent: fmtNumber(e.cpu_cores, { style: "percent" }) }));
  if (e.stalled) parts.push(t("stalled"));
  return parts.join(" · ");
}
const SOURCE = () => ({ config: t("configured"), package: t("oversight-models"), builtin: t("built-in fallback") });
function model(kind, file, source) { return !kind || kind === "none" || kind === "off" ? t("off") : `${file || kind} (${SOURCE()[source] || source || "?"})`; }
function models(h, c) {
  const bad = (c.degraded || []).length > 0;
  return h("td", { class: bad ? "models error" : "models", title: (c.degraded || []).join("\n") },
    h("div", {}, t("objects: {model}", { model: model(c.detector, c.detector_model, c.detector_source) })),
    h("div", {}, t("faces: {model}", { model: model(c.face_detector, c.face_model, c.face_model_source) })),
    bad ? h("div", { class: "small" }, tn("degraded: {n} fallback model", "degraded: {n} fallback models", c.degraded.length)) : "");
}
function bytes(n) { return n === null || n === undefined ? "?" : n >= 1e12 ? one(n / 1e12) + " TB" : n >= 1e9 ? one(n / 1e9) + " GB" : one(n / 1e6) + " MB"; }

export async function render(el, ctx) {
  const { h, api, onCleanup } = ctx;
  const body = h("tbody"), server = h("div", { class: "toolbar", id: "server-health" }), stamp = h("span", { class: "muted small" });
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), stamp), server,
    h("table", { id: "camera-health" }, h("thead", {}, h("tr", {}, ...[t("Camera"), t("Receiving"), t("Recording"), t("Analysing"), t("Live encode"), t("Codec"), t("Models"), t("Clock"), t("Reconnects"), t("Last error"), t("Problems")].map(x => h("th", {}, x)))), body));
  async function load() {
    let r;
    try { r = await api("/api/health"); } catch (x) { stamp.textContent = t("Could not refresh: {error}", { error: x.message }); stamp.className = "error small"; return; }
    stamp.className = "muted small"; stamp.textContent = t("checked {time}", { time: ctx.fmtTime(r.checked_at, { date: false }) });
    const s = r.server;
    server.replaceChildren(h("span", {}, t("Disk free {free} of {total}", { free: bytes(s.disk_free_bytes), total: bytes(s.disk_total_bytes) })),
      h("span", {}, s.days_left === null ? t("no recent recordings to estimate days left") : tn("{n} day of footage still fits at {rate}/day", "{n} days of footage still fit at {rate}/day", s.days_left, { rate: bytes(s.bytes_per_day) })),
      h("span", {}, t("database {size}", { size: bytes(s.db_bytes) })),
      h("span", { id: "server-clock" }, clock(s)),
      h("span", { id: "server-queues" }, t("queues: {list}", { list: queues(s.queues) })),
      ...s.problems.map(p => h("span", { class: "error" }, problem(p))),
      // a cluster head: one line per camera host (its clock against the head's, its disk)
      ...(r.hosts || []).map(x => h("span", { class: x.problems.length ? "error" : "", dataset: { host: x.host } },
        t("{host}: clock {offset} s, {free} free", { host: x.host, offset: x.clock_offset_s, free: bytes(x.disk_free_bytes) }) + (x.problems.length ? " · " + x.problems.map(problem).join(", ") : ""))));
    body.replaceChildren(...r.cameras.map(c => h("tr", { dataset: { camera: c.id }, class: c.problems.length ? "bad" : "" },
      h("td", {}, h("a", { href: `#/camera/${encodeURIComponent(c.id)}` }, c.name), h("div", { class: "muted small" }, c.enabled ? c.state : t("disabled"))),
      h("td", {}, c.online ? t("yes · frame {age}", { age: age(c.frame_age_s) }) : t("no · last frame {age}", { age: age(c.frame_age_s) })),
      h("td", {}, c.record_mode === "continuous" || c.segment_age_s !== null ? t("segment {age} · {rate}/min", { age: age(c.segment_age_s), rate: bytes(c.bytes_per_min) }) : t("on events")),
      h("td", {}, c.analytics_fps_configured ? t("{fps} of {configured} fps", { fps: c.analytics_fps ?? "?", configured: c.analytics_fps_configured }) : t("off"),
        c.decode_drops_per_min ? h("div", { class: "muted small" }, t("decoder drops {n}/min", { n: c.decode_drops_per_min })) : ""),
      h("td", { class: "live-encode" }, live(c.live_encode)),
      h("td", {}, (c.codec || "?") + (c.transcoding ? ` → H.264${c.transcode_load !== null ? t(" ({percent} of a core)", { percent: fmtNumber(c.transcode_load, { style: "percent" }) }) : ""}` : "")),
      models(h, c),
      h("td", {}, c.clock_skew_s === null || c.clock_skew_s === undefined ? "?" : signed(c.clock_skew_s) + " s"), h("td", {}, String(c.reconnects)), h("td", {}, c.last_error || ""),
      h("td", { class: c.problems.length ? "error" : "ok" }, c.problems.map(problem).join(", ") || t("OK")))));
  }
  const timer = setInterval(() => { if (ctx.state.me && document.visibilityState === "visible") load(); }, 5000);
  onCleanup(() => clearInterval(timer));
  await load();
}
