// C2SP signed notes, verifier keys and tlog checkpoints (spec §5.5, §5.6).

import { verify } from "./ed25519.js";
import { b64decode, concat, equal, fromHex, sha256 } from "./encoding.js";

export class NoteError extends Error {}

const MAX_NOTE = 256 * 1024;
// no "+", no Unicode white space, no control character
const BAD_NAME = /[+\s\u0085\u00a0\p{Zs}\p{Zl}\p{Zp}\u0000-\u001f\u007f]/u;

async function keyId(name, pub) {
  const h = await sha256(concat(new TextEncoder().encode(name), Uint8Array.of(0x0a, 0x01), pub));
  return h.slice(0, 4);
}

/** Parse a vkey `name+hexkeyid+base64(0x01 || pub)` -> {name, keyId, pub}. Throws NoteError. */
export async function parseVkey(text) {
  if (typeof text !== "string") throw new NoteError("a vkey is a string");
  const parts = text.trim().split("+");
  // the base64 may itself contain "+": name and key id are the first two fields
  if (parts.length < 3) throw new NoteError("a vkey is name+keyid+key");
  const [name, hexId] = parts;
  const key = b64decode(parts.slice(2).join("+"));
  if (!name || BAD_NAME.test(name)) throw new NoteError("bad vkey name");
  if (!/^[0-9a-fA-F]{8}$/.test(hexId)) throw new NoteError("bad vkey key id");
  if (key === null || key.length !== 33) throw new NoteError("bad vkey key");
  if (key[0] !== 0x01) throw new NoteError("the vkey is not an Ed25519 key (type 0x01)");
  const pub = key.slice(1);
  const id = fromHex(hexId);
  if (!equal(id, await keyId(name, pub))) throw new NoteError("the vkey's key id does not match its name and key");
  return { name, keyId: id, pub };
}

/** Split and parse a signed note: {text, sigs: [{name, keyId, sig}]}. Throws NoteError. */
export function parseNote(note) {
  if (typeof note !== "string") throw new NoteError("a note is a string");
  const bytes = new TextEncoder().encode(note);
  if (bytes.length > MAX_NOTE) throw new NoteError("the note is larger than 256 KiB");
  if (!note.isWellFormed()) throw new NoteError("the note is not valid UTF-8");
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) throw new NoteError("the note contains a control character");
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) throw new NoteError("the note has no signature block");
  const text = note.slice(0, cut + 1);
  const block = note.slice(cut + 2);
  if (!block || !block.endsWith("\n")) throw new NoteError("the signature block is empty or lacks its final line feed");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > 100) throw new NoteError("more than 100 signature lines");
  const sigs = [];
  for (const line of lines) {
    if (!line.startsWith("\u2014 ")) throw new NoteError("a signature line must start with an em dash and a space");
    const rest = line.slice(2);
    const sp = rest.lastIndexOf(" ");
    if (sp <= 0) throw new NoteError("malformed signature line");
    const name = rest.slice(0, sp);
    const raw = b64decode(rest.slice(sp + 1));
    if (BAD_NAME.test(name)) throw new NoteError("bad key name in a signature line");
    if (raw === null || raw.length < 5) throw new NoteError("malformed signature in a signature line");
    sigs.push({ name, keyId: raw.slice(0, 4), sig: raw.slice(4) });
  }
  return { text, sigs };
}

/**
 * Open a note under trusted verifiers ({name, keyId, pub}); resolves to {text, verifiedBy}.
 * Lines of unknown keys are ignored, only the first line of a trusted key counts, a bad
 * signature of a trusted key invalidates the note, at least one must verify (x/mod/sumdb/note).
 */
export async function openNote(note, verifiers) {
  const { text, sigs } = parseNote(note);
  const msg = new TextEncoder().encode(text);
  const seen = new Set();
  const verifiedBy = [];
  for (const s of sigs) {
    const v = verifiers.find((k) => k.name === s.name && equal(k.keyId, s.keyId));
    if (v === undefined) continue;
    const id = `${v.name}+${Array.from(v.keyId).join(",")}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (!(await verify(v.pub, s.sig, msg))) throw new NoteError(`invalid signature by ${v.name}`);
    verifiedBy.push(v);
  }
  if (!verifiedBy.length) throw new NoteError("no signature by a trusted key");
  return { text, verifiedBy };
}

/** Parse checkpoint text (origin, size, base64 root, optional extension lines). */
export function parseCheckpoint(text) {
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") throw new NoteError("a checkpoint has origin, size and root lines");
  const [origin, sizeText, rootText] = lines;
  if (!origin || /[\u0000-\u001f\u007f]/.test(origin)) throw new NoteError("bad checkpoint origin");
  if (!/^(?:0|[1-9][0-9]{0,19})$/.test(sizeText) || BigInt(sizeText) > 2n ** 64n - 1n) {
    throw new NoteError("bad checkpoint size");
  }
  const root = b64decode(rootText);
  if (root === null || root.length !== 32) throw new NoteError("bad checkpoint root");
  if (lines.slice(3, -1).some((l) => l === "")) throw new NoteError("empty checkpoint extension line");
  return { origin, size: BigInt(sizeText), root };
}

/** Verify a checkpoint note under one trusted log vkey: signature and origin = key name. */
export async function verifyCheckpoint(note, vkey) {
  const { text } = await openNote(note, [vkey]);
  const cp = parseCheckpoint(text);
  if (cp.origin !== vkey.name) {
    throw new NoteError(`the checkpoint origin ${JSON.stringify(cp.origin)} is not the log key's name ${JSON.stringify(vkey.name)}`);
  }
  return cp;
}
