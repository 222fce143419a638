// Live video for several <img> tiles over one WebSocket (/api/live.ws). Browsers cap HTTP
// streams at ~6 per host, so a 16-camera wall cannot use one MJPEG request per tile.
// onFrame(id, url, info): info.ts is the frame's time (ms since the epoch, NaN when unknown),
// info.state "live" | "stalled" | "offline" (then the picture is a card saying so), info.at when
// it arrived: tiles show the age of the newest frame actually received.
const STATES = ["live", "stalled", "offline"];
import { t, fmtNumber } from "./i18n.js";
export function liveVideo(ids, onFrame, { fps = 10 } = {}) {
  let ws = null, closed = false, retry = 500;
  const urls = {};
  function open() {
    if (closed || !ids.length) return;
    const q = new URLSearchParams({ ids: ids.join(","), fps: String(fps) });
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/live.ws?" + q);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (m) => {
      if (typeof m.data === "string") return;
      const buf = new Uint8Array(m.data);
      const n = buf[0];
      const id = new TextDecoder().decode(buf.subarray(1, 1 + n));
      const view = new DataView(m.data, 1 + n, 9);
      const info = { ts: view.getFloat64(0) * 1000, state: STATES[view.getUint8(8)] || "offline", at: Date.now() };
      const url = URL.createObjectURL(new Blob([buf.subarray(1 + n + 9)], { type: "image/jpeg" }));
      const old = urls[id]; urls[id] = url;
      onFrame(id, url, info);
      if (old) setTimeout(() => URL.revokeObjectURL(old), 1000);
    };
    ws.onopen = () => { retry = 500; };
    ws.onclose = () => { ws = null; if (!closed) setTimeout(open, retry = Math.min(retry * 2, 8000)); };
  }
  open();
  return () => { closed = true; if (ws) ws.close(); Object.values(urls).forEach(u => URL.revokeObjectURL(u)); };
}

const H264 = 'video/mp4; codecs="avc1.42E01E"';
const wsUrl = (path) => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;

// One <video> fed with fragmented MP4 through Media Source Extensions, kept at the live edge.
// reset(codec, t0) starts a new stream (a new MediaSource: the next buffer is its init segment);
// t0 is the source time of media time 0, so frameTime() is the wall-clock time of the frame shown.
class MsePlayer {
  constructor(video, onError) { this.video = video; this.onError = onError; this.ms = null; this.sb = null; this.queue = []; this.url = null; this.t0 = 0; }
  reset(codec, t0 = 0) {
    const ms = new MediaSource();
    this.ms = ms; this.sb = null; this.queue = []; this.t0 = t0;
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = URL.createObjectURL(ms); this.video.src = this.url;
    const start = () => {
      // A later reset() or stop() may have replaced or detached this source before it opened.
      if (this.ms !== ms || ms.readyState !== "open") return;
      try { this.sb = ms.addSourceBuffer(`video/mp4; codecs="${codec}"`); } catch (e) { this.onError(e); return; }
      this.sb.addEventListener("updateend", () => { this.keepLive(); this.pump(); });
      this.pump();
    };
    if (ms.readyState === "open") start(); else ms.addEventListener("sourceopen", start, { once: true });
  }
  push(buf) { this.queue.push(buf); this.pump(); }
  pump() {
    const sb = this.sb;
    if (!sb || sb.updating || !this.queue.length) return;
    try { sb.appendBuffer(this.queue.shift()); } catch (e) { this.queue = []; this.onError(e); }
  }
  keepLive() {  // stay at the live edge and keep the buffer short
    const v = this.video, b = v.buffered;
    if (!b.length) return;
    const end = b.end(b.length - 1);
    if (end - v.currentTime > 1.0 || v.currentTime < b.start(0)) v.currentTime = Math.max(b.start(0), end - 0.1);
    if (v.paused) v.play().catch(() => {});
    if (this.sb && !this.sb.updating && v.currentTime - b.start(0) > 30) this.sb.remove(b.start(0), v.currentTime - 10);
  }
  frameTime() {  // NaN until a buffered frame is shown (then the tile uses the arrival time)
    const v = this.video, b = v.buffered;
    if (!this.t0 || !b.length || v.currentTime < b.start(0)) return NaN;
    return (this.t0 + v.currentTime) * 1000;
  }
  stop() { this.ms = null; this.sb = null; this.queue = []; this.video.removeAttribute("src"); this.video.load(); if (this.url) URL.revokeObjectURL(this.url); this.url = null; }
}

export function h264Supported() { return !!(window.MediaSource && MediaSource.isTypeSupported(H264)); }

