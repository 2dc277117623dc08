// The lot page's "Verify in this browser" panel (issue 12): the browser glue around
// ../verify/bundle.js. The auditor pastes (or has pinned) the log's C2SP vkey; the page fetches
// the lot's audit bundle from its own server and verifies it here, offline from the server's
// point of view: the log key is NEVER fetched from the server (a server able to forge a bundle
// could forge its key as well), it comes from the auditor or from this browser's localStorage.
//
// Served as a file (CSP `script-src 'self'`: no inline script, no external URL), loaded with
//   <script type="module" src="…/console/verify-page.js"></script>
// next to ../verify/*.js (relative imports). On DOMContentLoaded it wires
// <section id="browser-verify">; without that section it does nothing.
//
// The markup the server renders (tests/js/fixtures/verify-section.html holds the same text,
// and tests/js/verify-page.test.mjs checks both agree; the script's src depends on where the
// server mounts api/static):
//
// ----- markup -----
// <section id="browser-verify"
//     data-bundle-url="/console/lots/ENC-1/bundle"
//     data-lot="ENC-1"
//     data-label-valid="VALID"
//     data-label-invalid="INVALID"
//     data-label-error="ERROR"
//     data-label-http="(HTTP {status})"
//     data-label-verifying="Verifying…"
//     data-label-no-key="Paste the log's verifier key (vkey) first."
//     data-label-bad-key="Line {line} of the log key is not a valid vkey: {reason}"
//     data-label-pinned="This key was pinned in this browser earlier."
//     data-label-saved="The key is now pinned in this browser."
//     data-label-forgotten="The pinned key was removed from this browser."
//     data-label-checked="Lot {lot}: {total} entries checked, {passed} passed, against checkpoint {origin} (size {size}, root {root}…)."
//     data-label-unchecked="Lot {lot}: {total} entries, none checked: the bundle or its checkpoint did not verify."
//     data-label-entry="entry seq {seq} (event {event}…)"
//     data-label-entry-at="entry #{position}"
//     data-label-bundle="bundle"
//     data-label-warning="warning"
//     data-label-entry-ok="✓"
//     data-label-entry-failed="✗"
//     data-label-entry-unchecked="–"
//     data-label-network="The bundle could not be fetched: {reason}"
//     data-label-not-json="The server's answer is not a JSON bundle."
//     data-label-lot-mismatch="The bundle is for lot {bundle}, not for this page's lot {lot}."
//     data-label-crashed="The verifier stopped: {reason}"
//     data-label-no-crypto="This browser offers no Web Cryptography here (the page must be served over HTTPS): nothing was verified.">
//   <h2>Verify in this browser</h2>
//   <label for="log-vkey">The log's verifier key (C2SP vkey, one per line), from a source you trust</label>
//   <textarea id="log-vkey" rows="3" spellcheck="false" autocomplete="off"></textarea>
//   <p id="pinned-note" hidden></p>
//   <label><input type="checkbox" id="pin-key"> remember this key in this browser</label>
//   <button type="button" id="forget-key" hidden>Forget the remembered key</button>
//   <button type="button" id="verify-button">Verify in this browser</button>
//   <p id="verify-verdict" role="status" aria-live="polite"></p>
//   <p id="verify-summary"></p>
//   <ul id="verify-errors"></ul>
//   <table id="verify-entries" hidden>
//     <thead>
//       <tr><th scope="col">seq</th><th scope="col">type</th><th scope="col">actor</th><th scope="col">time</th><th scope="col">check</th></tr>
//     </thead>
//     <tbody></tbody>
//   </table>
// </section>
// <script type="module" src="/static/console/verify-page.js"></script>
// ----- end of markup -----
//
// Section attributes:
//   data-bundle-url  the bundle's URL (fetched same-origin with the session cookie, Accept JSON)
//   data-lot         the lot the page is about: a bundle of another lot is INVALID (lot_mismatch)
//   data-label-*     every visible string (English or Korean, rendered by the server); {name}
//                    placeholders are filled in, the result is set with textContent only:
//     valid, invalid, error   the verdict words (#verify-verdict, classes valid / invalid; an
//                             ERROR, when nothing could be verified, carries class invalid)
//     http                    appended to ERROR: {status}
//     verifying               the verdict while the bundle is fetched and verified
//     no-key                  the verdict when no key was pasted
//     bad-key                 the verdict when a key line does not parse: {line} {reason}
//     pinned, saved, forgotten  #pinned-note: a key was pinned earlier / now / was forgotten
//     checked                 #verify-summary: {lot} {total} {passed} {origin} {size} {root}
//     unchecked               #verify-summary when the checkpoint or bundle failed: {lot} {total}
//     entry                   names an entry in #verify-errors: {seq} {event} (12 hex of its hash)
//     entry-at                an entry without a readable seq: {position} (0-based)
//     bundle                  a finding about the whole bundle
//     warning                 prefix of a warning (data-level="warning" on its <li>)
//     entry-ok, entry-failed, entry-unchecked  the last cell of a #verify-entries row
//     network                 #verify-errors when fetch failed: {reason}
//     not-json                #verify-errors when the answer is not JSON
//     lot-mismatch            {bundle} {lot}
//     crashed                 the verifier threw (a bug): {reason}
//     no-crypto               #verify-errors when crypto.subtle is missing (not a secure context:
//                             WebCrypto needs HTTPS or localhost); nothing is fetched then
//   A missing data-label-* falls back to the English text of LABELS below.
// Finding messages themselves come from the verifier, in English.
//
// Pinned keys: localStorage["ltl.console.logVkeys"], a JSON array of vkey strings, written on
// verify when #pin-key is checked, removed by #forget-key.
//
// The DOM-free part is exported for tests (node --test tests/js/verify-page.test.mjs):
//   runVerification(bundleText, vkeyLines, {lot}) -> {verdict: "VALID"|"INVALID"|"ERROR",
//       summary, problems: [{seq, event, eventId, position, code, message, level}],
//       entries: [{position, seq, type, actor, time, hash, ok}]}
//   parseStoredKeys(text) -> [vkey, ...]; checkKeys(lines); problemText(problem, labels); fill().

