// The console's "Verify in this browser" glue (api/static/console/verify-page.js), DOM-free part:
// runVerification on the bundles made by the Python code (tests/js/bundles.py writes them into
// $LTL_JS_BUNDLES with ledger verify's verdict), the pinned-key store, and the markup contract
// (tests/js/fixtures/verify-section.html = the comment at the top of the module).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  IDS, LABELS, STORAGE_KEY, checkKeys, fill, parseStoredKeys, problemText, runVerification,
} from "../../api/static/console/verify-page.js";
import { verifyBundle } from "../../api/static/verify/bundle.js";
import { b64encode, concat, hex, sha256 } from "../../api/static/verify/encoding.js";
import { canonicalBytes } from "../../api/static/verify/jcs.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODULE = path.join(HERE, "../../api/static/console/verify-page.js");
const FIXTURE = path.join(HERE, "fixtures/verify-section.html");
const dir = process.env.LTL_JS_BUNDLES;
const cases = dir
  ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")))
  : [];
const needBundles = { skip: !dir && "LTL_JS_BUNDLES is not set (run tests/js/test_node.py)" };
// documented in bundles.test.mjs: the JavaScript verifier is stricter on this one
const STRICTER = new Set(["rule-bad-proof-hash"]);

const hashOf = async (event) => hex(await sha256(canonicalBytes(event)));

/** A vkey of a fresh Ed25519 key under `name` (C2SP: name+hex(keyid)+base64(0x01 || pub)). */
async function otherVkey(name) {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const id = (await sha256(concat(new TextEncoder().encode(name), Uint8Array.of(0x0a, 0x01), pub))).slice(0, 4);
  return `${name}+${hex(id)}+${b64encode(concat(Uint8Array.of(0x01), pub))}`;
}

// ---------------------------------------------------------------- the markup contract

test("the fixture is the markup documented at the top of the module", () => {
  const source = fs.readFileSync(MODULE, "utf8");
  const m = /\/\/ ----- markup -----\n([\s\S]*?)\/\/ ----- end of markup -----\n/.exec(source);
  assert.ok(m, "the module's markup comment is missing");
  const documented = m[1].split("\n").map((l) => l.replace(/^\/\/ ?/, "")).join("\n");
  const fixture = fs.readFileSync(FIXTURE, "utf8").split("\n").map((l) => l.trimEnd()).join("\n");
  assert.equal(documented, fixture);
});

