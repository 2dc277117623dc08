// The JavaScript verifier against bundles made by the Python code (tests/js/bundles.py writes
// them into $LTL_JS_BUNDLES, with the verdict of ledger.audit.verify.verify_bundle).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { verifyBundle } from "../../api/static/verify/bundle.js";

const dir = process.env.LTL_JS_BUNDLES;

// Known, documented differences (docs/DECISIONS.md): the Python verifier memoizes proven
// subtrees and does not check proof hashes above them (spec §12.3); the JavaScript verifier
// checks every proof completely, as spec §6.4 asks of independent verifiers.
const DEVIATIONS = {
  "rule-bad-proof-hash": [{ code: "bad_inclusion_proof" }],
};

const cases = dir ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];

test("bundle cases were written", { skip: !dir && "LTL_JS_BUNDLES is not set (run tests/js/test_node.py)" }, () => {
  assert.ok(cases.length >= 10, `only ${cases.length} cases in ${dir}`);
});

for (const file of cases) {
  const c = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
  test(`bundle ${c.name}: same verdict as ledger verify`, async () => {
    const r = await verifyBundle(c.bundle, c.vkey);
    const js = r.errors.map((f) => ({ code: f.code, seq: f.seq }));
    const dev = DEVIATIONS[c.name];
    if (dev) {
      assert.equal(r.ok, false, "JS must refuse what it documents as stricter");
      assert.equal(js[0].code, dev[0].code);
      return;
    }
    assert.equal(r.ok, c.python.ok, JSON.stringify(r.errors, null, 1));
    // the same findings, in the same order, with the same seq
    assert.deepEqual(js, c.python.errors);
    assert.deepEqual(r.warnings.map((f) => ({ code: f.code, seq: f.seq })), c.python.warnings);
  });
}
