// Live video for several <img> tiles over one WebSocket (/api/live.ws). Browsers cap HTTP
// streams at ~6 per host, so a 16-camera wall cannot use one MJPEG request per tile.
// onFrame(id, url, info): info.ts is the frame's time (ms since the epoch, NaN when unknown),
// info.state "live" | "stalled" | "offline" (then the picture is a card saying so), info.at when
// it arrived: tiles show the age of the newest frame actually received.
const STATES = ["live", "stalled", "offline"];
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

// What a tile with video says: the age of the newest frame this viewer received, not the ingest rate.
export function frameText(got, now = Date.now()) {
  if (!got) return "waiting for video";
  if (got.state === "offline") return "offline";
  const age = Math.max(0, (now - (Number.isNaN(got.ts) ? got.at : got.ts)) / 1000);
  if (got.state === "stalled" || now - got.at > 5000) return `stalled · last frame ${age.toFixed(0)} s ago`;
  return `live · ${age < 10 ? age.toFixed(1) : age.toFixed(0)} s`;
}

export const FOOTAGE_ROLES = ["viewer", "operator", "supervisor"];
export const PLAYBACK_ROLES = ["operator", "supervisor"];