import { verifyBundle } from "../verify/bundle.js";
import { b64decode, hex, sha256 } from "../verify/encoding.js";
import { canonicalBytes } from "../verify/jcs.js";
import { parseVkey } from "../verify/note.js";

export const STORAGE_KEY = "ltl.console.logVkeys";

/** The ids the module looks up inside the section. */
export const IDS = [
  "log-vkey", "pinned-note", "pin-key", "forget-key", "verify-button",
  "verify-verdict", "verify-summary", "verify-errors", "verify-entries",
];

/** Every data-label-* the module reads, with its English fallback. */
export const LABELS = {
  "valid": "VALID",
  "invalid": "INVALID",
  "error": "ERROR",
  "http": "(HTTP {status})",
  "verifying": "Verifying…",
  "no-key": "Paste the log's verifier key (vkey) first.",
  "bad-key": "Line {line} of the log key is not a valid vkey: {reason}",
  "pinned": "This key was pinned in this browser earlier.",
  "saved": "The key is now pinned in this browser.",
  "forgotten": "The pinned key was removed from this browser.",
  "checked": "Lot {lot}: {total} entries checked, {passed} passed, against checkpoint {origin} (size {size}, root {root}…).",
  "unchecked": "Lot {lot}: {total} entries, none checked: the bundle or its checkpoint did not verify.",
  "entry": "entry seq {seq} (event {event}…)",
  "entry-at": "entry #{position}",
  "bundle": "bundle",
  "warning": "warning",
  "entry-ok": "✓",
  "entry-failed": "✗",
  "entry-unchecked": "–",
  "network": "The bundle could not be fetched: {reason}",
  "not-json": "The server's answer is not a JSON bundle.",
  "lot-mismatch": "The bundle is for lot {bundle}, not for this page's lot {lot}.",
  "crashed": "The verifier stopped: {reason}",
  "no-crypto": "This browser offers no Web Cryptography here (the page must be served over HTTPS): nothing was verified.",
};

/** Replace each {name} of a template by String(values[name]) (unknown names stay as they are). */
export function fill(template, values = {}) {
  return String(template).replace(/\{([a-z]+)\}/g, (all, name) =>
    Object.hasOwn(values, name) && values[name] !== null && values[name] !== undefined ? String(values[name]) : all);
}

// ---------------------------------------------------------------- keys

/** The pinned keys from localStorage's text: an array of vkey strings, else [] (never throws). */
export function parseStoredKeys(text) {
  if (typeof text !== "string") return [];
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(value) || value.length === 0) return [];
  if (!value.every((k) => typeof k === "string" && k.trim() !== "")) return [];
  return value.map((k) => k.trim());
}

