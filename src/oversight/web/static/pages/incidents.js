// Incidents: the open list (#/incidents) and one incident (#/incidents/<id>): status steps, response
// timers with live overdue highlight, recommended unit (confirm or pick another), nearest cameras live
// (redacted MJPEG), footage holds, notes and the full timeline. Updates arrive over the WebSocket.
import { showOnWall } from "../lib/console.js";
import { formDialog } from "../lib/dialog.js";
import { ensureCss, STATUSES, label, typeLabel, stepLabel, fmtDur, elapsed, isOverdue, pill, prio, put } from "./incidents-common.js";
import { t, tn, fmtNumber } from "../lib/i18n.js";

export const title = t("Incidents");
export const permission = "incidents.read";

export async function render(el, ctx) {
  ensureCss();
  if (ctx.args[0]) return renderIncident(el, ctx, Number(ctx.args[0]));
  return renderList(el, ctx);
}

async function renderList(el, ctx) {
  const { h, api, go, fmtTime, onMessage, onCleanup, me, can } = ctx;
  const canWrite = can(me, "incidents.manage");
  const showAll = h("input", { type: "checkbox", id: "inc-show-all" });
  const body = h("tbody");
  const count = h("span", { class: "muted" });
  el.append(
    h("div", { class: "toolbar" }, h("h1", {}, title), count, h("span", { class: "spacer" }),
      h("label", { class: "actions-row" }, showAll, t("Show closed")),
      canWrite ? h("a", { class: "btn primary", href: "#/call", id: "new-call" }, t("New call (c)")) : null,
      h("a", { class: "btn", href: "#/response-times" }, t("Response times"))),
    h("table", { class: "inc-list", "aria-label": t("Incidents") },
      h("thead", {}, h("tr", {}, ...["#", t("Type"), t("Priority"), t("Status"), t("Location"), t("Reported"), t("Units"), t("Total response")].map(x => h("th", {}, x)))),
      body));
  let items = [];
  async function load() {
    items = await api("/api/incidents?status=" + (showAll.checked ? "all" : "open"));
    draw();
  }
  function draw() {
    count.textContent = showAll.checked ? String(items.length) : t("{n} open", { n: items.length });
    put(body, ...items.map(i => {
      const total = i.timers.find(t => t.step === "total");
      const tr = h("tr", { tabindex: 0, dataset: { id: i.id }, onclick: () => go("incidents/" + i.id),
        onkeydown: (e) => { if (e.key === "Enter") go("incidents/" + i.id); } },
        h("td", { class: "mono" }, "#" + i.id), h("td", {}, typeLabel(i.type_label)), h("td", {}, prio(h, i.priority)),
        h("td", {}, pill(h, i.status)), h("td", {}, i.location.address || coords(i.location)),
        h("td", { class: "mono" }, fmtTime(i.reported_at)), h("td", { class: "units mono" }, (i.units || []).join(", ")),
        h("td", { class: "mono total" }, fmtDur(elapsed(total))));
      tr.classList.toggle("overdue", i.timers.some(t => isOverdue(t)));
      return tr;
    }));
    if (!items.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, t("No open incidents."))));
  }
  showAll.addEventListener("change", load);
  const timer = setInterval(() => {
    for (const tr of body.querySelectorAll("tr[data-id]")) {
      const i = items.find(x => x.id === Number(tr.dataset.id)); if (!i) continue;
      tr.querySelector("td.total").textContent = fmtDur(elapsed(i.timers.find(t => t.step === "total")));
      tr.classList.toggle("overdue", i.timers.some(t => isOverdue(t)));
    }
  }, 1000);
  onCleanup(() => clearInterval(timer));
  onCleanup(onMessage((m) => { if (m.topic === "incident") load(); }));
  const keys = (e) => { if (e.target.closest("input, textarea, select")) return; if (e.key === "c" && canWrite) go("call"); };
  document.addEventListener("keydown", keys); onCleanup(() => document.removeEventListener("keydown", keys));
  await load();
}

