// Call intake: what the caller says, where, and what kind of incident. The call time is when this page
// opened, so the call-to-dispatch timer includes the time spent taking the call. The place: type an
// address (looked up offline in the city's gazetteer, lib/addressfinder.js) and confirm the match
// shown on the map, click the map, or type coordinates.
import { ensureCss, label, typeLabel } from "./incidents-common.js";
import { addressFinder } from "../lib/addressfinder.js";
import { t, tn } from "../lib/i18n.js";

export const title = t("Call intake");
export const permission = "incidents.manage";

export async function render(el, ctx) {
  ensureCss();
  const { h, api, go, toast } = ctx;
  const openedAt = new Date();
  const cat = await api("/api/incidents/catalogue");
  const f = (name, attrs = {}) => h("input", { name, id: "call-" + name, ...attrs });
  const type = h("select", { name: "type", id: "call-type", required: true },
    h("option", { value: "" }, t("— choose —")), ...cat.types.map(t => h("option", { value: t.id, dataset: { priority: t.priority } }, typeLabel(t.label))));
  const priority = h("select", { name: "priority", id: "call-priority" }, ...cat.priorities.map(p => h("option", { value: p.id }, p.id)));
  type.addEventListener("change", () => { const o = type.selectedOptions[0]; if (o && o.dataset.priority) priority.value = o.dataset.priority; });
  const district = cat.districts.length
    ? h("select", { name: "district", id: "call-district" }, h("option", { value: "" }, t("(from location)")), ...cat.districts.map(d => h("option", { value: d.id }, d.name)))
    : null;
  const err = h("div", { class: "err", role: "alert", id: "call-error" });
  const place = (lat, lon, text) => {  // a confirmed match or a map click fills the location fields
    fields.lat.value = String(lat); fields.lon.value = String(lon);
    if (text) fields.address.value = text;
  };
  const fields = {
    address: f("address", { placeholder: t("Street, landmark, what the caller sees"), maxlength: 500 }),
    lat: f("lat", { inputmode: "decimal", placeholder: "52.0000" }), lon: f("lon", { inputmode: "decimal", placeholder: "5.0000" }),
    x: f("x", { inputmode: "decimal", placeholder: "0..1" }), y: f("y", { inputmode: "decimal", placeholder: "0..1" }),
    caller_name: f("caller_name", { maxlength: 128, autocomplete: "off" }), caller_phone: f("caller_phone", { maxlength: 64, autocomplete: "off" }),
  };
  const finder = addressFinder(ctx, fields.address, place);
  const account = h("textarea", { name: "caller_account", id: "call-account", rows: 4, maxlength: 5000, placeholder: t("In the caller's words") });
  const description = h("textarea", { name: "description", id: "call-description", rows: 2, maxlength: 5000 });
  const submit = h("button", { type: "submit", class: "primary", id: "call-submit" }, t("Create incident (Ctrl+Enter)"));
  const form = h("form", { class: "intake panel", novalidate: true },
    h("label", {}, t("Type"), type), h("label", {}, t("Priority"), priority),
    h("label", { class: "wide" }, t("Caller's account"), account),
    h("label", { class: "wide" }, t("Address / location"), fields.address), finder.box,
    h("label", {}, t("Latitude"), fields.lat), h("label", {}, t("Longitude"), fields.lon),
    h("label", {}, t("Site plan x"), fields.x), h("label", {}, t("Site plan y"), fields.y),
    district ? h("label", {}, t("District"), district) : null,
    h("label", {}, t("Caller name"), fields.caller_name), h("label", {}, t("Callback number"), fields.caller_phone),
    h("label", { class: "wide" }, t("Description / notes for units"), description),
    err, h("div", { class: "wide actions-row" }, submit, h("a", { href: "#/incidents", class: "btn" }, t("Cancel"))));
  el.append(h("h1", {}, title), form);
  type.focus();
  finder.mount();

  const num = (v) => (v.trim() === "" ? null : Number(v.replace(",", ".")));
  form.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault(); err.textContent = "";
    if (!type.value) { err.textContent = t("Choose the type of incident."); type.focus(); return; }
    const body = {
      type: type.value, priority: priority.value, address: fields.address.value || null,
      lat: num(fields.lat.value), lon: num(fields.lon.value), x: num(fields.x.value), y: num(fields.y.value),
      caller_name: fields.caller_name.value || null, caller_phone: fields.caller_phone.value || null,
      caller_account: account.value || null, description: description.value, reported_at: openedAt.toISOString(),
      district: district && district.value ? district.value : null,
    };
    for (const k of ["lat", "lon", "x", "y"]) if (Number.isNaN(body[k])) { err.textContent = t("{field} must be a number.", { field: label(k) }); return; }
    submit.disabled = true;
    try {
      const inc = await api("/api/incidents", { method: "POST", body });
      toast(t("Incident #{id} created.", { id: inc.id }));
      go("incidents/" + inc.id);
    } catch (x) {
      err.textContent = Array.isArray(x.detail) ? x.detail.map(d => `${d.loc.slice(-1)[0]}: ${d.msg}`).join("; ") : x.message;
    } finally { submit.disabled = false; }
  });
}
