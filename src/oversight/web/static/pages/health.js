// Health: is each camera received, recorded and analysed, and how long will the disk last.
// Refreshes every 5 s while the server answers; a failed refresh says so instead of showing stale numbers.
import { t, tn, fmtNumber } from "../lib/i18n.js";
export const title = t("Health");
export const permission = "health.read";

const PROBLEM = () => ({ camera_down: t("not sending video"), not_recording: t("not recorded"), analysis_stalled: t("analytics stalled"), storage_low: t("storage low") });

function age(s) { return s === null || s === undefined ? t("never") : s < 90 ? t("{n} s ago", { n: Math.round(s) }) : s < 5400 ? t("{n} min ago", { n: Math.round(s / 60) }) : t("{n} h ago", { n: fmtNumber(s / 3600, { maximumFractionDigits: 1 }) }); }
const one = (x) => fmtNumber(x, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
function bytes(n) { return n === null || n === undefined ? "?" : n >= 1e12 ? one(n / 1e12) + " TB" : n >= 1e9 ? one(n / 1e9) + " GB" : one(n / 1e6) + " MB"; }

export async function render(el, ctx) {
  const { h, api, onCleanup } = ctx;
  const body = h("tbody"), server = h("div", { class: "toolbar", id: "server-health" }), stamp = h("span", { class: "muted small" });
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), stamp), server,
    h("table", { id: "camera-health" }, h("thead", {}, h("tr", {}, ...[t("Camera"), t("Receiving"), t("Recording"), t("Analysing"), t("Codec"), t("Reconnects"), t("Last error"), t("Problems")].map(x => h("th", {}, x)))), body));
  async function load() {
    let r;
    try { r = await api("/api/health"); } catch (x) { stamp.textContent = t("Could not refresh: {error}", { error: x.message }); stamp.className = "error small"; return; }
    stamp.className = "muted small"; stamp.textContent = t("checked {time}", { time: ctx.fmtTime(r.checked_at, { date: false }) });
    const s = r.server;
    server.replaceChildren(h("span", {}, t("Disk free {free} of {total}", { free: bytes(s.disk_free_bytes), total: bytes(s.disk_total_bytes) })),
      h("span", {}, s.days_left === null ? t("no recent recordings to estimate days left") : tn("{n} day of footage still fits at {rate}/day", "{n} days of footage still fit at {rate}/day", s.days_left, { rate: bytes(s.bytes_per_day) })),
      h("span", {}, t("database {size}", { size: bytes(s.db_bytes) })),
      ...s.problems.map(p => h("span", { class: "error" }, PROBLEM()[p] || p)));
    body.replaceChildren(...r.cameras.map(c => h("tr", { dataset: { camera: c.id }, class: c.problems.length ? "bad" : "" },
      h("td", {}, h("a", { href: `#/camera/${encodeURIComponent(c.id)}` }, c.name), h("div", { class: "muted small" }, c.enabled ? c.state : t("disabled"))),
      h("td", {}, c.online ? t("yes · frame {age}", { age: age(c.frame_age_s) }) : t("no · last frame {age}", { age: age(c.frame_age_s) })),
      h("td", {}, c.record_mode === "continuous" || c.segment_age_s !== null ? t("segment {age} · {rate}/min", { age: age(c.segment_age_s), rate: bytes(c.bytes_per_min) }) : t("on events")),
      h("td", {}, c.analytics_fps_configured ? t("{fps} of {configured} fps", { fps: c.analytics_fps ?? "?", configured: c.analytics_fps_configured }) : t("off")),
      h("td", {}, (c.codec || "?") + (c.transcoding ? ` → H.264${c.transcode_load !== null ? t(" ({percent} of a core)", { percent: fmtNumber(c.transcode_load, { style: "percent" }) }) : ""}` : "")), h("td", {}, String(c.reconnects)), h("td", {}, c.last_error || ""),
      h("td", { class: c.problems.length ? "error" : "ok" }, c.problems.map(p => PROBLEM()[p] || p).join(", ") || t("OK")))));
  }
  const timer = setInterval(() => { if (ctx.state.me && document.visibilityState === "visible") load(); }, 5000);
  onCleanup(() => clearInterval(timer));
  await load();
}
