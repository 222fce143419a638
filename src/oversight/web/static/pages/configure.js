// Configure: every setting a camera has, in forms (streams, recording and retention, location and
// heading, detection, redaction, PTZ, rules with classes, schedules and alerting), and zones, lines,
// motion masks and privacy masks (normalised, optionally per PTZ preset) drawn on a (redacted) snapshot: click to add points, drag a vertex to move it.
// The server validates exactly like `oversight check-config`, applies the change to that camera
// only and keeps the YAML file's comments. Weaker redaction or other retention waits for a second
// person (Users page). No prompt(): dialogs from lib/dialog.js.
import { formDialog, confirmDialog } from "../lib/dialog.js";
import { t, tn } from "../lib/i18n.js";

export const title = t("Configure");
export const permission = "config.manage";
const COLORS = { zone: "#5fb3a1", dwell: "#7fa7e0", crowd: "#c58be0", line: "#e0a84f", mask: "#e0625a", permanent: "#000000", liftable: "#808080" };
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const CLASSES = ["person", "car", "truck", "bus", "bicycle", "motorcycle"];
const SOUNDS = () => [["", t("the priority's sound")], ["siren", t("siren")], ["alarm", t("alarm")], ["chime", t("chime")], ["beep", t("beep")], ["none", t("none")]];
const TOOL_NAMES = { zone: () => t("zone"), dwell: () => t("dwell"), crowd: () => t("crowd"), line: () => t("line"), mask: () => t("motion mask"), permanent: () => t("privacy mask"), liftable: () => t("liftable privacy mask") };
const CLASS_NAMES = () => ({ person: t("person"), car: t("car"), truck: t("truck"), bus: t("bus"), bicycle: t("bicycle"), motorcycle: t("motorcycle") });
const DAY_NAMES = () => ({ mon: t("Mon"), tue: t("Tue"), wed: t("Wed"), thu: t("Thu"), fri: t("Fri"), sat: t("Sat"), sun: t("Sun") });
const ID_HELP = () => t("letters, digits, - and _ (no spaces)");

// [legend, [[path, label, kind, extra]]]; kind: text | num | optnum | bool | select | list
const SECTIONS = () => [
  [t("Camera"), [["name", t("Name"), "text"], ["purpose", t("Purpose (required, shown in reports)"), "text", { required: true, minlength: 3 }],
    ["enabled", t("Enabled"), "bool"], ["legal_basis", t("Legal basis (published on the portal)"), "text"],
    ["manufacturer", t("Manufacturer"), "text"], ["model", t("Model"), "text"], ["onvif", t("ONVIF device address (http://user:pass@host/onvif/device_service)"), "text"]]],
  [t("Streams"), [["streams.record", t("Record stream URL"), "text", { required: true }], ["streams.detect", t("Detect stream URL (default: the record stream)"), "text"],
    ["transcode", t("Transcode streams browsers cannot play (costs CPU)"), "bool"]]],
  [t("Recording and retention"), [["record.mode", t("Recording mode"), "select", { options: [["continuous", t("continuous")], ["events", t("events only")]] }],
    ["record.retention_days", t("Keep footage (days)"), "num", { min: 0.01, max: 3650, step: "any" }],
    ["record.event_retention_days", t("Keep event clips (days; empty: as footage)"), "optnum", { min: 0.01, max: 3650, step: "any", nullable: true }],
    ["record.segment_seconds", t("Segment length (s)"), "num", { min: 1, max: 600, step: "any" }],
    ["record.pre_roll", t("Pre-roll (s)"), "num", { min: 0, max: 120, step: "any" }], ["record.post_roll", t("Post-roll (s)"), "num", { min: 0, max: 600, step: "any" }]]],
  [t("Location and heading"), [["location.lat", t("Latitude"), "optnum", { min: -90, max: 90, step: "any" }], ["location.lon", t("Longitude"), "optnum", { min: -180, max: 180, step: "any" }],
    ["location.address", t("Address"), "text"], ["location.x", t("Position on the site plan, x (0–1)"), "optnum", { min: 0, max: 1, step: "any" }],
    ["location.y", t("Position on the site plan, y (0–1)"), "optnum", { min: 0, max: 1, step: "any" }],
    ["field_of_view.direction_deg", t("Heading (degrees, 0 north, 90 east)"), "optnum", { min: 0, max: 359.9, step: "any" }],
    ["field_of_view.angle_deg", t("Opening angle (degrees)"), "optnum", { min: 1, max: 360, step: "any" }],
    ["field_of_view.range_m", t("Useful range (m)"), "optnum", { min: 1, max: 10000, step: "any" }],
    ["field_of_view.description", t("What it sees (published)"), "text"]]],
  [t("Detection"), [["detect.enabled", t("Analytics on"), "bool"], ["detect.fps", t("Frames per second analysed"), "num", { min: 0.5, max: 60, step: 0.5 }],
    ["detect.width", t("Detect width (px)"), "num", { min: 64, max: 4096 }], ["detect.height", t("Detect height (px)"), "num", { min: 64, max: 4096 }],
    ["detect.detector", t("Detector"), "select", { options: [["auto", t("automatic (packaged model, else HOG)")], ["hog", "HOG (CPU)"], ["onnx", t("ONNX model")], ["none", t("none (motion only)")]] }],
    ["detect.model_path", t("ONNX model file"), "text"], ["detect.min_confidence", t("Minimum confidence (0–1)"), "num", { min: 0, max: 1, step: 0.05 }],
    ["detect.classes", t("Classes detected (comma-separated)"), "list"]]],
  [t("Redaction"), [["redaction.faces", t("Blur faces"), "bool"], ["redaction.persons", t("Blur whole persons"), "bool"], ["redaction.plates", t("Blur number plates"), "bool"],
    ["redaction.style", t("Style"), "select", { options: [["blur", t("blur")], ["pixelate", t("pixelate")]] }]]],
  [t("Pan-tilt-zoom (ONVIF)"), [["ptz", t("This is a PTZ camera"), "ptz"], ["ptz.home_preset", t("Home preset token (zones are drawn on its picture)"), "text"],
    ["ptz.pause_analytics_off_home", t("Pause analytics while away from home"), "bool"],
    ["ptz.presets", t("Presets privacy masks may be drawn for (comma-separated)"), "list"]]],
];
// optional objects: dropped when every field in them is empty
const OPTIONAL = ["location", "field_of_view", "ptz"];

