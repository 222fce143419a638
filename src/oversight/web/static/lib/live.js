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

// Live H.264 (fragmented MP4 over /api/live.h264.ws) in a <video> through Media Source Extensions.
// Returns a stop function, or null where this browser cannot play it (the caller uses liveVideo).
export function liveH264(video, id, { onState } = {}) {
  if (!window.MediaSource || !MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"')) return null;
  let ws = null, closed = false, retry = 500, sb = null, queue = [], url = null;
  function pump() {
    if (!sb || sb.updating || !queue.length) return;
    try { sb.appendBuffer(queue.shift()); } catch (e) { queue = []; if (ws) ws.close(); }
  }
  function keepLive() {  // stay at the live edge and keep the buffer short
    const b = video.buffered;
    if (!b.length) return;
    const end = b.end(b.length - 1);
    if (end - video.currentTime > 1.0 || video.currentTime < b.start(0)) video.currentTime = Math.max(b.start(0), end - 0.1);
    if (video.paused) video.play().catch(() => {});
    if (sb && !sb.updating && video.currentTime - b.start(0) > 30) sb.remove(b.start(0), video.currentTime - 10);
  }
  function open() {
    if (closed) return;
    const ms = new MediaSource();
    sb = null; queue = [];
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(ms); video.src = url;
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/live.h264.ws?camera=" + encodeURIComponent(id));
    ws.binaryType = "arraybuffer";
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") { queue.push(m.data); pump(); return; }
      const msg = JSON.parse(m.data);
      if (msg.type === "state" && onState) onState(msg.state);
      if (msg.type !== "init") return;
      const start = () => {
        sb = ms.addSourceBuffer(`video/mp4; codecs="${msg.codec}"`);
        sb.addEventListener("updateend", () => { keepLive(); pump(); });
        pump();
      };
      if (ms.readyState === "open") start(); else ms.addEventListener("sourceopen", start, { once: true });
    };
    ws.onopen = () => { retry = 500; };
    ws.onclose = () => { ws = null; if (!closed) setTimeout(open, retry = Math.min(retry * 2, 8000)); };
  }
  open();
  return () => { closed = true; if (ws) ws.close(); video.removeAttribute("src"); video.load(); if (url) URL.revokeObjectURL(url); };
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
