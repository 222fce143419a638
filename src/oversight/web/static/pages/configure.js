// Configure: edit a camera, draw zones, lines and motion masks on a (redacted) snapshot with the
// mouse. The server validates exactly like `oversight check-config` and applies the change to
// that camera only.
export const title = "Configure";
export const permission = "config.manage";
const COLORS = { zone: "#5fb3a1", dwell: "#7fa7e0", crowd: "#c58be0", line: "#e0a84f", mask: "#e0625a", permanent: "#000000", liftable: "#808080" };
const TOOL_NAMES = { mask: "motion mask", permanent: "privacy mask", liftable: "liftable privacy mask" };

export async function render(el, ctx) {
  const { h, api, toast, args, go } = ctx;
  const list = await api("/api/config/cameras");
  const camSel = h("select", { "aria-label": "Camera", onchange: () => go("configure/" + encodeURIComponent(camSel.value)) },
    ...list.map(c => h("option", { value: c.id, selected: c.id === args[0] }, c.name || c.id)));
  const addBtn = h("button", { type: "button", onclick: () => newCamera() }, "Add camera");
  el.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, title), camSel, addBtn));
  const area = h("div"); el.append(area);
  if (!list.length) { area.append(h("p", { class: "muted" }, "No cameras yet.")); return; }
  const id = args[0] || list[0].id;
  let cam = structuredClone(list.find(c => c.id === id) || list[0]);
  camSel.value = cam.id;

  const img = h("img", { alt: "Snapshot for drawing (redacted)" });
  const canvas = h("canvas", { tabindex: 0, "aria-label": "Drawing area: click to add points, double-click or Enter to finish, Esc to cancel" });
  const draw = h("div", { class: "draw" }, img, canvas);
  draw.style.setProperty("--ar", String(cam.detect.width / cam.detect.height));
  const issues = h("ul", { class: "issues" }), status = h("p", { class: "small" });
  let tool = "zone", pts = [];
  const tools = ["zone", "dwell", "crowd", "line", "mask", "permanent", "liftable"].map(t => h("button", { type: "button", "data-tool": t, onclick: () => { tool = t; pts = []; paint(); mark(); } }, TOOL_NAMES[t] || t));
  function mark() { tools.forEach(b => b.classList.toggle("on", b.dataset.tool === tool)); }
  const f = {
    name: h("input", { value: cam.name || "" }), purpose: h("input", { value: cam.purpose || "" }),
    record: h("input", { value: (cam.streams && cam.streams.record) || "" }), enabled: h("input", { type: "checkbox", checked: cam.enabled !== false }),
    fps: h("input", { type: "number", min: 0.5, max: 60, step: 0.5, value: cam.detect.fps }),
    faces: h("input", { type: "checkbox", checked: cam.redaction.faces }), persons: h("input", { type: "checkbox", checked: cam.redaction.persons }),
  };
  const json = h("textarea", { rows: 14, spellcheck: "false", "aria-label": "Camera configuration as JSON" });
  const rulesBox = h("div", { class: "list", style: "max-height:30vh" });
  area.append(h("div", { class: "cfg" },
    h("div", {}, h("div", { class: "toolbar" }, h("span", { class: "muted small" }, "Draw:"), ...tools,
      h("span", { class: "muted small" }, "click to add points · double-click or Enter to finish · Esc to cancel")), draw,
      h("h2", {}, "Rules and masks"), rulesBox),
    h("div", { class: "form panel" },
      h("label", {}, "Name", f.name), h("label", {}, "Purpose (required, shown in reports)", f.purpose),
      h("label", {}, "Record stream URL", f.record), h("label", {}, "Detection frames per second", f.fps),
      h("label", { style: "display:flex;gap:6px;align-items:center" }, f.enabled, "Enabled"),
      h("label", { style: "display:flex;gap:6px;align-items:center" }, f.faces, "Blur faces"),
      h("label", { style: "display:flex;gap:6px;align-items:center" }, f.persons, "Blur whole persons"),
      h("details", {}, h("summary", { class: "muted" }, "Advanced: full configuration (JSON)"), json),
      h("div", { class: "toolbar" }, h("button", { class: "primary", type: "button", onclick: () => save() }, "Save and apply"),
        h("button", { type: "button", onclick: () => save(true) }, "Validate only")), status, issues)));
  mark();

  img.src = `/api/config/cameras/${encodeURIComponent(cam.id)}/snapshot.jpg?ts=${Date.now()}`;
  img.onerror = () => { img.removeAttribute("src"); img.style.aspectRatio = `${cam.detect.width}/${cam.detect.height}`; status.textContent = "No picture from this camera yet; you can still draw."; paint(); };
  img.onload = paint;

  function fromForm() {
    cam.name = f.name.value.trim() || null; cam.purpose = f.purpose.value.trim(); cam.streams.record = f.record.value.trim();
    cam.enabled = f.enabled.checked; cam.detect.fps = +f.fps.value; cam.redaction.faces = f.faces.checked; cam.redaction.persons = f.persons.checked;
  }
  function syncJson() { json.value = JSON.stringify(cam, null, 2); }
  json.addEventListener("change", () => { try { cam = JSON.parse(json.value); paint(); listRules(); } catch { status.textContent = "The JSON does not parse."; } });
  Object.values(f).forEach(i => i.addEventListener("change", () => { fromForm(); syncJson(); }));

  function scale() { const r = canvas.getBoundingClientRect(); return [r.width / cam.detect.width, r.height / cam.detect.height, r]; }
  function poly(g, points, color, closed, sx, sy) {
    if (!points.length) return;
    g.beginPath(); g.moveTo(points[0][0] * sx, points[0][1] * sy);
    for (const p of points.slice(1)) g.lineTo(p[0] * sx, p[1] * sy);
    if (closed) { g.closePath(); g.fillStyle = color + "33"; g.fill(); }
    g.strokeStyle = color; g.lineWidth = 2; g.stroke();
    for (const p of points) { g.beginPath(); g.arc(p[0] * sx, p[1] * sy, 3, 0, 7); g.fillStyle = color; g.fill(); }
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
      g.fillStyle = "#fff"; g.fillText(rule.id, pts_[0][0] * sx + 6, pts_[0][1] * sy - 6);
    }
    poly(g, pts, "#ffffff", false, sx, sy);
  }
  function listRules() {
    rulesBox.replaceChildren(...(cam.rules || []).map((r, i) => h("div", { class: "item" }, h("b", {}, r.id), ` · ${r.type} · `, h("span", { class: "muted" }, r.purpose), " ",
      alerting(r), " ",
      h("button", { type: "button", class: "danger", onclick: () => { cam.rules.splice(i, 1); paint(); listRules(); syncJson(); } }, "Remove"))),
      ...(cam.motion.masks || []).map((m, i) => h("div", { class: "item" }, `motion mask ${i + 1} (${m.length} points) `,
        h("button", { type: "button", class: "danger", onclick: () => { cam.motion.masks.splice(i, 1); paint(); listRules(); syncJson(); } }, "Remove"))),
      ...(cam.masks || []).map((m, i) => h("div", { class: "item" }, h("b", {}, m.id), ` · ${m.kind || "permanent"} privacy mask${m.preset ? " at preset " + m.preset : ""} · ${m.polygon.length} points `,
        h("button", { type: "button", class: "danger", onclick: () => { cam.masks.splice(i, 1); paint(); listRules(); syncJson(); } }, "Remove"))));
    if (!rulesBox.children.length) rulesBox.append(h("p", { class: "muted" }, "No rules yet: pick a tool and draw on the picture."));
    syncJson();
  }
  // Which rules alert (and at which priority): every rule records events; only these raise alerts.
  function alerting(r) {
    const on = h("input", { type: "checkbox", checked: !!r.alert, "aria-label": `Rule ${r.id} raises alerts` });
    const prio = h("select", { "aria-label": `Priority of rule ${r.id}`, disabled: !r.alert },
      ["P1", "P2", "P3", "P4"].map(p => h("option", { value: p, selected: (r.priority || "P3") === p }, p)));
    on.addEventListener("change", () => {
      r.alert = on.checked;
      if (r.alert && r.type === "line" && r.alert_above == null) {
        r.alert_above = +(prompt("A counting line alerts above how many crossings an hour?", "100") || 100); r.per_minutes = 60;
      }
      listRules();
    });
    prio.addEventListener("change", () => { r.priority = prio.value; syncJson(); });
    const what = r.alert ? (r.type === "line" ? `alerts above ${r.alert_above} crossings / ${r.per_minutes || 60} min` : "alerts") : "events only";
    return h("label", { class: "small", style: "display:inline-flex;gap:4px;align-items:center" }, on, what, prio);
  }
  function finish() {
    const need = tool === "line" ? 2 : 3;
    if (pts.length < need) { toast(`A ${tool} needs at least ${need} points.`); return; }
    const shape = pts.map(p => [Math.round(p[0]), Math.round(p[1])]); pts = [];
    if (tool === "mask") { (cam.motion.masks ||= []).push(shape); }
    else if (tool === "permanent" || tool === "liftable") {
      const maskId = prompt("Id for the privacy mask (letters, digits, - _ .)", `mask-${(cam.masks || []).length + 1}`);
      if (!maskId) { paint(); return; }
      const presets = (cam.ptz && cam.ptz.presets) || [];
      const preset = presets.length ? prompt(`PTZ preset this mask is drawn for (${presets.join(", ")}; empty: every position)`, cam.ptz.preset || "") : "";
      const polygon = shape.map(p => [+(p[0] / cam.detect.width).toFixed(4), +(p[1] / cam.detect.height).toFixed(4)]);
      (cam.masks ||= []).push({ id: maskId, polygon, kind: tool, preset: preset || null });
    }
    else {
      const ruleId = prompt(`Id for the new ${tool} rule (letters, digits, - _ .)`, `${tool}-${(cam.rules || []).length + 1}`);
      if (!ruleId) { paint(); return; }
      const purpose = prompt("Purpose of this rule (why it exists; shown in reports)", "public safety") || "";
      const rule = { id: ruleId, type: tool, purpose, classes: ["person"] };
      if (tool === "line") rule.line = shape; else rule.polygon = shape;
      if (tool === "dwell") rule.seconds = +(prompt("Seconds before a dwell alert", "30") || 30);
      if (tool === "crowd") rule.max_count = +(prompt("Alert above how many people", "10") || 10);
      (cam.rules ||= []).push(rule);
    }
    paint(); listRules();
  }
  canvas.addEventListener("click", (e) => {
    const [sx, sy, r] = scale();
    pts.push([Math.min(cam.detect.width, Math.max(0, (e.clientX - r.left) / sx)), Math.min(cam.detect.height, Math.max(0, (e.clientY - r.top) / sy))]);
    if (tool === "line" && pts.length === 2) finish(); else paint();
  });
  canvas.addEventListener("dblclick", (e) => { e.preventDefault(); pts.pop(); finish(); });
  canvas.addEventListener("keydown", (e) => { if (e.key === "Enter") finish(); else if (e.key === "Escape") { pts = []; paint(); } else if (e.key === "Backspace") { pts.pop(); paint(); } });
  window.addEventListener("resize", paint); ctx.onCleanup(() => window.removeEventListener("resize", paint));

  async function save(dryRun = false) {
    fromForm(); syncJson(); issues.replaceChildren(); status.textContent = "";
    try {
      const r = await api(`/api/config/cameras/${encodeURIComponent(cam.id)}${dryRun ? "?dry_run=true" : ""}`, { method: "PUT", body: cam });
      if (r.pending_change) {  // weaker redaction or other retention: a second admin or an auditor must approve
        status.className = "small"; status.textContent = `Not applied yet: ${r.pending_change.reasons.join("; ")}. It waits for another admin or an auditor (Users page).`;
        return;
      }
      cam = r.camera; syncJson(); listRules(); paint();
      status.className = "small ok";
      status.textContent = dryRun ? "Valid." : `Saved${r.saved ? " to the config file" : ""}${r.applied ? " and applied to this camera" : ""}.${r.apply_error ? " Apply failed: " + r.apply_error : ""}`;
    } catch (x) {
      status.className = "small error"; status.textContent = "Not saved: the configuration has problems.";
      const list_ = (x.body && (x.body.issues || (x.body.detail && x.body.detail.issues))) || [{ path: "", message: x.message }];
      issues.replaceChildren(...list_.map(i => h("li", {}, i.path ? `${i.path}: ${i.message || i.msg}` : (i.message || i.msg))));
    }
  }
  async function newCamera() {
    const newId = prompt("Id of the new camera (letters, digits, - _)"); if (!newId) return;
    const url = prompt("Record stream URL (rtsp://… or a file path)"); if (!url) return;
    const purpose = prompt("Purpose of this camera", "public safety") || "";
    try { const r = await api("/api/config/cameras", { method: "POST", body: { id: newId, purpose, streams: { record: url } } }); toast(r.pending_change ? "The new camera waits for another admin or an auditor." : "Camera added."); if (!r.pending_change) go("configure/" + encodeURIComponent(newId)); }
    catch (x) { const l = (x.body && x.body.issues) || []; toast("Not added: " + (l.map(i => `${i.path}: ${i.message}`).join("; ") || x.message), { kind: "error", ms: 10000 }); }
  }
  listRules(); paint();
}