const get = (o, path) => path.split(".").reduce((a, k) => (a == null ? undefined : a[k]), o);
function set(o, path, v) {
  const ks = path.split("."); let node = o;
  for (const k of ks.slice(0, -1)) node = (node[k] ??= {});
  if (v === undefined) delete node[ks.at(-1)]; else node[ks.at(-1)] = v;
}

export async function render(el, ctx) {
  const { h, api, toast, args, go } = ctx;
  const list = await api("/api/config/cameras");
  const camSel = h("select", { "aria-label": t("Camera"), onchange: () => go("configure/" + encodeURIComponent(camSel.value)) },
    ...list.map(c => h("option", { value: c.id, selected: c.id === args[0] }, c.name || c.id)));
  const discoverBox = h("div");
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), camSel,
    h("button", { type: "button", onclick: () => newCamera() }, t("Add camera")),
    h("button", { type: "button", onclick: () => discoverCameras() }, t("Find ONVIF cameras"))), discoverBox);
  const area = h("div"); el.append(area);
  if (!list.length) { area.append(h("p", { class: "muted" }, t("No cameras yet."))); return; }
  const id = args[0] || list[0].id;
  let cam = structuredClone(list.find(c => c.id === id) || list[0]);
  camSel.value = cam.id;

  const img = h("img", { alt: t("Snapshot for drawing (redacted)") });
  const canvas = h("canvas", { tabindex: 0, "aria-label": t("Drawing area: click to add points, drag a point to move it, double-click or Enter to finish, Esc to cancel") });
  const draw = h("div", { class: "draw" }, img, canvas);
  draw.style.setProperty("--ar", String(cam.detect.width / cam.detect.height));
  const issues = h("ul", { class: "issues" }), status = h("p", { class: "small", "aria-live": "polite" });
  let tool = "zone", pts = [];
  const tools = ["zone", "dwell", "crowd", "line", "mask", "permanent", "liftable"].map(k => h("button", { type: "button", "data-tool": k, onclick: () => { tool = k; pts = []; paint(); mark(); } }, TOOL_NAMES[k]()));
  function mark() { tools.forEach(b => b.classList.toggle("on", b.dataset.tool === tool)); }

  // ---- the settings form, generated from SECTIONS; each input knows its path
  const inputs = [];
  function field([path, label, kind, extra = {}]) {
    let input;
    const v = get(cam, path);
    if (kind === "bool" || kind === "ptz") input = h("input", { type: "checkbox", checked: kind === "ptz" ? cam.ptz != null : (v ?? true) === true });  // absent: the default, on
    else if (kind === "select") input = h("select", {}, ...extra.options.map(([o, l]) => h("option", { value: o, selected: v === o }, l)));
    else input = h("input", { type: kind === "num" || kind === "optnum" ? "number" : "text", value: kind === "list" ? (v || []).join(", ") : (v ?? ""),
      min: extra.min, max: extra.max, step: extra.step, required: !!extra.required, minlength: extra.minlength });
    input.dataset.path = path; input.dataset.kind = kind; if (extra.nullable) input.dataset.nullable = "1";
    inputs.push(input);
    const note = h("span", { class: "small error field-issue", "data-for": path });
    return kind === "bool" || kind === "ptz"
      ? h("label", { style: "display:flex;gap:6px;align-items:center" }, input, label, note)
      : h("label", {}, label, input, note);
  }
  const fieldsets = SECTIONS().map(([legend, fields], i) => h("details", { open: i < 3, class: "cfg-fields" },
    h("summary", {}, legend), h("fieldset", {}, ...fields.map(field))));
  const rulesBox = h("div", { class: "list", style: "max-height:50vh" });
  const json = h("pre", { class: "small mono", "aria-label": t("Camera configuration as JSON (read only)") });
  area.append(h("div", { class: "cfg" },
    h("div", {}, h("div", { class: "toolbar" }, h("span", { class: "muted small" }, t("Draw:")), ...tools,
      h("span", { class: "muted small" }, t("click to add points · drag a point to move it · double-click or Enter to finish · Esc to cancel"))), draw,
      h("h2", {}, t("Rules and masks")), rulesBox),
    h("form", { class: "form panel", novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } }, ...fieldsets,
      h("details", {}, h("summary", { class: "muted" }, t("The whole configuration (JSON, read only)")), json),
      h("div", { class: "toolbar" }, h("button", { class: "primary", type: "submit" }, t("Save and apply")),
        h("button", { type: "button", onclick: () => save(true) }, t("Validate only"))), status, issues)));
  mark();

  img.src = `/api/config/cameras/${encodeURIComponent(cam.id)}/snapshot.jpg?ts=${Date.now()}`;
  img.onerror = () => { img.removeAttribute("src"); img.style.aspectRatio = `${cam.detect.width}/${cam.detect.height}`; status.textContent = t("No picture from this camera yet; you can still draw."); paint(); };
  img.onload = paint;

  function fromForm() {
    for (const i of inputs) {
      const { path, kind } = i.dataset;
      if (kind === "ptz") { if (!i.checked) delete cam.ptz; else cam.ptz ??= {}; continue; }
      if (path.startsWith("ptz.") && !cam.ptz) continue;
      let v;
      if (kind === "bool") v = i.checked;
      else if (kind === "num") v = i.value === "" ? undefined : Number(i.value);
      else if (kind === "optnum") v = i.value === "" ? (i.dataset.nullable ? null : undefined) : Number(i.value);
      else if (kind === "list") v = i.value.split(",").map(s => s.trim()).filter(Boolean);
      else v = i.value.trim() === "" ? null : i.value.trim();
      set(cam, path, v);
    }
    for (const k of OPTIONAL) {  // an optional section left empty is absent, not a set of nulls
      const o = cam[k];
      if (o && k !== "ptz" && Object.values(o).every(x => x == null || x === "")) delete cam[k];
      else if (o) for (const [key, x] of Object.entries(o)) if (x == null) delete o[key];  // absent, not null: "missing" names the key
    }
    if (cam.ptz && cam.ptz.home_preset == null) delete cam.ptz.home_preset;
  }
  function syncJson() { json.textContent = JSON.stringify(cam, null, 2); }
  inputs.forEach(i => i.addEventListener("change", () => { fromForm(); syncJson(); if (i.dataset.path.startsWith("detect.")) paint(); }));

  // ---- drawing: shapes in detect-frame pixels; vertices can be dragged
  function scale() { const r = canvas.getBoundingClientRect(); return [r.width / cam.detect.width, r.height / cam.detect.height, r]; }
  function poly(g, points, color, closed, sx, sy) {
    if (!points.length) return;
    g.beginPath(); g.moveTo(points[0][0] * sx, points[0][1] * sy);
    for (const p of points.slice(1)) g.lineTo(p[0] * sx, p[1] * sy);
    if (closed) { g.closePath(); g.fillStyle = color + "33"; g.fill(); }
    g.strokeStyle = color; g.lineWidth = 2; g.stroke();
    for (const p of points) { g.beginPath(); g.arc(p[0] * sx, p[1] * sy, 4, 0, 7); g.fillStyle = color; g.fill(); }
  }
  // A line shows which way counts: A→B is walking from side a (left of p1→p2) to side b.
  function arrow(g, x, y, dx, dy, color) {
    const len = Math.hypot(dx, dy) || 1, ux = dx / len, uy = dy / len;
    g.beginPath(); g.moveTo(x, y); g.lineTo(x + ux * 22, y + uy * 22); g.strokeStyle = color; g.lineWidth = 2; g.stroke();
    g.beginPath(); g.moveTo(x + ux * 22, y + uy * 22); g.lineTo(x + ux * 14 - uy * 5, y + uy * 14 + ux * 5); g.lineTo(x + ux * 14 + uy * 5, y + uy * 14 - ux * 5); g.closePath(); g.fillStyle = color; g.fill();
  }
  function lineMarks(g, rule, sx, sy) {
    const [[x1, y1], [x2, y2]] = rule.line.map(p => [p[0] * sx, p[1] * sy]);
    const mx = (x1 + x2) / 2, my = (y1 + y2) / 2, nx = (y2 - y1), ny = -(x2 - x1);  // (nx, ny): towards side a
    g.fillStyle = "#fff"; g.fillText("A", x1 - 14, y1 - 6); g.fillText("B", x2 + 6, y2 - 6);
    const color = COLORS.line, dir = rule.direction || "any";
    if (dir !== "b_to_a") arrow(g, mx, my, -nx, -ny, color);  // a -> b
    if (dir !== "a_to_b") arrow(g, mx, my, nx, ny, color);
  }
  function paint() {
    const [sx, sy, r] = scale(), dpr = window.devicePixelRatio || 1;
    canvas.width = r.width * dpr; canvas.height = r.height * dpr;
    const g = canvas.getContext("2d"); g.scale(dpr, dpr); g.font = "13px system-ui";
    for (const m of cam.motion.masks || []) poly(g, m, COLORS.mask, true, sx, sy);
    // privacy masks are normalised (0..1): painted solid, as every exit paints them
    for (const m of cam.masks || []) {
      const px = m.polygon.map(p => [p[0] * cam.detect.width, p[1] * cam.detect.height]);
      poly(g, px, COLORS[m.kind || "permanent"], true, sx, sy);
      g.fillStyle = "#fff"; g.fillText(m.id + (m.preset ? ` @${m.preset}` : ""), px[0][0] * sx + 6, px[0][1] * sy + 14);
    }
    for (const rule of cam.rules || []) {
      const pts_ = rule.type === "line" ? rule.line : rule.polygon;
      poly(g, pts_, COLORS[rule.type] || "#fff", rule.type !== "line", sx, sy);
      if (rule.type === "line") lineMarks(g, rule, sx, sy);
      g.fillStyle = "#fff"; g.fillText(rule.id, pts_[0][0] * sx + 6, pts_[0][1] * sy - 6);
    }
    poly(g, pts, "#ffffff", false, sx, sy);
  }
  function shapes() {  // every editable point list, for hit-testing; privacy masks' points are normalised
    const px = [...(cam.rules || []).map(r => (r.type === "line" ? r.line : r.polygon)), ...(cam.motion.masks || [])].map(p => ({ p, kx: 1, ky: 1 }));
    return [...px, ...(cam.masks || []).map(m => ({ p: m.polygon, kx: cam.detect.width, ky: cam.detect.height, norm: true }))];
  }
  function at(e) {
    const [sx, sy, r] = scale();
    return [Math.min(cam.detect.width, Math.max(0, (e.clientX - r.left) / sx)), Math.min(cam.detect.height, Math.max(0, (e.clientY - r.top) / sy))];
  }
  function vertexAt(e) {
    const [sx, sy, r] = scale(), x = e.clientX - r.left, y = e.clientY - r.top;
    for (const s of shapes()) for (let i = 0; i < s.p.length; i++) if (Math.hypot(s.p[i][0] * s.kx * sx - x, s.p[i][1] * s.ky * sy - y) <= 8) return [s, i];
    return null;
  }
  let drag = null, dragged = false;
  canvas.addEventListener("pointerdown", (e) => {
    if (pts.length) return;  // drawing a new shape: clicks add points
    drag = vertexAt(e); dragged = false;
    if (drag) { canvas.setPointerCapture(e.pointerId); e.preventDefault(); }
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) { canvas.style.cursor = !pts.length && vertexAt(e) ? "grab" : "crosshair"; return; }
    const [x, y] = at(e), s = drag[0];
    s.p[drag[1]] = s.norm ? [+(x / s.kx).toFixed(4), +(y / s.ky).toFixed(4)] : [Math.round(x), Math.round(y)];
    dragged = true; paint();
  });
  canvas.addEventListener("pointerup", () => { if (drag && dragged) { syncJson(); status.className = "small"; status.textContent = t("Point moved; save to apply."); } drag = null; });
  canvas.addEventListener("click", (e) => {
    if (dragged) { dragged = false; return; }
    if (!pts.length && vertexAt(e)) return;
    pts.push(at(e));
    if (tool === "line" && pts.length === 2) finish(); else paint();
  });
  canvas.addEventListener("dblclick", (e) => { e.preventDefault(); pts.pop(); finish(); });
  // Enter's default (a keypress) would reach the dialog finish() opens and submit it unread
  canvas.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); finish(); } else if (e.key === "Escape") { pts = []; paint(); } else if (e.key === "Backspace") { pts.pop(); paint(); } });
  window.addEventListener("resize", paint); ctx.onCleanup(() => window.removeEventListener("resize", paint));

  // ---- rules: one card each with every setting
  function ruleCard(r, i) {
    const upd = (fn) => (e) => { fn(e.target); syncJson(); paint(); };
    const num = (label, key, attrs) => h("label", {}, label, h("input", { type: "number", value: r[key] ?? "", ...attrs, "aria-label": t("{label} of rule {id}", { label, id: r.id }),
      onchange: upd(n => { if (n.value === "") delete r[key]; else r[key] = Number(n.value); }) }));
    const classes = h("span", { class: "row" }, ...CLASSES.map(c => h("label", { class: "small", style: "display:inline-flex;gap:3px" },
      h("input", { type: "checkbox", checked: (r.classes || ["person"]).includes(c), "aria-label": t("Rule {id} counts {cls}", { id: r.id, cls: CLASS_NAMES()[c] }),
        onchange: upd(n => { const s = new Set(r.classes || ["person"]); if (n.checked) s.add(c); else s.delete(c); r.classes = CLASSES.filter(x => s.has(x)); }) }), CLASS_NAMES()[c])));
    const sched = r.schedule;
    const schedule = h("span", { class: "row" },
      h("label", { class: "small", style: "display:inline-flex;gap:3px" }, h("input", { type: "checkbox", checked: !!sched, "aria-label": t("Rule {id} only at set times", { id: r.id }),
        onchange: (e) => { if (e.target.checked) r.schedule = { days: [...DAYS], start: "00:00", end: "24:00" }; else delete r.schedule; listRules(); } }), t("only at set times")),
      ...(sched ? [...DAYS.map(d => h("label", { class: "small", style: "display:inline-flex;gap:2px" }, h("input", { type: "checkbox", checked: sched.days.includes(d), "aria-label": t("Rule {id} on {day}", { id: r.id, day: DAY_NAMES()[d] }),
        onchange: upd(n => { const s = new Set(sched.days); if (n.checked) s.add(d); else s.delete(d); sched.days = DAYS.filter(x => s.has(x)); }) }), DAY_NAMES()[d])),
      h("input", { value: sched.start, size: 5, pattern: "\\d\\d:\\d\\d", "aria-label": t("Rule {id} from (HH:MM)", { id: r.id }), onchange: upd(n => { sched.start = n.value.trim(); }) }), "–",
      h("input", { value: sched.end, size: 5, pattern: "\\d\\d:\\d\\d", "aria-label": t("Rule {id} until (HH:MM)", { id: r.id }), onchange: upd(n => { sched.end = n.value.trim(); }) })] : []));
    const alertOn = h("input", { type: "checkbox", checked: !!r.alert, "aria-label": t("Rule {id} raises alerts", { id: r.id }) });
    alertOn.addEventListener("change", async () => {
      r.alert = alertOn.checked;
      if (r.alert && r.type === "line" && r.alert_above == null) {
        const d = await formDialog({ title: t("Alerting on line {id}", { id: r.id }), text: t("A counting line alerts when crossings in a period exceed a threshold."), fields: [
          { name: "above", label: t("Alert above how many crossings"), type: "number", value: 100, min: 0, required: true },
          { name: "per", label: t("per how many minutes"), type: "number", value: 60, min: 1, max: 1440, required: true }] });
        if (!d) r.alert = false; else { r.alert_above = d.above; r.per_minutes = d.per; }
      }
      listRules();
    });
    const prio = h("select", { "aria-label": t("Priority of rule {id}", { id: r.id }), disabled: !r.alert, onchange: upd(n => { r.priority = n.value; }) },
      ["P1", "P2", "P3", "P4"].map(p => h("option", { value: p, selected: (r.priority || "P3") === p }, p)));
    const sound = h("select", { "aria-label": t("Sound of rule {id}", { id: r.id }), disabled: !r.alert, onchange: upd(n => { if (n.value) r.sound = n.value; else delete r.sound; }) },
      SOUNDS().map(([v, l]) => h("option", { value: v, selected: (r.sound || "") === v }, l)));
    const what = r.alert ? (r.type === "line" ? t("alerts above {n} crossings / {minutes} min", { n: r.alert_above, minutes: r.per_minutes || 60 }) : t("alerts")) : t("events only");
    const specific = r.type === "line"
      ? [h("label", {}, t("Direction "), h("select", { "aria-label": t("Direction of line {id}", { id: r.id }), onchange: upd(n => { r.direction = n.value; }) },
          [["any", t("both ways")], ["a_to_b", t("A side → B side")], ["b_to_a", t("B side → A side")]].map(([v, l]) => h("option", { value: v, selected: (r.direction || "any") === v }, l)))),
        r.alert ? num(t("Alert above"), "alert_above", { min: 0 }) : null, r.alert ? num(t("per minutes"), "per_minutes", { min: 1, max: 1440 }) : null]
      : r.type === "dwell" ? [num(t("Seconds"), "seconds", { min: 1, max: 86400 })]
      : r.type === "crowd" ? [num(t("More than (people)"), "max_count", { min: 1 })] : [];
    return h("div", { class: "rule-card", "data-rule": r.id },
      h("div", { class: "row" }, h("b", {}, r.id), h("span", { class: "muted" }, (TOOL_NAMES[r.type] || (() => r.type))()), h("span", { class: "spacer" }),
        h("button", { type: "button", class: "danger", onclick: async () => {
          if (await confirmDialog({ title: t("Remove rule {id}?", { id: r.id }), text: t("It stops producing events when you save."), ok: t("Remove"), danger: true })) { cam.rules.splice(i, 1); paint(); listRules(); }
        } }, t("Remove"))),
      h("label", {}, t("Purpose "), h("input", { value: r.purpose || "", "aria-label": t("Purpose of rule {id}", { id: r.id }), onchange: upd(n => { r.purpose = n.value.trim(); }) })),
      h("div", { class: "row" }, ...specific), classes, schedule,
      h("div", { class: "row" }, h("label", { class: "small", style: "display:inline-flex;gap:4px;align-items:center" }, alertOn, what), prio, sound,
        r.alert ? num(t("Cooldown (s)"), "cooldown_s", { min: 0, max: 86400 }) : null));
  }
  function listRules() {
    rulesBox.replaceChildren(...(cam.rules || []).map(ruleCard),
      ...(cam.motion.masks || []).map((m, i) => h("div", { class: "item" }, t("motion mask {i}", { i: i + 1 }) + " (" + tn("{n} point", "{n} points", m.length) + ") ",
        h("button", { type: "button", class: "danger", onclick: () => { cam.motion.masks.splice(i, 1); paint(); listRules(); } }, t("Remove")))),
      ...(cam.masks || []).map(maskItem));
    if (!rulesBox.children.length) rulesBox.append(h("p", { class: "muted" }, t("No rules yet: pick a tool and draw on the picture.")));
    syncJson();
  }
  function maskItem(m, i) {
    const kind = (m.kind || "permanent") === "liftable" ? t("liftable privacy mask") : t("permanent privacy mask");
    return h("div", { class: "item", "data-mask": m.id }, h("b", {}, m.id), " · " + (m.preset ? t("{kind} at preset {preset}", { kind, preset: m.preset }) : kind) + " · " + tn("{n} point", "{n} points", m.polygon.length) + " ",
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (await confirmDialog({ title: t("Remove privacy mask {id}?", { id: m.id }), text: t("The area is no longer hidden once you save."), ok: t("Remove"), danger: true })) { cam.masks.splice(i, 1); paint(); listRules(); }
      } }, t("Remove")));
  }
  async function addMask(shape) {  // a privacy mask: normalised points, an id and the PTZ preset it is drawn for
    const presets = (cam.ptz && cam.ptz.presets) || [];
    const fields = [{ name: "id", label: t("Mask id"), value: `mask-${(cam.masks || []).length + 1}`, pattern: "[A-Za-z0-9_.\\-]+", required: true, help: t("letters, digits, - _ .") }];
    if (presets.length) fields.push({ name: "preset", label: t("PTZ preset it is drawn for"), type: "select", value: cam.ptz.preset || "",
      options: [["", t("none (every position)")], ...presets.map(p => [p, p])] });
    const d = await formDialog({ title: tool === "liftable" ? t("New liftable privacy mask") : t("New privacy mask"), fields, ok: t("Add mask") });
    if (!d) { paint(); return; }
    if ((cam.masks || []).some(m => m.id === d.id)) { toast(t("There is already a mask '{id}' on this camera.", { id: d.id }), { kind: "error" }); paint(); return; }
    const polygon = shape.map(p => [+(p[0] / cam.detect.width).toFixed(4), +(p[1] / cam.detect.height).toFixed(4)]);
    (cam.masks ||= []).push({ id: d.id, polygon, kind: tool, preset: d.preset || null });
    paint(); listRules();
  }
  async function finish() {
    const need = tool === "line" ? 2 : 3;
    if (pts.length < need) { toast(tn("A {kind} needs at least {n} point.", "A {kind} needs at least {n} points.", need, { kind: TOOL_NAMES[tool]() })); return; }
    const shape = pts.map(p => [Math.round(p[0]), Math.round(p[1])]); pts = [];
    if (tool === "mask") { (cam.motion.masks ||= []).push(shape); paint(); listRules(); return; }
    if (tool === "permanent" || tool === "liftable") { await addMask(shape); return; }
    const fields = [
      { name: "id", label: t("Rule id"), value: `${tool}-${(cam.rules || []).length + 1}`, pattern: "[A-Za-z0-9_.\\-]+", required: true, help: t("letters, digits, - _ .") },
      { name: "purpose", label: t("Purpose (why it exists; shown in reports)"), value: t("public safety"), minlength: 3, required: true }];
    if (tool === "dwell") fields.push({ name: "seconds", label: t("Seconds before a dwell event"), type: "number", value: 30, min: 1, max: 86400, required: true });
    if (tool === "crowd") fields.push({ name: "max_count", label: t("More than how many people"), type: "number", value: 10, min: 1, required: true });
    if (tool === "line") fields.push({ name: "direction", label: t("Count crossings"), type: "select", value: "any", options: [["any", t("both ways")], ["a_to_b", t("A side → B side")], ["b_to_a", t("B side → A side")]] });
    const d = await formDialog({ title: t("New {kind} rule", { kind: TOOL_NAMES[tool]() }), fields, ok: t("Add rule") });
    if (!d) { paint(); return; }
    if ((cam.rules || []).some(r => r.id === d.id)) { toast(t("There is already a rule '{id}' on this camera.", { id: d.id }), { kind: "error" }); paint(); return; }
    const rule = { id: d.id, type: tool, purpose: d.purpose, classes: ["person"] };
    if (tool === "line") { rule.line = shape; rule.direction = d.direction; } else rule.polygon = shape;
    if (tool === "dwell") rule.seconds = d.seconds;
    if (tool === "crowd") rule.max_count = d.max_count;
    (cam.rules ||= []).push(rule);
    paint(); listRules();
  }

  // ---- saving: issues are shown next to their field and in a list
  function showIssues(list_) {
    el.querySelectorAll(".field-issue").forEach(n => { n.textContent = ""; });
    inputs.forEach(i => i.removeAttribute("aria-invalid"));
    issues.replaceChildren(...list_.map(i => h("li", {}, i.path ? `${i.path}: ${i.message || i.msg}` : (i.message || i.msg))));
    for (const i of list_) {
      const input = inputs.find(x => x.dataset.path === i.path);
      if (input) { input.setAttribute("aria-invalid", "true"); input.closest("details").open = true; el.querySelector(`.field-issue[data-for="${CSS.escape(i.path)}"]`).textContent = i.message; }
    }
  }
  async function save(dryRun = false) {
    fromForm(); syncJson(); showIssues([]); status.textContent = "";
    try {
      const r = await api(`/api/config/cameras/${encodeURIComponent(cam.id)}${dryRun ? "?dry_run=true" : ""}`, { method: "PUT", body: cam });
      if (r.pending_change) {  // weaker redaction or other retention: a second admin or an auditor must approve
        status.className = "small"; status.textContent = t("Not applied yet: {reasons}. It waits for another admin or an auditor (Users page).", { reasons: r.pending_change.reasons.join("; ") });
        return;
      }
      cam = r.camera; syncJson(); listRules(); paint();
      status.className = "small ok";
      status.textContent = dryRun ? t("Valid.") : (r.saved && r.applied ? t("Saved to the config file and applied to this camera.") : r.saved ? t("Saved to the config file.") : r.applied ? t("Saved and applied to this camera.") : t("Saved."))
        + (r.apply_error ? " " + t("Apply failed: {error}", { error: r.apply_error }) : "");
    } catch (x) {
      status.className = "small error"; status.textContent = t("Not saved: the configuration has problems.");
      showIssues((x.body && (x.body.issues || (x.body.detail && x.body.detail.issues))) || [{ path: "", message: x.message }]);
    }
  }
  async function newCamera(prefill = {}) {
    const d = await formDialog({ title: t("Add a camera"), ok: t("Add camera"), fields: [
      { name: "id", label: t("Camera id"), pattern: "[A-Za-z0-9_\\-]+", required: true, help: ID_HELP(), value: prefill.id || "" },
      { name: "url", label: t("Record stream URL (rtsp://… or a file path)"), required: true, value: prefill.url || "" },
      { name: "purpose", label: t("Purpose of this camera"), value: t("public safety"), minlength: 3, required: true },
      { name: "onvif", label: t("ONVIF device address (optional)"), value: prefill.onvif || "" }] });
    if (!d) return;
    const body = { id: d.id, purpose: d.purpose, streams: { record: d.url } };
    if (d.onvif) body.onvif = d.onvif;
    if (prefill.manufacturer) { body.manufacturer = prefill.manufacturer; body.model = prefill.model; }
    try { const r = await api("/api/config/cameras", { method: "POST", body }); toast(r.pending_change ? t("The new camera waits for another admin or an auditor.") : t("Camera added.")); if (!r.pending_change) go("configure/" + encodeURIComponent(d.id)); }
    catch (x) { const l = (x.body && x.body.issues) || []; toast(t("Not added: {issues}", { issues: l.map(i => `${i.path}: ${i.message}`).join("; ") || x.message }), { kind: "error", ms: 10000 }); }
  }
  async function discoverCameras() {
    const d = await formDialog({ title: t("Find ONVIF cameras"), text: t("Sends a WS-Discovery probe on the local network, or to one address on another subnet."), ok: t("Search"),
      fields: [{ name: "address", label: t("One IPv4 address (optional)"), pattern: "[0-9.]{7,15}", required: false }] });
    if (!d) return;
    discoverBox.replaceChildren(h("p", { class: "muted" }, t("Searching…")));
    try {
      const found = await api("/api/ptz/discover", { method: "POST", body: d.address ? { address: d.address } : {} });
      discoverBox.replaceChildren(h("h2", {}, tn("{n} ONVIF camera found", "{n} ONVIF cameras found", found.length)), h("table", {},
        h("thead", {}, h("tr", {}, ...[t("Address"), t("Manufacturer"), t("Model"), t("Firmware"), ""].map(x => h("th", {}, x)))),
        h("tbody", {}, ...found.map(f => h("tr", {}, h("td", { class: "mono small" }, f.address), h("td", {}, f.device.Manufacturer || f.device.error || ""),
          h("td", {}, f.device.Model || ""), h("td", {}, f.device.FirmwareVersion || ""),
          h("td", {}, h("button", { type: "button", onclick: () => newCamera({ onvif: f.address, manufacturer: f.device.Manufacturer, model: f.device.Model }) }, t("Add as camera"))))))));
    } catch (x) { discoverBox.replaceChildren(h("p", { class: "error" }, x.message)); }
  }
  listRules(); paint(); syncJson();
}