/**
 * Parse the pasted key lines (an array, or the textarea's text split at line ends). Blank lines
 * are skipped; line numbers count from 1 over all lines, as the auditor sees them.
 * -> {keys: [vkey text, ...], bad: [{line, reason}]}
 */
export async function checkKeys(vkeyLines) {
  const lines = typeof vkeyLines === "string" ? vkeyLines.split(/\r\n|\r|\n/) : Array.from(vkeyLines ?? []);
  const keys = [];
  const bad = [];
  for (const [i, raw] of lines.entries()) {
    const text = typeof raw === "string" ? raw.trim() : "";
    if (text === "") continue;
    try {
      await parseVkey(text);
      keys.push(text);
    } catch (e) {
      bad.push({ line: i + 1, reason: e.message });
    }
  }
  return { keys, bad };
}

// ---------------------------------------------------------------- verification

const scalar = (v) => (typeof v === "string" || (typeof v === "number" && Number.isFinite(v)) ? String(v) : "");
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

async function eventHash(event) {
  if (!isObject(event)) return null;
  try {
    return hex(await sha256(canonicalBytes(event)));
  } catch {
    return null; // not canonicalizable (e.g. a lone surrogate): the verifier reports the entry
  }
}

/** The bundle's entries as the table shows them, from whatever the partner sent. */
async function describeEntries(doc) {
  if (!isObject(doc) || !Array.isArray(doc.entries)) return [];
  const rows = [];
  for (const [position, entry] of doc.entries.entries()) {
    const ev = isObject(entry) && isObject(entry.event) ? entry.event : {};
    rows.push({
      position,
      seq: isObject(entry) && Number.isSafeInteger(entry.seq) && entry.seq >= 0 ? entry.seq : null,
      type: scalar(ev.type),
      actor: scalar(ev.actor),
      time: scalar(ev.time),
      id: typeof ev.id === "string" ? ev.id : null,
      hash: await eventHash(isObject(entry) ? entry.event : null),
      ok: null,
    });
  }
  return rows;
}

const errorOnly = (code, message, extra = {}) => ({
  verdict: "ERROR",
  summary: null,
  problems: [{ seq: null, event: null, eventId: null, position: null, code, message, level: "error", ...extra }],
  entries: [],
});

/**
 * Verify a bundle's text under the pasted vkeys, DOM-free. Never throws.
 *   verdict "VALID"   every check of verifyBundle passed (and the bundle is of options.lot, if given)
 *           "INVALID" a finding; each problem names its entry (seq, event hash) when it has one
 *           "ERROR"   nothing was verified: no key, a key that does not parse (bad_key, with its
 *                     line), a text that is not JSON (not_json), or a verifier crash
 *   entries[].ok: true, false (a finding names the entry), null (not checked: the bundle's shape
 *   or its checkpoint failed before any entry was replayed).
 */
