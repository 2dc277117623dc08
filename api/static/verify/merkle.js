// RFC 9162 Merkle tree hashing and proof verification over SHA-256 (spec §5.2-§5.4).
// Every function is async (WebCrypto digests); proofs are arrays of 32-byte Uint8Arrays.
// Each verify* function resolves to undefined or throws ProofError.

import { concat, equal, sha256 } from "./encoding.js";

export class ProofError extends Error {}

export const leafHash = (data) => sha256(concat(Uint8Array.of(0), data));
export const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

const bitLength = (n) => (n === 0n ? 0 : n.toString(2).length);

function toBig(n, what) {
  if (typeof n === "bigint") return n;
  if (!Number.isSafeInteger(n) || n < 0) throw new ProofError(`${what} must be a non-negative integer`);
  return BigInt(n);
}

function checkHashes(proof) {
  for (const h of proof) {
    if (!(h instanceof Uint8Array) || h.length !== 32) throw new ProofError("a proof hash is not 32 bytes");
  }
}

/** The root an inclusion proof leads to (RFC 9162 §2.1.3.2). */
export async function rootFromInclusionProof(index, size, leaf, proof) {
  index = toBig(index, "index");
  size = toBig(size, "size");
  if (index >= size) throw new ProofError(`index ${index} is outside the tree of size ${size}`);
  if (!(leaf instanceof Uint8Array) || leaf.length !== 32) throw new ProofError("the leaf hash is not 32 bytes");
  checkHashes(proof);
  const inner = bitLength(index ^ (size - 1n));
  const border = popcount(index >> BigInt(inner));
  if (proof.length !== inner + border) {
    throw new ProofError(`proof has ${proof.length} hashes, expected ${inner + border}`);
  }
  let h = leaf;
  for (let i = 0; i < inner; i++) {
    h = ((index >> BigInt(i)) & 1n) === 0n ? await nodeHash(h, proof[i]) : await nodeHash(proof[i], h);
  }
  for (let i = inner; i < proof.length; i++) h = await nodeHash(proof[i], h);
  return h;
}

function popcount(n) {
  let c = 0;
  for (; n > 0n; n >>= 1n) c += Number(n & 1n);
  return c;
}

export async function verifyInclusion(index, size, leaf, proof, root) {
  const got = await rootFromInclusionProof(index, size, leaf, proof);
  if (!equal(got, root)) throw new ProofError("the proof does not lead to the checkpoint root");
}

/** RFC 9162 §2.1.4.2 consistency proof verification from (size1, root1) to (size2, root2). */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  size1 = toBig(size1, "size1");
  size2 = toBig(size2, "size2");
  checkHashes(proof);
  if (size1 === 0n) throw new ProofError("a consistency proof from the empty tree proves nothing");
  if (size1 > size2) throw new ProofError(`size1 ${size1} is larger than size2 ${size2}`);
  if (size1 === size2) {
    if (proof.length !== 0) throw new ProofError("a proof between equal sizes must be empty");
    if (!equal(root1, root2)) throw new ProofError("the roots of equal sizes differ");
    return;
  }
  if (proof.length === 0) throw new ProofError("empty consistency proof");
  // RFC 9162 §2.1.4.2, in the shape of transparency-dev/merkle proof.VerifyConsistency
  const inner0 = bitLength((size1 - 1n) ^ (size2 - 1n));
  let shift = 0;
  while (((size1 >> BigInt(shift)) & 1n) === 0n) shift++; // trailing zeros of size1
  const inner = inner0 - shift;
  let seed;
  let start;
  if (size1 === 1n << BigInt(shift)) {
    seed = root1;
    start = 0;
  } else {
    seed = proof[0];
    start = 1;
  }
  const rest = proof.slice(start);
  const border = popcount((size1 - 1n) >> BigInt(inner0));
  if (rest.length !== inner + border) {
    throw new ProofError(`wrong consistency proof size ${proof.length}`);
  }
  const mask = (size1 - 1n) >> BigInt(shift);
  let h1 = seed;
  for (let i = 0; i < inner; i++) {
    if (((mask >> BigInt(i)) & 1n) === 1n) h1 = await nodeHash(rest[i], h1);
  }
  for (let i = inner; i < rest.length; i++) h1 = await nodeHash(rest[i], h1);
  if (!equal(h1, root1)) throw new ProofError("the proof does not lead to the first root");
  let h2 = seed;
  for (let i = 0; i < inner; i++) {
    h2 = ((mask >> BigInt(i)) & 1n) === 0n ? await nodeHash(h2, rest[i]) : await nodeHash(rest[i], h2);
  }
  for (let i = inner; i < rest.length; i++) h2 = await nodeHash(rest[i], h2);
  if (!equal(h2, root2)) throw new ProofError("the proof does not lead to the second root");
}
