// Modal dialogs on the native <dialog> element instead of window.prompt/confirm/alert: they carry
// labelled fields with the browser's own validation, never block the page's timers and sockets,
// and build every node with createElement (no innerHTML; the CSP allows no inline script or style).
// Each returns a Promise: the field values (or true) when confirmed, null when cancelled.
import { t } from "./i18n.js";

function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") n.className = v; else n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) n.append(c instanceof Node ? c : String(c));
  return n;
}

// One input for a field spec: { name, label, type: text|number|select|checkbox|textarea, value,
// options: [[value, label]], required, min, max, step, pattern, help }.
function input(f) {
  const common = { name: f.name, id: "dlg-" + f.name, required: !!f.required, "aria-describedby": f.help ? "dlg-help-" + f.name : null };
  if (f.type === "select") {
    const s = el("select", common, ...(f.options || []).map(([v, l]) => el("option", { value: v }, l ?? v)));
    if (f.value !== undefined) s.value = String(f.value);
    return s;
  }
  if (f.type === "textarea") { const area = el("textarea", { ...common, rows: f.rows || 4 }); area.value = f.value ?? ""; return area; }
  if (f.type === "checkbox") { const c = el("input", { ...common, type: "checkbox", required: false }); c.checked = !!f.value; return c; }
  const i = el("input", { ...common, type: f.type || "text", min: f.min, max: f.max, step: f.step, pattern: f.pattern, placeholder: f.placeholder, minlength: f.minlength });
  if (f.value !== undefined && f.value !== null) i.value = String(f.value);
  return i;
}

function read(f, node) {
  if (f.type === "checkbox") return node.checked;
  if (f.type === "number") return node.value === "" ? null : Number(node.value);
  return node.value;
}

// The general form dialog: resolves to { name: value } or null.
export function formDialog({ title, text = "", fields = [], ok = t("OK"), cancel = t("Cancel"), danger = false }) {
  return new Promise((resolve) => {
    const inputs = fields.map(input);
    const rows = fields.map((f, i) => el("label", { class: f.type === "checkbox" ? "check" : null, for: inputs[i].id },
      f.type === "checkbox" ? [inputs[i], " ", f.label] : [f.label, inputs[i]],
      f.help ? el("span", { class: "small muted", id: "dlg-help-" + f.name }, f.help) : null));
    const okBtn = el("button", { type: "submit", class: danger ? "danger" : "primary", value: "ok" }, ok);
    const cancelBtn = el("button", { type: "button", value: "cancel" }, cancel);
    const form = el("form", { method: "dialog", class: "form" },
      el("h2", {}, title), text ? el("p", {}, text) : null, ...rows, el("div", { class: "toolbar" }, okBtn, cancelBtn));
    const dlg = el("dialog", { class: "dialog", "aria-label": title }, form);
    let result = null;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      result = Object.fromEntries(fields.map((f, i) => [f.name, read(f, inputs[i])]));
      dlg.close();
    });
    cancelBtn.addEventListener("click", () => dlg.close());
    dlg.addEventListener("close", () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
    (inputs[0] || okBtn).focus();
  });
}

// Yes/no: resolves to true or null.
export async function confirmDialog({ title, text, ok = t("OK"), cancel = t("Cancel"), danger = false }) {
  return (await formDialog({ title, text, ok, cancel, danger })) ? true : null;
}

// One value: resolves to the value or null.
export async function promptDialog({ title, text = "", label, value = "", type = "text", required = true, ...rest }) {
  const r = await formDialog({ title, text, fields: [{ name: "value", label, value, type, required, ...rest }] });
  return r ? r.value : null;
}

// A message with one button.
export async function messageDialog({ title, text, ok = t("Close") }) {
  return new Promise((resolve) => {
    const btn = el("button", { type: "submit", class: "primary" }, ok);
    const dlg = el("dialog", { class: "dialog", "aria-label": title }, el("form", { method: "dialog", class: "form" }, el("h2", {}, title), el("p", {}, text), btn));
    dlg.addEventListener("close", () => { dlg.remove(); resolve(true); });
    document.body.append(dlg); dlg.showModal(); btn.focus();
  });
}