// Live H.264 (fragmented MP4 over /api/live.h264.ws) in a <video> through Media Source Extensions.
// Returns a stop function, or null where this browser cannot play it (the caller uses liveVideo).
export function liveH264(video, id, { onState } = {}) {
  if (!h264Supported()) return null;
  let ws = null, closed = false, retry = 500;
  const player = new MsePlayer(video, () => { if (ws) ws.close(); });
  function open() {
    if (closed) return;
    ws = new WebSocket(wsUrl("/api/live.h264.ws?camera=" + encodeURIComponent(id)));
    ws.binaryType = "arraybuffer";
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") { player.push(m.data); return; }
      const msg = JSON.parse(m.data);
      if (msg.type === "state" && onState) onState(msg.state);
      if (msg.type === "init") player.reset(msg.codec, msg.t0);
    };
    ws.onopen = () => { retry = 500; };
    ws.onclose = () => { ws = null; if (!closed) setTimeout(open, retry = Math.min(retry * 2, 8000)); };
  }
  open();
  return () => { closed = true; if (ws) ws.close(); player.stop(); };
}

// The live wall in H.264: every tile's stream over one WebSocket (/api/live.wall.h264.ws), each
// into its own <video>. videos: {camera id: <video>}. onFrame(id, info) on every fragment and state
// change, info as liveVideo's (ts: the time of the frame shown, state, at). Returns
// { stop(), stream(id, "sub" | "main") } (the caller picks the main stream for large tiles), or
// null where this browser cannot play H.264 through MSE.
export function liveWallH264(videos, onFrame, { purpose = "" } = {}) {
  if (!h264Supported()) return null;
  const ids = Object.keys(videos), want = {}, players = {}, got = {};
  let ws = null, closed = false, retry = 500;
  for (const id of ids) {
    want[id] = "sub";
    players[id] = new MsePlayer(videos[id], () => { if (ws) ws.close(); });
  }
  const tell = (id, state) => { got[id] = { ts: players[id].frameTime(), state, at: Date.now() }; onFrame(id, got[id]); };
  function message(m) {
    if (typeof m.data !== "string") {
      const buf = new Uint8Array(m.data), n = buf[0];
      const id = new TextDecoder().decode(buf.subarray(1, 1 + n));
      if (!players[id]) return;
      players[id].push(buf.slice(1 + n).buffer);
      tell(id, "live");
      return;
    }
    const msg = JSON.parse(m.data);
    if (!players[msg.camera]) return;
    if (msg.type === "init") players[msg.camera].reset(msg.codec, msg.t0);
    else if (msg.type === "state") tell(msg.camera, msg.state);
  }
  function open() {
    if (closed || !ids.length) return;
    const q = new URLSearchParams({ ids: ids.join(","), main: ids.filter(i => want[i] === "main").join(",") });
    if (purpose) q.set("purpose", purpose);
    ws = new WebSocket(wsUrl("/api/live.wall.h264.ws?" + q));
    ws.binaryType = "arraybuffer";
    ws.onmessage = message;
    ws.onopen = () => { retry = 500; };
    ws.onclose = () => { ws = null; if (!closed) setTimeout(open, retry = Math.min(retry * 2, 8000)); };
  }
  function stream(id, s) {
    if (!players[id] || want[id] === s) return;
    want[id] = s;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ camera: id, stream: s }));
  }
  open();
  return { stop: () => { closed = true; if (ws) ws.close(); Object.values(players).forEach(p => p.stop()); }, stream, streams: want };
}

// What a tile with video says: the age of the newest frame this viewer received, not the ingest rate.
// whether a tile shows live video now (the caption's words are translated, so never read them back)
export function frameLive(got, now = Date.now()) {
  return !!got && got.state !== "offline" && got.state !== "stalled" && now - got.at <= 5000;
}

export function frameText(got, now = Date.now()) {
  if (!got) return t("waiting for video");
  if (got.state === "offline") return t("offline");
  const age = Math.max(0, (now - (Number.isNaN(got.ts) ? got.at : got.ts)) / 1000);
  if (got.state === "stalled" || now - got.at > 5000) return t("stalled · last frame {n} s ago", { n: fmtNumber(age, { maximumFractionDigits: 0 }) });
  return t("live · {n} s", { n: fmtNumber(age, { minimumFractionDigits: age < 10 ? 1 : 0, maximumFractionDigits: age < 10 ? 1 : 0 }) });
}

export const FOOTAGE_ROLES = ["viewer", "operator", "supervisor"];
export const PLAYBACK_ROLES = ["operator", "supervisor"];