test("the fixture declares every label and id the module reads, and no inline script", () => {
  const html = fs.readFileSync(FIXTURE, "utf8");
  const declared = [...html.matchAll(/\sdata-label-([a-z-]+)="/g)].map((x) => x[1]).sort();
  assert.deepEqual(declared, Object.keys(LABELS).sort());
  for (const [name, text] of Object.entries(LABELS)) {
    assert.ok(html.includes(`data-label-${name}="${text.replaceAll('"', "&quot;")}"`), `data-label-${name} differs from LABELS`);
  }
  for (const id of ["browser-verify", ...IDS]) assert.match(html, new RegExp(`\\sid="${id}"`), id);
  assert.match(html, /\sdata-bundle-url="/);
  assert.match(html, /\sdata-lot="/);
  assert.match(html, /<label for="log-vkey">/);
  assert.match(html, /id="verify-verdict" role="status" aria-live="polite"/);
  for (const script of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
    assert.match(script[1], /\bsrc="\/[^"]*"/, "a script must come from the page's own origin");
    assert.equal(script[2].trim(), "", "no inline script (CSP script-src 'self')");
  }
});

test("the module writes text only and loads nothing from elsewhere", () => {
  const code = fs.readFileSync(MODULE, "utf8").split("\n").filter((l) => !l.startsWith("//")).join("\n");
  assert.doesNotMatch(code, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  const imports = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((x) => x[1]);
  assert.ok(imports.length > 0);
  for (const spec of imports) assert.match(spec, /^\.\.\/verify\/[a-z0-9]+\.js$/);
  // the only fetch is the bundle's: the log key never comes from the server
  assert.equal([...code.matchAll(/\bfetch\(/g)].length, 1);
  assert.match(code, /fetch\(section\.getAttribute\("data-bundle-url"\)/);
});

// ---------------------------------------------------------------- keys

test("parseStoredKeys reads a JSON array of vkeys and nothing else", () => {
  assert.equal(STORAGE_KEY, "ltl.console.logVkeys");
  assert.deepEqual(parseStoredKeys('["a+1+b", " c+2+d "]'), ["a+1+b", "c+2+d"]);
  for (const bad of [null, undefined, "", "not json", "{}", '"a+1+b"', "[]", "[1]", '["a", 2]', '[""]', "[null]"]) {
    assert.deepEqual(parseStoredKeys(bad), [], String(bad));
  }
});

test("checkKeys names the line of a key that does not parse", async () => {
  const good = await otherVkey("log.example/one");
  const r = await checkKeys(`\n${good}\nnot-a-key\n\n${good.slice(0, -2)}AA\n`);
  assert.deepEqual(r.keys, [good]);
  assert.deepEqual(r.bad.map((b) => b.line), [3, 5]);
  assert.ok(r.bad.every((b) => typeof b.reason === "string" && b.reason.length > 0));
  assert.deepEqual(await checkKeys(["", "  "]), { keys: [], bad: [] });
});

test("fill replaces known placeholders only", () => {
  assert.equal(fill("Line {line}: {reason} {other}", { line: 2, reason: "<b>x</b>" }), "Line 2: <b>x</b> {other}");
});

// ---------------------------------------------------------------- verification

test("a text that is not JSON is an ERROR, never VALID", needBundles, async () => {
  for (const text of ["<!doctype html><p>sign in</p>", "", "{", "nul"]) {
    const r = await runVerification(text, [cases[0].vkey]);
    assert.equal(r.verdict, "ERROR", text);
    assert.equal(r.problems[0].code, "not_json");
    assert.deepEqual(r.entries, []);
  }
  assert.equal((await runVerification(undefined, [cases[0].vkey])).verdict, "ERROR");
});

test("no key or a bad key line is an ERROR naming the line", needBundles, async () => {
  const text = JSON.stringify(cases[0].bundle);
  const none = await runVerification(text, ["", " "]);
  assert.equal(none.verdict, "ERROR");
  assert.equal(none.problems[0].code, "no_key");
  const bad = await runVerification(text, `${cases[0].vkey}\n${cases[0].vkey.replace("+", "-")}`);
  assert.equal(bad.verdict, "ERROR");
  assert.deepEqual(bad.problems.map((p) => [p.code, p.line]), [["bad_key", 2]]);
});

test("bundle cases were written", needBundles, () => {
  assert.ok(cases.some((c) => c.name.startsWith("honest-")));
  assert.ok(cases.some((c) => c.name.startsWith("tamper-")));
});

for (const c of cases) {
  const expected = STRICTER.has(c.name) ? "INVALID" : c.python.ok ? "VALID" : "INVALID";
  test(`page ${c.name}: ${expected} as the bundles test expects, failing entries named`, async () => {
    const text = JSON.stringify(c.bundle);
    const r = await runVerification(text, [c.vkey], { lot: c.bundle.lot });
    assert.equal(r.verdict, expected, JSON.stringify(r.problems, null, 1));
    // the findings are verifyBundle's, in its order (bundles.test.mjs compares those to Python)
    const js = await verifyBundle(c.bundle, c.vkey);
    const errors = r.problems.filter((p) => p.level === "error");
    assert.deepEqual(errors.map((p) => ({ code: p.code, seq: p.seq })), js.errors.map((f) => ({ code: f.code, seq: f.seq })));
    if (!STRICTER.has(c.name)) {
      assert.deepEqual(errors.map((p) => ({ code: p.code, seq: p.seq })), c.python.errors);
      assert.deepEqual(r.problems.filter((p) => p.level === "warning").map((p) => ({ code: p.code, seq: p.seq })), c.python.warnings);
    }
    // one row per entry of the bundle, in bundle order
    assert.deepEqual(r.entries.map((e) => e.seq), c.bundle.entries.map((e) => e.seq));
    assert.deepEqual(r.entries.map((e) => [e.type, e.actor, e.time]), c.bundle.entries.map((e) => [e.event.type, e.event.actor, e.event.time]));
    assert.equal(r.summary.total, c.bundle.entries.length);
    assert.equal(r.summary.lot, c.bundle.lot);
    if (expected === "VALID") {
      assert.ok(r.entries.every((e) => e.ok === true));
      assert.equal(r.summary.passed, c.bundle.entries.length);
      assert.equal(r.summary.checked, true);
      assert.match(r.summary.rootPrefix, /^[0-9a-f]{16}$/);
      assert.equal(r.summary.origin, c.vkey.split("+")[0]);
      return;
    }
    if (!r.summary.checked) {
      // the checkpoint (or the bundle's shape) failed: no entry was checked, none shows ✓
      assert.ok(r.entries.every((e) => e.ok === null));
      assert.ok(errors.every((p) => p.seq === null));
      return;
    }
    const failedSeqs = new Set(errors.filter((p) => p.seq !== null).map((p) => p.seq));
    for (const e of r.entries) assert.equal(e.ok, !failedSeqs.has(e.seq), `seq ${e.seq}`);
    for (const p of errors.filter((x) => x.seq !== null)) {
      const entry = c.bundle.entries.find((e) => e.seq === p.seq && (p.eventId === null || e.event.id === p.eventId));
      assert.equal(p.event, await hashOf(entry.event));
      const line = problemText(p);
      assert.ok(line.startsWith(`entry seq ${p.seq} (event ${p.event.slice(0, 12)}…): ${p.code} — `), line);
    }
  });
}

test("a wrong log key: INVALID with the checkpoint error, no entry checked", needBundles, async () => {
  const c = cases.find((x) => x.name.startsWith("honest-"));
  const origin = c.vkey.split("+")[0];
  for (const vkey of [await otherVkey(origin), await otherVkey("other.example/log")]) {
    const r = await runVerification(JSON.stringify(c.bundle), [vkey], { lot: c.bundle.lot });
    assert.equal(r.verdict, "INVALID");
    assert.deepEqual(r.problems.map((p) => [p.code, p.seq]), [["bad_checkpoint", null]]);
    assert.ok(problemText(r.problems[0]).startsWith("bundle: bad_checkpoint — "));
    assert.equal(r.summary.checked, false);
    assert.equal(r.entries.length, c.bundle.entries.length);
    assert.ok(r.entries.every((e) => e.ok === null));
  }
  // a second, right key next to the wrong one: the checkpoint opens
  const both = await runVerification(JSON.stringify(c.bundle), [await otherVkey(origin), c.vkey]);
  assert.equal(both.verdict, "VALID");
});

test("a valid bundle of another lot is INVALID on this lot's page", needBundles, async () => {
  const c = cases.find((x) => x.name.startsWith("honest-"));
  const r = await runVerification(JSON.stringify(c.bundle), [c.vkey], { lot: "<script>alert(1)</script>" });
  assert.equal(r.verdict, "INVALID");
  const p = r.problems.find((x) => x.code === "lot_mismatch");
  assert.ok(p);
  assert.equal(problemText(p), `bundle: lot_mismatch — The bundle is for lot ${c.bundle.lot}, not for this page's lot <script>alert(1)</script>.`);
  assert.ok(r.entries.every((e) => e.ok === true), "the entries themselves verified");
});

test("an unreadable entry is named by its position", needBundles, async () => {
  const c = cases.find((x) => x.name.startsWith("honest-"));
  const bundle = structuredClone(c.bundle);
  bundle.entries[1] = { seq: "one", event: "<img src=x onerror=alert(1)>", proof: [] };
  const r = await runVerification(JSON.stringify(bundle), [c.vkey]);
  assert.equal(r.verdict, "INVALID");
  const p = r.problems.find((x) => x.position === 1);
  assert.ok(p, JSON.stringify(r.problems));
  assert.ok(problemText(p).startsWith("entry #1: invalid_bundle — "));
  assert.equal(r.entries[1].ok, false);
  assert.equal(r.entries[1].seq, null);
});