export async function runVerification(bundleText, vkeyLines, options = {}) {
  const { keys, bad } = await checkKeys(vkeyLines);
  if (bad.length) {
    return {
      ...errorOnly("bad_key", ""),
      problems: bad.map((b) => ({
        seq: null, event: null, eventId: null, position: null, code: "bad_key",
        message: `line ${b.line}: ${b.reason}`, level: "error", line: b.line, reason: b.reason,
      })),
    };
  }
  if (keys.length === 0) return errorOnly("no_key", "no log key was given");
  if (typeof bundleText !== "string") return errorOnly("not_json", "the bundle is not a text");
  let doc;
  try {
    doc = JSON.parse(bundleText);
  } catch (e) {
    return errorOnly("not_json", `not a JSON document: ${e.message}`);
  }
  const entries = await describeEntries(doc);
  let report;
  try {
    report = await verifyBundle(doc, keys, { tolerance: options.tolerance ?? "0.005", trustedCheckpoints: options.trustedCheckpoints ?? [] });
  } catch (e) {
    return { ...errorOnly("crashed", String(e?.message ?? e)), entries };
  }

  const hashOf = (f) => {
    const candidates = entries.filter((r) => r.seq === f.seq);
    const hit = candidates.find((r) => f.event !== null && r.id === f.event) ?? candidates[0];
    return hit ? hit.hash : null;
  };
  const positionOf = (f) => {
    // entries the verifier could not even read are named by position ("entry #3: ...")
    const m = f.seq === null ? /^entry #(\d+): /.exec(f.message) : null;
    return m ? Number(m[1]) : null;
  };
  const problem = (f, level) => ({
    seq: f.seq, event: f.seq === null ? null : hashOf(f), eventId: f.event ?? null,
    position: positionOf(f), code: f.code, message: f.message, level,
  });
  const problems = [...report.errors.map((f) => problem(f, "error"))];
  if (options.lot !== undefined && options.lot !== null && report.lot !== null && report.lot !== String(options.lot)) {
    problems.push({
      seq: null, event: null, eventId: null, position: null, code: "lot_mismatch",
      message: `the bundle is for lot ${report.lot}, not for lot ${options.lot}`, level: "error",
      bundleLot: report.lot, lot: String(options.lot),
    });
  }
  problems.push(...report.warnings.map((f) => problem(f, "warning")));

  const failed = problems.filter((p) => p.level === "error");
  const replayed = report.checkpoint !== null;
  for (const row of entries) {
    if (!replayed) continue;
    row.ok = !failed.some((p) => (p.seq !== null && p.seq === row.seq) || (p.position !== null && p.position === row.position));
  }
  const root = report.checkpoint ? b64decode(report.checkpoint.root) : null;
  const summary = {
    lot: report.lot ?? (options.lot ?? null),
    total: entries.length,
    passed: report.entries,
    checked: replayed,
    origin: report.checkpoint?.origin ?? null,
    size: report.checkpoint?.size ?? null,
    root: root ? hex(root) : null,
    rootPrefix: root ? hex(root).slice(0, 16) : null,
    lotState: report.lotState,
  };
  const verdict = report.ok && failed.length === 0 ? "VALID" : "INVALID";
  return {
    verdict,
    summary,
    problems,
    entries: entries.map(({ position, seq, type, actor, time, hash, ok }) => ({ position, seq, type, actor, time, hash, ok })),
  };
}

/** One line of #verify-errors: "entry seq N (event <12 hex>…): <code> — <message>". */
export function problemText(p, labels = LABELS) {
  const L = { ...LABELS, ...labels };
  let where;
  if (p.seq !== null && p.seq !== undefined) {
    where = fill(L.entry, { seq: p.seq, event: p.event ? p.event.slice(0, 12) : "?" });
  } else if (p.position !== null && p.position !== undefined) {
    where = fill(L["entry-at"], { position: p.position });
  } else {
    where = L.bundle;
  }
  let message = p.message;
  if (p.code === "lot_mismatch") message = fill(L["lot-mismatch"], { bundle: p.bundleLot, lot: p.lot });
  const text = `${where}: ${p.code} — ${message}`;
  return p.level === "warning" ? `${L.warning}: ${text}` : text;
}

// ---------------------------------------------------------------- the page

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled (SecurityError): pinning is simply unavailable
  }
}

function readPinned() {
  try {
    return parseStoredKeys(storage()?.getItem(STORAGE_KEY) ?? null);
  } catch {
    return [];
  }
}

function writePinned(keys) {
  try {
    storage()?.setItem(STORAGE_KEY, JSON.stringify(keys));
    return true;
  } catch {
    return false;
  }
}

function forgetPinned() {
  try {
    storage()?.removeItem(STORAGE_KEY);
  } catch {
    // nothing pinned can be read back either
  }
}

