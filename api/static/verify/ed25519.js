// Ed25519 signature verification with WebCrypto (spec §1.6), raw 32-byte public keys.
//
// Strictness: node and browsers implement WebCrypto Ed25519 with the platform library (node:
// OpenSSL, like the Python `cryptography` package the reference verifier uses): cofactorless
// equation, S >= L refused, non-canonical R refused. tests/js/ed25519.test.mjs pins the results
// on Wycheproof and on the C2SP CCTV edge cases (208 of 914 accepted, as in Python). Browsers
// (BoringSSL in Chrome, NSS in Firefox, CoreCrypto in Safari) may differ on the CCTV edge cases
// (small-order or non-canonical keys): a verdict there can differ from `ledger verify`, never
// on a signature made by an honest signer.

const subtle = globalThis.crypto.subtle;
const cache = new Map();

async function importKey(pub) {
  const id = Array.from(pub, (b) => b.toString(16).padStart(2, "0")).join("");
  let key = cache.get(id);
  if (key === undefined) {
    key = subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    cache.set(id, key);
  }
  return key;
}

/** True when `sig` (64 bytes) is a valid Ed25519 signature of `msg` by `pub` (32 bytes). */
export async function verify(pub, sig, msg) {
  if (!(pub instanceof Uint8Array) || pub.length !== 32) return false;
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return false;
  let key;
  try {
    key = await importKey(pub);
  } catch {
    return false; // a key the platform refuses to decode
  }
  try {
    return await subtle.verify({ name: "Ed25519" }, key, sig, msg);
  } catch {
    return false;
  }
}
