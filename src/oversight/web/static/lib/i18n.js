// The UI's language: t()/tn() look the English text up in the server's gettext catalogue (the same
// .po files as the server's, served as JSON by /api/i18n/catalog), and every date, time and number on
// a screen is written by the helpers below in the user's locale and the SITE's time zone.
// New strings: wrap them in t("English text", { name: value }) and run `oversight i18n extract`.
export const i18n = { locale: "en", lang: "en", format: "en", timezone: "UTC", messages: {} };

export async function loadCatalog(locale = null) {
  const url = "/api/i18n/catalog" + (locale ? "?locale=" + encodeURIComponent(locale) : "");
  try {
    const res = await fetch(url, { credentials: "same-origin" });
    if (res.ok) Object.assign(i18n, await res.json());
  } catch { /* offline: English, as written in the code */ }
  document.documentElement.lang = i18n.lang;
  // dates and numbers: the browser's own regional variant of the UI's language (en-GB, es-MX) when it
  // has one, else the catalogue's (es-AR, en)
  const base = i18n.lang.split("-")[0];
  i18n.format = (navigator.languages || []).find(l => l.split("-")[0] === base && (i18n.lang === base || l === i18n.lang)) || i18n.lang;
  return i18n;
}

function fill(text, vars) {
  return vars ? text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : text;
}

// t("Disk free {free}", { free }) -> the translation with the placeholders filled in
export function t(msgid, vars) {
  const found = i18n.messages[msgid];
  return fill(typeof found === "string" ? found : msgid, vars);
}

let plural = null;
// tn("{n} camera", "{n} cameras", n): the plural category comes from the browser's Intl.PluralRules
export function tn(singular, pluralText, n, vars = {}) {
  if (!plural || plural.resolvedOptions().locale !== i18n.lang) plural = new Intl.PluralRules(i18n.lang);
  const cat = plural.select(n), found = i18n.messages[singular];
  const text = found && typeof found === "object" ? (found[cat] ?? found.other) : (cat === "one" ? singular : pluralText);
  return fill(text, { n: fmtNumber(n), ...vars });
}

const numCache = {};
export function fmtNumber(n, opts = {}) {
  if (n === null || n === undefined || Number.isNaN(n)) return "";
  const key = i18n.format + JSON.stringify(opts);
  return (numCache[key] ||= new Intl.NumberFormat(i18n.format, opts)).format(n);
}

// the language names shown in the language menu, each in its own language
export function languageName(code) {
  const tag = code.replace("_", "-");
  try { return new Intl.DisplayNames([tag], { type: "language" }).of(tag); } catch { return code; }
}

// role names as shown (the API speaks the table's keys)
export function roleName(role) {
  return { viewer: t("viewer"), operator: t("operator"), supervisor: t("supervisor"), auditor: t("auditor"), admin: t("admin") }[role] || role;
}
