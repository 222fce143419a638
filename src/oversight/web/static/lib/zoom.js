// Digital zoom and pan of a <video> (live or playback) inside its box: the wheel zooms about the
// pointer (1-8x), dragging pans a zoomed picture, zooming back to 1x resets. Only the element's
// CSS transform changes (through the CSSOM: the CSP allows no inline style attribute); the
// picture stays what the server sent. Returns { reset(), state(), destroy() }.
export function zoomable(box, media, { max = 8 } = {}) {
  let s = 1, x = 0, y = 0, drag = null;
  media.classList.add("zoomable");
  function clamp() {  // never pan the picture out of its box
    const w = box.clientWidth, h = box.clientHeight;
    x = Math.min(0, Math.max(w - w * s, x)); y = Math.min(0, Math.max(h - h * s, y));
  }
  function apply() {
    clamp();
    media.style.transformOrigin = "0 0";
    media.style.transform = s === 1 ? "" : `translate(${x}px, ${y}px) scale(${s})`;
    box.dataset.zoom = s.toFixed(2);
  }
  function wheel(e) {
    e.preventDefault();
    const r = box.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
    const next = Math.min(max, Math.max(1, s * Math.exp(-e.deltaY * 0.002)));
    x = px - ((px - x) * next) / s; y = py - ((py - y) * next) / s; s = next;
    if (s === 1) { x = 0; y = 0; }
    apply();
  }
  function down(e) {
    if (s === 1 || e.button !== 0) return;
    drag = { px: e.clientX, py: e.clientY, x, y };
    box.setPointerCapture(e.pointerId); box.classList.add("panning");
  }
  function move(e) {
    if (!drag) return;
    x = drag.x + e.clientX - drag.px; y = drag.y + e.clientY - drag.py; apply();
  }
  function up() { drag = null; box.classList.remove("panning"); }
  box.addEventListener("wheel", wheel, { passive: false });
  box.addEventListener("pointerdown", down); box.addEventListener("pointermove", move);
  box.addEventListener("pointerup", up); box.addEventListener("pointercancel", up);
  return {
    reset() { s = 1; x = 0; y = 0; apply(); },
    state: () => ({ scale: s, x, y }),
    panned: () => drag !== null,
    destroy() {
      box.removeEventListener("wheel", wheel); box.removeEventListener("pointerdown", down);
      box.removeEventListener("pointermove", move); box.removeEventListener("pointerup", up);
      box.removeEventListener("pointercancel", up);
    },
  };
}

// Fullscreen of an element (a wall tile, the player), toggled; resolves when done.
export function toggleFullscreen(el) {
  if (document.fullscreenElement) return document.exitFullscreen().catch(() => {});
  return el.requestFullscreen ? el.requestFullscreen().catch(() => {}) : Promise.resolve();
}
