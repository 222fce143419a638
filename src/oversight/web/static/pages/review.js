// Synchronised review: up to four cameras played back in lock-step from one timeline, for following
// someone across neighbouring cameras by eye (no automatic re-identification, ever). One clock (the
// footage time) drives every <video>; each plays the egress gate's redacted MP4 segments and is
// nudged (rate) or, when far off, seeked onto the clock. While any pane loads, the clock waits.
import { consoleCss, bookmarkDialog, revealDialog, revealMarker } from "../lib/console.js";
import { t, fmtNumber } from "../lib/i18n.js";

export const title = t("Review");
export const permission = "footage.view";
const MAX = 4, SPEEDS = [0.25, 0.5, 1, 2, 4];

export async function render(el, ctx) {
  consoleCss();
  const { h, api, query, fmtTime, siteInputToDate, dateToSiteInput, onCleanup, can, me } = ctx;
  const cameras = await api("/api/cameras");
  const names = Object.fromEntries(cameras.map(c => [c.id, c.name]));
  const pick = h("select", { multiple: true, size: Math.min(6, Math.max(2, cameras.length)), "aria-label": t("Cameras (up to four)") },
    ...cameras.map(c => h("option", { value: c.id }, c.name)));
  const when = h("input", { type: "datetime-local", "aria-label": t("From"), value: dateToSiteInput(new Date(Date.now() - 600e3)) });
  const minutes = h("select", { "aria-label": t("Length") }, ...[5, 10, 30, 60].map(m => h("option", { value: m, selected: m === 10 }, t("{n} min", { n: m }))));
  const grid = h("div", { class: "review", "aria-label": t("Synchronised panes") });
  const scrub = h("input", { type: "range", class: "scrub", min: 0, max: 1000, value: 0, "aria-label": t("Timeline") });
  const clockText = h("span", { class: "mono", "data-clock": "" });
  const playBtn = h("button", { type: "button", class: "primary", onclick: () => toggle() }, "▶ " + t("Play"));
  const speed = h("select", { "aria-label": t("Speed"), onchange: () => setRate(+speed.value) }, ...SPEEDS.map(v => h("option", { value: v, selected: v === 1 }, fmtNumber(v) + "×")));
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), h("label", {}, t("Cameras"), " ", pick), h("label", {}, t("From"), " ", when), minutes,
      h("button", { type: "button", onclick: () => load() }, t("Load"))),
    grid,
    h("div", { class: "toolbar" }, playBtn, h("button", { type: "button", title: t("One frame back (,)"), onclick: () => stepFrame(-1) }, "◂|"),
      h("button", { type: "button", title: t("One frame on (.)"), onclick: () => stepFrame(1) }, "|▸"), speed, clockText,
      can(me, "bookmarks.create") ? [h("button", { type: "button", title: t("Start a bookmarked span here (I)"), onclick: () => markIn() }, t("Mark in")),
        h("button", { type: "button", title: t("Bookmark the chosen pane: this moment, or the span since Mark in (B)"), onclick: () => mark() }, t("Bookmark"))] : null,
      can(me, "reveal.request") ? h("button", { type: "button", onclick: () => askReveal() }, t("Request reveal…")) : null),
    scrub);

  let panes = [], span = [0, 0], frame = 100;  // frame: ms between frames of the slowest camera
  const clock = { t0: 0, perf0: performance.now(), rate: 1, playing: false };
  const now = () => clock.t0 + (clock.playing ? (performance.now() - clock.perf0) * clock.rate : 0);
  function anchor(ms) { clock.t0 = ms; clock.perf0 = performance.now(); }
  function setRate(r) { anchor(now()); clock.rate = r; }
  function toggle() { anchor(now()); clock.playing = !clock.playing; playBtn.textContent = clock.playing ? "❚❚ " + t("Pause") : "▶ " + t("Play"); }
  function seek(ms) { anchor(Math.min(span[1], Math.max(span[0], ms))); panes.forEach(p => place(p, true)); }
  function stepFrame(d) { if (clock.playing) toggle(); seek(now() + d * frame); }
  function segAt(p, ms) { return p.segments.find(s => Date.parse(s.start) <= ms && ms < Date.parse(s.end)); }

  function place(p, force = false) {  // put the pane's video on the clock
    const ms = now(), s = segAt(p, ms), v = p.video;
    if (!s) { if (p.seg) { v.pause(); v.removeAttribute("src"); v.load(); p.seg = null; } p.cap.textContent = t("{camera} · no recording", { camera: names[p.id] }); return; }
    const target = (ms - Date.parse(s.start)) / 1000;
    if (!p.seg || p.seg.id !== s.id) {
      p.seg = s; v.dataset.segStart = String(Date.parse(s.start)); v.src = s.url; v.currentTime = target; return;
    }
    p.cap.textContent = names[p.id];
    if (v.readyState < 1) return;
    const drift = v.currentTime - target;
    if (force || !clock.playing || Math.abs(drift) > 0.6 * frame / 1000) {  // over half a frame off: jump
      if (!clock.playing && !v.paused) v.pause();
      if (Math.abs(drift) > 0.004) v.currentTime = target;
      v.playbackRate = clock.rate;
    } else {
      v.playbackRate = clock.rate * Math.min(1.2, Math.max(0.8, 1 - drift * 5));  // steer, not jump
    }
    if (clock.playing && v.paused) v.play().catch(() => {});
  }
  function ready() { return panes.every(p => !p.seg || (p.video.readyState >= 3 && !p.video.seeking)); }
  let raf = 0;
  function tick() {
    raf = requestAnimationFrame(tick);
    if (!panes.length) return;
    if (clock.playing && !ready()) { anchor(now()); clock.perf0 = performance.now(); holdStill(); }
    else if (clock.playing && now() >= span[1]) { anchor(span[1]); toggle(); }
    panes.forEach(p => place(p));
    const ms = now();
    clockText.textContent = fmtTime(new Date(ms)) + "." + String(Math.floor(ms % 1000)).padStart(3, "0");
    clockText.dataset.clock = String(ms);
    if (document.activeElement !== scrub) scrub.value = String(Math.round(1000 * (ms - span[0]) / Math.max(1, span[1] - span[0])));
  }
  function holdStill() { clock.t0 = now(); clock.perf0 = performance.now(); panes.forEach(p => { if (!p.video.paused) p.video.pause(); }); }
  raf = requestAnimationFrame(tick);
  onCleanup(() => { cancelAnimationFrame(raf); panes.forEach(p => { p.video.removeAttribute("src"); p.video.load(); p.marker.stop(); }); });
  scrub.addEventListener("input", () => seek(span[0] + (+scrub.value / 1000) * (span[1] - span[0])));

  async function load() {
    const ids = [...pick.selectedOptions].map(o => o.value).slice(0, MAX);
    if (!ids.length) { ctx.toast(t("Choose up to four cameras.")); return; }
    const start = siteInputToDate(when.value) || new Date(Date.now() - 600e3), end = new Date(start.getTime() + +minutes.value * 60e3);
    span = [start.getTime(), end.getTime()];
    panes.forEach(p => { p.marker.stop(); p.video.removeAttribute("src"); p.video.load(); });
    const recs = await Promise.all(ids.map(id => api(`/api/cameras/${encodeURIComponent(id)}/recordings?start=${new Date(span[0] - 120e3).toISOString()}&end=${end.toISOString()}`).catch(() => null)));
    grid.replaceChildren();
    panes = ids.map((id, i) => {
      const video = h("video", { muted: true, playsinline: true, preload: "auto", "data-camera": id, "aria-label": t("Recorded video of {camera}", { camera: names[id] }) });
      video.muted = true;
      const cap = h("div", { class: "cap" }, names[id]);
      const box = h("div", { class: "pane", "data-camera": id, onclick: () => { active = i; grid.querySelectorAll(".pane").forEach((b, j) => b.classList.toggle("active", j === i)); } }, video, cap);
      grid.append(box);
      const p = { id, video, cap, box, seg: null, segments: (recs[i] && recs[i].segments) || [] };
      p.marker = revealMarker(ctx, box, () => p.seg ? { camera: id, t: now() } : null);
      return p;
    });
    const first = Math.min(...panes.flatMap(p => p.segments.map(s => Date.parse(s.start))).filter(ms => ms >= span[0] - 120e3), Infinity);
    if (Number.isFinite(first) && first > span[0]) span[0] = first;  // start where footage starts
    frame = 100;
    clock.playing = false; playBtn.textContent = "▶ " + t("Play"); anchor(span[0]);
    panes.forEach(p => place(p, true));
    history.replaceState(null, "", `#/review?cameras=${ids.map(encodeURIComponent).join(",")}&t=${new Date(span[0]).toISOString()}&m=${minutes.value}`);
  }
  let active = 0, markedIn = null;  // the pane last clicked; the start of a span being marked
  function markIn() { markedIn = now(); ctx.toast(t("Span starts at {time}; Bookmark ends it.", { time: fmtTime(new Date(markedIn)) })); }
  async function mark() {
    const p = panes[active] || panes[0]; if (!p) return;
    const ms = now(), start = markedIn !== null && markedIn < ms ? markedIn : ms;
    markedIn = null;
    await bookmarkDialog(ctx, p.id, new Date(start), start < ms ? new Date(ms) : null, "playback");
  }
  async function askReveal() {
    if (!panes.length) return;
    const r = await revealDialog(ctx, panes.map(p => p.id), new Date(span[0]), new Date(span[1]));
    if (r) panes.forEach(p => p.marker.refresh());
  }
  function keys(e) {
    if (e.target.closest("input, textarea, select")) return;
    if (e.key === " ") { e.preventDefault(); toggle(); } else if (e.key === ",") stepFrame(-1); else if (e.key === ".") stepFrame(1);
    else if ((e.key === "i" || e.key === "I") && can(me, "bookmarks.create")) markIn(); else if ((e.key === "b" || e.key === "B") && can(me, "bookmarks.create")) mark();
  }
  document.addEventListener("keydown", keys); onCleanup(() => document.removeEventListener("keydown", keys));
  const pre = (query.get("cameras") || "").split(",").filter(Boolean);
  if (pre.length) {
    for (const o of pick.options) o.selected = pre.includes(o.value);
    if (query.get("t")) when.value = dateToSiteInput(new Date(query.get("t")));
    if (query.get("m")) minutes.value = query.get("m");
    await load();
  }
}