/** Wire the section (exported for a page that builds it later; runs by itself on load). */
export function wire(section) {
  const doc = section.ownerDocument;
  const $ = (id) => doc.getElementById(id);
  const label = (name) => section.getAttribute(`data-label-${name}`) ?? LABELS[name];
  const labels = Object.fromEntries(Object.keys(LABELS).map((k) => [k, label(k)]));
  const [keyBox, pinnedNote, pinBox, forgetButton, verifyButton, verdictEl, summaryEl, errorsEl, entriesEl] = IDS.map($);
  if (!keyBox || !verifyButton || !verdictEl) return;
  verdictEl.setAttribute("role", "status");
  verdictEl.setAttribute("aria-live", "polite");

  const note = (text) => {
    if (!pinnedNote) return;
    pinnedNote.textContent = text ?? "";
    pinnedNote.hidden = !text;
  };
  const pinned = readPinned();
  if (pinned.length) {
    if (keyBox.value.trim() === "") keyBox.value = pinned.join("\n");
    note(labels.pinned);
  }
  if (forgetButton) {
    forgetButton.hidden = pinned.length === 0;
    forgetButton.addEventListener("click", () => {
      forgetPinned();
      forgetButton.hidden = true;
      if (pinBox) pinBox.checked = false;
      note(labels.forgotten);
    });
  }

  const verdict = (text, cls) => {
    verdictEl.textContent = text;
    verdictEl.classList.remove("valid", "invalid");
    if (cls) verdictEl.classList.add(cls);
  };
  const clear = () => {
    if (summaryEl) summaryEl.textContent = "";
    if (errorsEl) errorsEl.replaceChildren();
    if (entriesEl) {
      entriesEl.hidden = true;
      const body = entriesEl.tBodies[0];
      if (body) body.replaceChildren();
    }
  };
  const listItem = (text, level) => {
    if (!errorsEl) return;
    const li = doc.createElement("li");
    li.dataset.level = level;
    li.textContent = text;
    errorsEl.append(li);
  };
  const showError = (status, detail) => {
    verdict(status ? `${labels.error} ${fill(labels.http, { status })}` : labels.error, "invalid");
    if (detail) listItem(detail, "error");
  };

  const render = (result) => {
    if (result.verdict === "ERROR") {
      showError(null, null);
      for (const p of result.problems) {
        listItem(p.code === "crashed" ? fill(labels.crashed, { reason: p.message }) : problemText(p, labels), "error");
      }
      return;
    }
    verdict(result.verdict === "VALID" ? labels.valid : labels.invalid, result.verdict === "VALID" ? "valid" : "invalid");
    const s = result.summary;
    if (summaryEl) {
      summaryEl.textContent = s.checked
        ? fill(labels.checked, { lot: s.lot, total: s.total, passed: s.passed, origin: s.origin, size: s.size, root: s.rootPrefix })
        : fill(labels.unchecked, { lot: s.lot, total: s.total });
    }
    for (const p of result.problems) listItem(problemText(p, labels), p.level);
    if (entriesEl) {
      const body = entriesEl.tBodies[0] ?? entriesEl.createTBody();
      for (const e of result.entries) {
        const tr = doc.createElement("tr");
        const mark = e.ok === true ? labels["entry-ok"] : e.ok === false ? labels["entry-failed"] : labels["entry-unchecked"];
        for (const value of [e.seq ?? "", e.type, e.actor, e.time, mark]) {
          const td = doc.createElement("td");
          td.textContent = String(value);
          tr.append(td);
        }
        body.append(tr);
      }
      entriesEl.hidden = result.entries.length === 0;
    }
  };

  verifyButton.addEventListener("click", async () => {
    if (verifyButton.disabled) return;
    verifyButton.disabled = true; // one run at a time
    clear();
    try {
      if (!globalThis.crypto?.subtle) {
        // keys and bundle both need SHA-256 and Ed25519: say why rather than "bad key"
        showError(null, labels["no-crypto"]);
        return;
      }
      const { keys, bad } = await checkKeys(keyBox.value);
      if (bad.length) {
        verdict(bad.map((b) => fill(labels["bad-key"], { line: b.line, reason: b.reason })).join(" "), "invalid");
        return;
      }
      if (keys.length === 0) {
        verdict(labels["no-key"], "invalid");
        return;
      }
      if (pinBox?.checked && writePinned(keys)) {
        note(labels.saved);
        if (forgetButton) forgetButton.hidden = false;
      }
      verdict(labels.verifying, null);
      let response;
      try {
        response = await fetch(section.getAttribute("data-bundle-url") ?? "", {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
          cache: "no-store",
        });
      } catch (e) {
        showError(null, fill(labels.network, { reason: e?.message ?? String(e) }));
        return;
      }
      if (response.status !== 200) {
        showError(response.status, null);
        return;
      }
      let text;
      try {
        text = await response.text();
      } catch (e) {
        showError(response.status, fill(labels.network, { reason: e?.message ?? String(e) }));
        return;
      }
      const result = await runVerification(text, keys, { lot: section.getAttribute("data-lot") || undefined });
      if (result.verdict === "ERROR" && result.problems.some((p) => p.code === "not_json")) {
        showError(response.status, labels["not-json"]);
        return;
      }
      render(result);
    } catch (e) {
      showError(null, fill(labels.crashed, { reason: e?.message ?? String(e) }));
    } finally {
      verifyButton.disabled = false;
    }
  });
}

function start() {
  const section = document.getElementById("browser-verify");
  if (section) wire(section);
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
}