function coords(l) {
  if (l.lat !== null && l.lat !== undefined) return `${l.lat.toFixed(5)}, ${l.lon.toFixed(5)}`;
  if (l.x !== null && l.x !== undefined) return t("plan {x}, {y}", { x: l.x.toFixed(2), y: l.y.toFixed(2) });
  return "";
}

async function renderIncident(el, ctx, id) {
  const { h, api, toast, fmtTime, onMessage, onCleanup, me, go, can } = ctx;
  const canWrite = can(me, "incidents.manage");
  const canFootage = can(me, "footage.live");
  let inc = null, catalogue = null;
  const head = h("div", { class: "inc-head" });
  const steps = h("ol", { class: "steps", "aria-label": t("Status") });
  const actions = h("div", { class: "actions-row", id: "status-actions" });
  const timersBody = h("tbody");
  const dispatchBox = h("div", { id: "dispatch" });
  const assigned = h("div", { id: "assigned" });
  const camsBox = h("div", { class: "cams", id: "cams" });
  const snap = h("div");
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const details = h("div", { class: "small" });
  const noteInput = h("input", { placeholder: t("Add a note (Enter)"), maxlength: 5000, "aria-label": t("Note"), id: "note" });
  noteInput.addEventListener("keydown", async (e) => {
    if (e.key !== "Enter" || !noteInput.value.trim()) return;
    try { inc = await api(`/api/incidents/${id}/notes`, { method: "POST", body: { text: noteInput.value } }); noteInput.value = ""; draw(); }
    catch (x) { toast(x.message, { kind: "error" }); }
  });
  el.append(
    h("div", { class: "toolbar" }, h("a", { href: "#/incidents" }, t("← Incidents")), h("span", { class: "spacer" }),
      h("span", { class: "muted small" }, h("kbd", {}, "d"), t(" dispatch recommended · "), h("kbd", {}, "n"), t(" next status · "), h("kbd", {}, "/"), t(" note"))),
    head, steps, actions,
    h("div", { class: "inc-grid" },
      h("section", { class: "panel" }, h("h2", {}, t("Response timers")),
        h("table", { class: "timers", id: "timers" }, h("thead", {}, h("tr", {}, h("th", {}, t("Step")), h("th", {}, t("Elapsed")), h("th", {}, t("Target")))), timersBody),
        h("h2", {}, t("Units")), dispatchBox, assigned),
      h("section", { class: "panel" }, h("h2", {}, t("Nearest cameras (live, redacted)")), camsBox, snap,
        h("h2", {}, t("Details")), details),
      h("section", { class: "panel" }, h("h2", {}, t("Timeline")), canWrite ? noteInput : null, timeline)));

  async function load() {
    try { inc = await api(`/api/incidents/${id}`); }
    catch (x) { el.replaceChildren(h("p", { class: "error" }, x.message)); return; }
    draw();
  }

  function draw() {
    put(head, h("h1", {}, `#${inc.id} ${typeLabel(inc.type_label)}`), prio(h, inc.priority), pill(h, inc.status),
      h("span", { class: "muted" }, inc.location.address || coords(inc.location)),
      inc.district ? h("span", { class: "muted" }, t("district {district}", { district: inc.district })) : null,
      h("span", { class: "muted small" }, t("reported {time} via {source}", { time: fmtTime(inc.reported_at), source: inc.source })));
    const cur = STATUSES.indexOf(inc.status);
    put(steps, ...STATUSES.map((s, i) => h("li", { class: i < cur ? "done" : i === cur ? "current" : "" }, label(s),
      h("time", {}, inc[(s === "new" ? "reported" : s) + "_at"] ? fmtTime(inc[(s === "new" ? "reported" : s) + "_at"], { date: false }) : ""))));
    drawActions(cur);
    drawTimers();
    drawUnits();
    drawCams();
    put(details, 
      inc.description ? h("p", {}, inc.description) : null,
      inc.caller.account ? h("p", {}, h("span", { class: "muted" }, t("Caller: ")), inc.caller.account) : null,
      inc.caller.name || inc.caller.phone ? h("p", { class: "muted" }, [inc.caller.name, inc.caller.phone].filter(Boolean).join(" · ")) : null,
      inc.clips.length ? h("div", {}, h("div", { class: "muted" }, t("Footage on hold:")),
        h("ul", {}, ...inc.clips.map(c => h("li", { class: "mono" }, `${c.camera_id} ${fmtTime(c.start, { date: false })}–${fmtTime(c.end, { date: false })} (${t("hold #{id}", { id: c.hold_id })})${c.note ? " · " + c.note : ""}`)))) : null,
      inc.disposition ? h("p", {}, t("Disposition: {disposition}", { disposition: label(inc.disposition) })) : null,
      inc.status === "closed" && inc.clips.length && can(me, "holds.release")
        ? h("button", { type: "button", id: "release-holds", onclick: releaseHolds }, t("Release evidence holds…")) : null,
      canWrite && inc.status !== "closed" ? prioritySelect() : null);
    put(timeline, ...inc.timeline.slice().reverse().map(e => h("li", {},
      h("time", { title: e.at }, fmtTime(e.at, { date: false })), h("span", {}, h("span", { class: "actor" }, e.actor), " ", e.message))));
  }

  // Holds outlive the incident: a supervisor releases them, saying why (audited).
  async function releaseHolds() {
    const r = await formDialog({ title: t("Release the evidence holds of incident #{id}?", { id }), danger: true, ok: t("Release"),
      text: t("Retention may then delete this footage. Say why it is no longer needed."),
      fields: [{ name: "reason", label: t("Reason"), type: "textarea", required: true, minlength: 10 }] });
    if (!r) return;
    try { inc = await api(`/api/incidents/${id}/holds/release`, { method: "POST", body: { reason: r.reason } }); draw(); toast(tn("{n} hold released.", "{n} holds released.", inc.released)); }
    catch (x) { toast(x.message, { kind: "error" }); }
  }

  function prioritySelect() {
    const sel = h("select", { "aria-label": t("Priority"), id: "priority" }, ...["P1", "P2", "P3", "P4"].map(p => h("option", { value: p, selected: p === inc.priority }, p)));
    sel.addEventListener("change", async () => {
      try { inc = await api(`/api/incidents/${id}`, { method: "PATCH", body: { priority: sel.value } }); draw(); }
      catch (x) { toast(x.message, { kind: "error" }); }
    });
    return h("label", { class: "actions-row" }, t("Priority"), sel);
  }

  function drawActions(cur) {
    put(actions, );
    if (!canWrite || inc.status === "closed") return;
    const next = STATUSES[cur + 1];
    if (next && next !== "dispatched" && next !== "closed") {
      actions.append(h("button", { type: "button", class: "primary", id: "next-status", onclick: () => advance(next) }, t("Mark {status} (n)", { status: label(next) })));
    }
    if (inc.status === "cleared" || inc.status === "new") {
      const opts = (catalogue ? catalogue.dispositions : ["resolved"]).filter(d => inc.status === "cleared" || ["no_action", "false_alarm", "cancelled", "duplicate"].includes(d));
      const sel = h("select", { id: "disposition", "aria-label": t("Disposition") }, ...opts.map(d => h("option", { value: d }, label(d))));
      actions.append(h("label", { class: "actions-row" }, inc.status === "new" ? t("Cancel as") : t("Disposition"), sel),
        h("button", { type: "button", id: "close-incident", class: inc.status === "new" ? "danger" : "", onclick: () => advance("closed", sel.value) }, inc.status === "new" ? t("Close without dispatch") : t("Close incident")));
    }
  }

  async function advance(status, disposition) {
    try { inc = await api(`/api/incidents/${id}/status`, { method: "POST", body: { status, disposition } }); draw(); toast(t("Incident {status}.", { status: label(status) })); }
    catch (x) { toast(x.message, { kind: "error" }); }
  }

  function drawTimers() {
    const now = Date.now();
    put(timersBody, ...inc.timers.map(tm => {
      const e = elapsed(tm, now), over = isOverdue(tm, now);
      const tr = h("tr", { dataset: { step: tm.step }, class: [over ? "overdue" : "", tm.running ? "running" : "", !over && tm.end ? "met" : ""].filter(Boolean).join(" ") },
        h("td", {}, stepLabel(tm.step, tm.label)), h("td", { class: "elapsed" }, fmtDur(e)), h("td", {}, fmtDur(tm.target)));
      tr.title = over ? t("Overdue: target {target}", { target: fmtDur(tm.target) }) : tm.running ? t("Running") : "";
      return tr;
    }));
  }

  async function dispatch(unitId, recommended) {
    try {
      await api("/api/dispatch", { method: "POST", body: { incident_id: id, unit_id: unitId, recommended_unit_id: recommended || null } });
      toast(t("Unit {unit} dispatched.", { unit: unitId }));
      await load();
    } catch (x) { toast(x.message, { kind: "error", ms: 9000 }); await load(); }
  }

  async function unitStatus(unitId, status) {
    try { await api(`/api/units/${encodeURIComponent(unitId)}/status`, { method: "POST", body: { status } }); await load(); }
    catch (x) { toast(x.message, { kind: "error" }); }
  }

  const methodLabel = (m) => ({ table: t("travel table"), road: t("by road"), distance: t("straight line") }[m] || m);

  function drawUnits() {
    const r = inc.recommendation;
    put(dispatchBox, );
    if (r && canWrite) {
      const recId = r.recommended ? r.recommended.unit.id : null;
      if (r.recommended) {
        const c = r.recommended;
        dispatchBox.append(h("div", { class: "rec", id: "recommended", dataset: { unit: c.unit.id } },
          h("div", {}, h("div", { class: "muted small" }, t("Recommended (nearest available {types})", { types: r.suitable_types.map(label).join("/") })),
            h("div", { class: "who" }, `${c.unit.id} · ${label(c.unit.type)}`),
            h("div", { class: "muted small" }, (c.distance_m !== null ? `${fmtNumber(c.distance_m / 1000, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} km` : "") + (c.eta_s !== null ? ` · ~${fmtDur(c.eta_s)} (${methodLabel(c.method)})` : "")),
            h("div", { class: "muted small", id: "routing", dataset: { routing: r.routing } }, r.routing === "road" ? t("Travel times over the road network") : t("Travel times in a straight line (no road network configured)"))),
          h("button", { type: "button", class: "primary", id: "dispatch-recommended", onclick: () => dispatch(c.unit.id, c.unit.id) }, t("Dispatch (d)"))));
      } else {
        dispatchBox.append(h("p", { class: "muted" }, t("No suitable unit is available.")));
      }
      const others = r.candidates.filter(c => c.unit.id !== recId);
      if (others.length) {
        dispatchBox.append(h("details", {}, h("summary", {}, t("Pick another unit")),
          h("table", { class: "cand" }, h("tbody", {}, ...others.map(c => h("tr", {},
            h("td", { class: "mono" }, c.unit.id), h("td", {}, label(c.unit.type) + (c.suitable ? "" : " " + t("(not usual)"))),
            h("td", { class: "mono" }, c.distance_m !== null ? `${fmtNumber(c.distance_m / 1000, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} km` : "?"),
            h("td", {}, h("button", { type: "button", dataset: { unit: c.unit.id }, onclick: () => dispatch(c.unit.id, recId) }, t("Dispatch")))))))));
      }
    }
    const active = inc.assignments.filter(a => !a.released_at);
    put(assigned, active.length ? h("table", { id: "assigned-units" }, h("tbody", {}, ...active.map(a => {
      const st = a.on_scene_at ? "on_scene" : a.en_route_at ? "en_route" : "dispatched";
      const next = st === "dispatched" ? "en_route" : st === "en_route" ? "on_scene" : null;
      return h("tr", { dataset: { unit: a.unit_id } }, h("td", { class: "mono" }, a.unit_id), h("td", {}, pill(h, st)),
        h("td", {}, canWrite ? h("div", { class: "actions-row" },
          next ? h("button", { type: "button", class: "unit-next", onclick: () => unitStatus(a.unit_id, next) }, label(next)) : null,
          h("button", { type: "button", onclick: () => unitStatus(a.unit_id, "available") }, t("Release"))) : ""));
    }))) : h("p", { class: "muted small" }, inc.assignments.length ? t("All units released.") : t("No unit assigned yet.")));
  }

  let camsShown = "";
  function drawCams() {
    const key = inc.cameras.map(c => c.id).join(",") + inc.status;
    if (key === camsShown) return; // keep live streams running across redraws
    camsShown = key;
    put(camsBox, ...inc.cameras.map(c => h("figure", {},
      canFootage ? h("img", { src: c.live_url + "?fps=5", alt: t("Live view of {camera} (redacted)", { camera: c.name }), loading: "lazy" }) : h("div", { class: "muted small" }, t("Live video needs an operator or supervisor role.")),
      h("figcaption", {}, h("span", {}, `${c.name} · ${Math.round(c.distance_m)} m`),
        can(me, "footage.view") && inc.status !== "closed" ? h("button", { type: "button", class: "small", title: t("Hold the last 5 minutes of this camera as evidence"),
          onclick: () => attach(c.id) }, t("Hold last 5 min")) : null,
        h("button", { type: "button", class: "small", title: t("Put this camera on the wall"), onclick: () => showOnWall(c.id, ctx.go) }, t("Show on wall"))))));
    if (!inc.cameras.length) camsBox.append(h("p", { class: "muted small" }, t("No camera with a location near this incident.")));
    put(snap, inc.snapshot_url ? h("figure", {}, h("img", { class: "snapshot", src: inc.snapshot_url, alt: t("Alert snapshot (redacted)") }), h("figcaption", { class: "muted small" }, t("Alert snapshot · camera {camera}", { camera: inc.camera_id }))) : "");
  }

  async function attach(camId) {
    const end = new Date(), start = new Date(end.getTime() - 5 * 60000);
    try { await api(`/api/incidents/${id}/clips`, { method: "POST", body: { camera_id: camId, start: start.toISOString(), end: end.toISOString(), note: t("held from incident view") } }); toast(t("Footage held.")); await load(); }
    catch (x) { toast(x.message, { kind: "error" }); }
  }

  const tick = setInterval(() => { if (inc) drawTimers(); }, 1000);
  onCleanup(() => clearInterval(tick));
  onCleanup(onMessage((m) => {
    if ((m.topic === "incident" && m.data.id === id) || (m.topic === "unit" && inc && (m.data.unit.incident_id === id || inc.assignments.some(a => a.unit_id === m.data.id)))) load();
    else if (m.topic === "unit" && inc && inc.status !== "closed") load(); // availability changed: refresh recommendation
  }));
  const keys = (e) => {
    if (e.target.closest("input, textarea, select")) return;
    if (!canWrite || !inc) return;
    if (e.key === "d") { const b = document.getElementById("dispatch-recommended"); if (b) { e.preventDefault(); b.click(); } }
    else if (e.key === "n") { const b = document.getElementById("next-status"); if (b) { e.preventDefault(); b.click(); } }
    else if (e.key === "/") { e.preventDefault(); noteInput.focus(); }
  };
  document.addEventListener("keydown", keys); onCleanup(() => document.removeEventListener("keydown", keys));
  catalogue = await api("/api/incidents/catalogue").catch(() => null);
  await load();
  if (!inc) return;
  document.title = `#${inc.id} ${typeLabel(inc.type_label)} · Oversight`;
  void go;
}
