// Who receives an evidence export: the published categories (the same list as
// src/oversight/privacy/recipients.py; tests/test_export_recipients.py compares them) and the one
// pair of fields every export entry point asks with: a required category, an optional reference.
import { t } from "./i18n.js";

export const RECIPIENTS = ["court", "prosecutor", "police", "defence", "data_subject", "public_body", "internal"];

export function recipientLabel(key) {
  return ({
    court: t("Court or judge"), prosecutor: t("Prosecutor"), police: t("Police"), defence: t("Defence"),
    data_subject: t("The person filmed (access request)"), public_body: t("Other public body"),
    internal: t("Internal use"), not_recorded: t("Not recorded (before categories)"),
  })[key] || key;
}

// { recipient: <select name=recipient required>, recipientRef: <input name=recipient_ref> }, built with `h`.
export function recipientFields(h) {
  const recipient = h("select", { name: "recipient", required: true, "aria-label": t("Recipient") },
    h("option", { value: "" }, t("Who receives it?")), ...RECIPIENTS.map(k => h("option", { value: k }, recipientLabel(k))));
  const recipientRef = h("input", { name: "recipient_ref", maxlength: 128, "aria-label": t("Recipient reference"),
    placeholder: t("Case number or authority (kept inside, never published)") });
  return { recipient, recipientRef };
}

// The category, and the reference (null when empty), as the export API takes them.
export function recipientBody({ recipient, recipientRef }) {
  return { recipient: recipient.value, recipient_ref: recipientRef.value.trim() || null };
}
