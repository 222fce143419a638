// Camera page: live view, a timeline of recorded spans, gaps and events, playback from any moment.
import { liveVideo, liveH264, frameText, FOOTAGE_ROLES, PLAYBACK_ROLES } from "../lib/live.js";
import { statusText } from "./wall.js";
import { t, tn } from "../lib/i18n.js";
import { zoomable, toggleFullscreen } from "../lib/zoom.js";
import { consoleCss, bookmarkDialog, revealDialog, revealMarker } from "../lib/console.js";
import { ptzPanel } from "../lib/ptz.js";

export const title = t("Camera");
export const permission = "site.view";
const WINDOWS = [["24 h", 86400], ["1 h", 3600], ["10 min", 600]];  // units: the same in both languages
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8, 16];

export async function render(el, ctx) {
  const { h, api, go, fmtTime, args, query, onCleanup, onMessage, me, toast } = ctx;
  const id = args[0];
  if (!id) { go("wall"); return; }
  const cam = await api(`/api/cameras/${encodeURIComponent(id)}`);
  const canPlay = PLAYBACK_ROLES.includes(me.role), canSee = FOOTAGE_ROLES.includes(me.role);
  let windowS = +(localStorage.getItem("ov_tl_window") || 86400), rec = null, stopLive = null, playing = null, playT0 = 0, currentEvent = -1;

  const img = h("img", { alt: t("Video of {camera}", { camera: cam.name }) });
  const video = h("video", { class: "live-video", muted: true, autoplay: true, playsinline: true, hidden: true, "aria-label": t("Live video of {camera}", { camera: cam.name }) });
  video.muted = true;
  const mode = h("span", { class: "mode" });
  const player = h("div", { class: "player", ondblclick: () => toggleFullscreen(player) }, canSee ? [video, img] : h("span", { class: "muted" }, t("Video is not available to your role.")), mode);
  // digital zoom and pan of live and recorded video (wheel, drag); double-click or F: fullscreen
  const zoom = canSee ? zoomable(player, video) : null;
  const speed = h("select", { "aria-label": t("Playback speed"), title: t("Playback speed"), onchange: () => { video.playbackRate = +speed.value; } },
    ...SPEEDS.map(v => h("option", { value: v, selected: v === 1 }, `${v}×`)));
  const tl = h("canvas", { class: "timeline", tabindex: 0, "aria-label": t("Recording timeline: click to play back from that moment") });
  const tip = h("span", { class: "muted small mono" });
  const st = h("span", { class: "st" });
  const evList = h("div", { class: "list", "aria-label": t("Events") });
  const liveBtn = h("button", { type: "button", onclick: () => startLive(), title: t("Back to live (L)") }, t("Live"));
  const winButtons = WINDOWS.map(([label, s]) => h("button", { type: "button", onclick: () => { windowS = s; localStorage.setItem("ov_tl_window", s); load(); } }, label));
  el.append(
    h("div", { class: "toolbar" }, h("button", { type: "button", onclick: () => go("wall"), title: t("Back to the wall (Esc)") }, t("← Wall")),
      h("h1", { style: "margin:0" }, cam.name), st, h("span", { class: "muted small" }, cam.purpose), h("span", { class: "spacer" }),
      ctx.can(me, "bookmarks.create") ? h("button", { type: "button", onclick: () => bookmark(), title: t("Bookmark this moment with a note (B)") }, t("Bookmark")) : null,
      ctx.can(me, "recording.manual") && cam.record_mode === "events" ? h("button", { type: "button", onclick: () => recordNow(), title: t("Record this camera now (it records only on events)") }, t("● Record now")) : null,
      ctx.can(me, "reveal.request") ? h("button", { type: "button", onclick: () => askReveal(), title: t("Ask a supervisor to reveal what you are watching") }, t("Request reveal…")) : null,
      canPlay ? [h("button", { type: "button", onclick: () => step(-1), title: t("Previous event ([)") }, t("◂ Event")),
        h("button", { type: "button", onclick: () => step(1), title: t("Next event (])") }, t("Event ▸"))] : null, liveBtn),
    h("div", { class: "cam-layout" },
      h("div", {}, player,
        canPlay ? [tl, h("div", { class: "legend" }, h("span", {}, h("i", { style: "background:#3d7f72" }), t("recorded")),
          h("span", {}, h("i", { style: "background:#e0625a" }), t("gap")), h("span", {}, h("i", { style: "background:#e0a84f" }), t("event")),
          h("span", { class: "spacer", style: "flex:1" }), ...winButtons, speed, tip)] : null),
      h("div", {}, h("h2", { style: "margin-top:0" }, t("Events")), canPlay ? evList : h("p", { class: "muted" }, t("Events are shown to operators.")))));
  st.className = "st " + (cam.online ? "online" : "offline"); st.textContent = statusText(cam, fmtTime);
  consoleCss();
  const shownAt = () => seg ? Date.parse(seg.start) + video.currentTime * 1000 : playing ? playing.getTime() + (performance.now() - playT0) : null;
  const reveal = revealMarker(ctx, player, () => { const at = shownAt(); return at === null ? null : { camera: id, t: at }; });
  onCleanup(reveal.stop);
  async function bookmark() {  // the moment on screen: now when live, the footage time in playback
    const at = shownAt();
    await bookmarkDialog(ctx, id, new Date(at === null ? Date.now() : at), null, at === null ? "live" : "playback");
  }
  async function recordNow() {
    try { const r = await api(`/api/cameras/${encodeURIComponent(id)}/record-now`, { method: "POST", body: { seconds: 60 } }); toast(t("Recording until {time}.", { time: fmtTime(r.until, { date: false }) })); load(); }
    catch (x) { toast(x.message, { kind: "error" }); }
  }
  async function askReveal() {  // what is being watched: the event's span, else a minute either side
    const ev = currentEvent >= 0 && rec ? rec.events[currentEvent] : null, at = shownAt() ?? Date.now();
    const start = ev ? Date.parse(ev.start) - 10e3 : at - 60e3, end = ev && ev.end ? Date.parse(ev.end) + 10e3 : Math.max(at + 60e3, start + 60e3);
    if (await revealDialog(ctx, [id], new Date(start), new Date(Math.min(end, Date.now())))) reveal.refresh();
  }
  if (cam.ptz && ctx.can(me, "ptz.control")) ptzPanel(id, ctx).then(p => { if (p && el.isConnected) el.append(p); });

  let seg = null;  // the recorded segment playing in the <video>, or null (MJPEG or live)
  function stopPlayback() {
    if (seg) { video.pause(); video.removeAttribute("src"); video.load(); video.controls = false; seg = null; }
    if (playing) { img.src = ""; playing = null; }
  }
  // Recorded footage plays as redacted MP4 segments from the egress gate in the <video>: pause,
  // scrub, speed (0.25-16x), frame step (, and .) and on into the next segment.
  function playSegment(s, offset) {
    seg = s; video.hidden = false; img.hidden = true; video.controls = true;
    video.src = s.url;
    video.onloadedmetadata = () => { video.currentTime = offset; video.playbackRate = +speed.value; video.play().catch(() => {}); };
    video.onended = () => advance(s);
  }
  let advancing = false;
  async function advance(s) {  // on into the next segment (also checked by the timer: "ended" can be missed)
    if (advancing || seg !== s) return;
    advancing = true;
    try {
      const end = Date.parse(s.end), after = (x) => x.id !== s.id && Date.parse(x.start) >= end - 1000 && Date.parse(x.start) - end < 5000;
      let next = rec && rec.segments.find(after);
      if (!next) { await load(); next = rec && rec.segments.find(after); }  // newer footage since the page loaded
      if (seg !== s) return;
      if (next) playSegment(next, 0); else mode.textContent = "■ " + t("end of recording");
    } finally { advancing = false; }
  }
  function startLive() {
    stopPlayback(); video.controls = false; mode.textContent = "● " + t("LIVE"); mode.className = "mode"; liveBtn.classList.add("on");
    if (canSee && !stopLive) {
      // H.264 in a <video> where the browser can play it; JPEG frames over the wall socket otherwise
      stopLive = liveH264(video, id, { onState: (s) => { st.textContent = { live: t("live"), stalled: t("stalled"), offline: t("offline") }[s] || s; st.className = "st " + (s === "live" ? "online" : "offline"); } });
      if (stopLive) { video.hidden = false; img.hidden = true; }
      else stopLive = liveVideo([id], (_, url, info) => {
        img.src = url; st.textContent = frameText(info); st.className = "st " + (info.state === "live" ? "online" : "offline");
      }, { fps: 10 });
    }
    drawTl();
  }
  function play(at) {
    if (!canPlay) return;
    if (stopLive) { stopLive(); stopLive = null; }
    video.hidden = true; img.hidden = false;
    liveBtn.classList.remove("on");
    stopPlayback();
    playing = at; playT0 = performance.now();
    const ms = at.getTime(), found = rec && rec.segments.find(s => Date.parse(s.start) <= ms && ms < Date.parse(s.end));
    if (found) playSegment(found, (ms - Date.parse(found.start)) / 1000);
    else img.src = `/api/cameras/${encodeURIComponent(id)}/playback.mjpeg?start=${encodeURIComponent(at.toISOString())}`;
    mode.textContent = "▶ " + t("PLAYBACK from {time}", { time: fmtTime(at) }); mode.className = "mode rec";
    drawTl();
  }
  function span() { const end = Date.now(); return [end - windowS * 1000, end]; }
  function x(t, w) { const [a, b] = span(); return ((t - a) / (b - a)) * w; }
  function drawTl() {
    if (!canPlay) return;
    const r = tl.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    tl.width = Math.max(1, r.width * dpr); tl.height = r.height * dpr;
    const g = tl.getContext("2d"); g.scale(dpr, dpr);
    const W = r.width, H = r.height;
    g.fillStyle = "#161c22"; g.fillRect(0, 0, W, H);
    const [a, b] = span();
    g.fillStyle = "#8b98a5"; g.font = "11px system-ui"; g.strokeStyle = "#2a343e";
    const tick = windowS > 7200 ? 3600e3 : windowS > 1200 ? 600e3 : 60e3;
    // a label on every n-th line, n chosen so labels never touch on a narrow (phone) timeline
    const hhmm = (ms) => fmtTime(new Date(ms), { date: false, seconds: false });
    const every = Math.max(1, Math.ceil((g.measureText(hhmm(b)).width + 10) / ((tick / (b - a)) * W)));
    for (let at = Math.ceil(a / tick) * tick; at < b; at += tick) {
      const px = x(at, W); g.beginPath(); g.moveTo(px, 0); g.lineTo(px, H); g.stroke();
      if (Math.round(at / tick) % every === 0) g.fillText(hhmm(at), px + 3, H - 4);
    }
    if (!rec) return;
    for (const s of rec.spans) { g.fillStyle = "#3d7f72"; const x1 = x(Date.parse(s.start), W), x2 = x(Date.parse(s.end), W); g.fillRect(x1, 14, Math.max(2, x2 - x1), 22); }
    for (const s of rec.gaps) { g.fillStyle = "#e0625a"; const x1 = x(Date.parse(s.start), W), x2 = x(s.end ? Date.parse(s.end) : b, W); g.fillRect(x1, 36, Math.max(2, x2 - x1), 4); }
    for (const e of rec.events) { g.fillStyle = "#e0a84f"; const px = x(Date.parse(e.start), W); g.fillRect(px - 1, 4, 3, 10); }
    if (playing) {
      const now = seg ? Date.parse(seg.start) + video.currentTime * 1000 : playing.getTime() + (performance.now() - playT0);
      g.fillStyle = "#fff"; const px = x(now, W); g.fillRect(px - 1, 0, 2, H);
    }
  }
  async function load() {
    winButtons.forEach((bt, i) => bt.classList.toggle("on", WINDOWS[i][1] === windowS));
    if (!canPlay) return;
    const [a, b] = span();
    rec = await api(`/api/cameras/${encodeURIComponent(id)}/recordings?start=${new Date(a).toISOString()}&end=${new Date(b).toISOString()}`).catch(() => null);
    evList.replaceChildren(...(rec ? rec.events.slice().reverse() : []).map((e, i) => h("div", {
      class: "item", tabindex: 0, dataset: { id: e.id },
      onclick: () => playEvent(e), onkeydown: (k) => { if (k.key === "Enter") playEvent(e); },
    }, h("div", {}, h("b", {}, e.label), e.rule_id ? ` · ${e.rule_id}` : ""), h("div", { class: "muted small" }, fmtTime(e.start)))));
    if (rec && !rec.events.length) evList.append(h("p", { class: "muted" }, t("No events in this window.")));
    drawTl();
  }
  function playEvent(e) {
    currentEvent = rec.events.findIndex(x => x.id === e.id);
    evList.querySelectorAll(".item").forEach(n => n.classList.toggle("current", +n.dataset.id === e.id));
    play(new Date(Date.parse(e.start) - 3000));
  }
  function step(d) {
    if (!rec || !rec.events.length) { toast(t("No events in this window.")); return; }
    currentEvent = currentEvent < 0 ? (d > 0 ? 0 : rec.events.length - 1) : Math.min(rec.events.length - 1, Math.max(0, currentEvent + d));
    playEvent(rec.events[currentEvent]);
  }
  tl.addEventListener("click", (e) => {
    const r = tl.getBoundingClientRect(); const [a, b] = span();
    play(new Date(a + ((e.clientX - r.left) / r.width) * (b - a)));
  });
  tl.addEventListener("mousemove", (e) => {
    const r = tl.getBoundingClientRect(); const [a, b] = span();
    tip.textContent = fmtTime(new Date(a + ((e.clientX - r.left) / r.width) * (b - a)));
  });
  function keys(e) {
    if (e.target.closest("input, textarea, select")) return;
    if ((e.key === "b" || e.key === "B") && ctx.can(me, "bookmarks.create")) bookmark(); else if (e.key === "[") step(-1); else if (e.key === "]") step(1);
    else if (e.key === "l" || e.key === "L") startLive();
    else if ((e.key === "f" || e.key === "F") && !e.ctrlKey && !e.metaKey) toggleFullscreen(player);
    else if (e.key === "Escape" && !document.fullscreenElement) go("wall");
    else if (seg && (e.key === "," || e.key === ".")) { video.pause(); video.currentTime += e.key === "." ? 0.1 : -0.1; }
    else if (seg && e.key === " ") { e.preventDefault(); if (video.paused) video.play(); else video.pause(); }
  }
  document.addEventListener("keydown", keys);
  const timer = setInterval(() => { drawTl(); if (seg && video.ended) advance(seg); }, 1000), reload = setInterval(load, 30000);
  onCleanup(() => { if (zoom) zoom.destroy(); document.removeEventListener("keydown", keys); clearInterval(timer); clearInterval(reload); if (stopLive) stopLive(); stopPlayback(); });
  onCleanup(onMessage((m) => {
    if (m.topic === t("event") && m.data.camera_id === id && m.data.phase === "start") load();
    if (m.topic === "camera.status" && m.data.id === id && "online" in m.data) { st.className = "st " + (m.data.online ? "online" : "offline"); }
  }));
  window.addEventListener("resize", drawTl); onCleanup(() => window.removeEventListener("resize", drawTl));
  await load();
  const at = query.get("t");
  if (at && canPlay) play(new Date(at)); else startLive();
}
