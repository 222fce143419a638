// Live camera tiles, one component for the wall, saved views, tours and the second-monitor window:
// a <video> per tile playing the camera's redacted H.264 over one socket per page (liveWallH264),
// the sub-stream for small tiles and the main stream for a large or fullscreen one (switched by the
// tile's size), a card over an offline or stalled camera (never its last frame), the age of the
// newest frame this viewer received, and wheel/drag zoom. Browsers without MSE H.264 get JPEG
// frames (liveVideo).
import { liveVideo, liveWallH264, h264Supported, frameText, frameLive } from "./live.js";
import { zoomable } from "./zoom.js";
import { t } from "./i18n.js";

export const MAIN_PX = 800;  // a tile this many device pixels wide or more plays the main stream

// The picture of one tile: { media, view (the zoomable box), card, zoom }.
export function liveMedia(h, name, { ondblclick } = {}) {
  const label = t("Live video of {camera}", { camera: name });
  const media = h264Supported() ? h("video", { muted: true, autoplay: true, playsinline: true, "aria-label": label }) : h("img", { alt: label });
  if (media.tagName === "VIDEO") media.muted = true;
  const view = h("div", { class: "view", ondblclick }, media);
  const card = h("div", { class: "card", "aria-live": "polite" });
  return { media, view, card, zoom: zoomable(view, media) };
}

// "live" | "stalled" | "offline" | "waiting" from what a tile received (see liveVideo's info).
export function tileState(got) {
  if (!got) return "waiting";
  return frameLive(got) ? "live" : got.state === "offline" ? "offline" : "stalled";
}

// Caption, card and data-state of a tile from what it received.
export function showFrame(tile, st, card, got) {
  const state = tileState(got), text = frameText(got);
  st.className = "st " + (state === "live" ? "online" : "offline");
  st.textContent = text;
  tile.dataset.state = state;
  if (card) card.textContent = state === "offline" ? t("camera offline") : state === "stalled" ? text : "";
}

// Play entries [{ id, tile, media }] (a camera may be on several tiles); onFrame(entry, info) on
// every fragment and state change. One socket per layer of distinct cameras. Returns stop().
export function playTiles(entries, onFrame, { fps = 10, purpose = "" } = {}) {
  const layers = [];
  for (const e of entries) {
    let k = 0;
    while (layers[k] && layers[k][e.id]) k++;
    (layers[k] ||= {})[e.id] = e;
  }
  const stops = layers.map(layer => playLayer(layer, onFrame, { fps, purpose }));
  return () => stops.forEach(stop => stop());
}

function playLayer(layer, onFrame, { fps, purpose }) {
  const videos = {};
  for (const [id, e] of Object.entries(layer)) if (e.media.tagName === "VIDEO") videos[id] = e.media;
  const wall = Object.keys(videos).length ? liveWallH264(videos, (id, info) => layer[id] && onFrame(layer[id], info), { purpose }) : null;
  if (!wall) {
    return liveVideo(Object.keys(layer), (id, url, info) => {
      const e = layer[id]; if (!e) return;
      e.media.src = url; onFrame(e, info);
    }, { fps });
  }
  const pick = () => {  // the main stream for a large (or fullscreen) tile, the sub-stream for small ones
    for (const [id, e] of Object.entries(layer)) {
      const px = e.tile.clientWidth * (window.devicePixelRatio || 1);
      wall.stream(id, px >= MAIN_PX ? "main" : "sub");
      e.tile.dataset.stream = wall.streams[id];
    }
  };
  const sizes = new ResizeObserver(pick);
  Object.values(layer).forEach(e => sizes.observe(e.tile));
  pick();
  return () => { wall.stop(); sizes.disconnect(); };
}
