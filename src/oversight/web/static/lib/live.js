// Live video for several <img> tiles over one WebSocket (/api/live.ws). Browsers cap HTTP
// streams at ~6 per host, so a 16-camera wall cannot use one MJPEG request per tile.
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
      const url = URL.createObjectURL(new Blob([buf.subarray(1 + n)], { type: "image/jpeg" }));
      const old = urls[id]; urls[id] = url;
      onFrame(id, url);
      if (old) setTimeout(() => URL.revokeObjectURL(old), 1000);
    };
    ws.onopen = () => { retry = 500; };
    ws.onclose = () => { ws = null; if (!closed) setTimeout(open, retry = Math.min(retry * 2, 8000)); };
  }
  open();
  return () => { closed = true; if (ws) ws.close(); Object.values(urls).forEach(u => URL.revokeObjectURL(u)); };
}

export const FOOTAGE_ROLES = ["viewer", "operator", "supervisor"];
export const PLAYBACK_ROLES = ["operator", "supervisor"];
