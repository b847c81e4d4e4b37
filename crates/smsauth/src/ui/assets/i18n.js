// The pages' texts come from the server's catalogues (src/i18n/locales/<locale>.json): one file
// per locale holds every page text and every server message, with {{name}} placeholders. The
// list of locales, with each one's own name, is loaded first; a locale's texts on first use.
const index = await (await fetch('/assets/i18n/index.json')).json();

export const LOCALES = index.map((entry) => entry.locale);
export const NAMES = Object.fromEntries(index.map((entry) => [entry.locale, entry.name]));
export const MESSAGES = {};

/** Loads the texts of `locale` (once). */
export async function load(locale) {
  if (!MESSAGES[locale]) {
    const resp = await fetch(`/assets/i18n/${locale}.json`);
    MESSAGES[locale] = resp.ok ? await resp.json() : {};
  }
  return MESSAGES[locale];
}
