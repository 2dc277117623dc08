// Offline audit-bundle verification in JavaScript (spec §6.4), the browser twin of
// `ledger verify` (ledger/audit/verify.py), with the same finding codes.
//
//   const report = await verifyBundle(bundle, logVkey, {tolerance: "0.005"});
//   report = {ok, lot, checkpoint, entries, errors: [{code, message, seq, event}], warnings, lotState}
//
// `bundle` is the parsed JSON object (or its text, parsed with JSON.parse); `logVkey` a C2SP vkey
// string (or several in an array) the auditor pasted or pinned.
//
// Checked, as ledger verify does (spec §6.4): shape (invalid_bundle); the checkpoint's C2SP
// signature under the log vkey and origin = key name (bad_checkpoint); split views against
// `trustedCheckpoints` (split_view); each entry's members (invalid_bundle); the event envelope
// (invalid_event, see below); strictly increasing seq (entry_order); a complete RFC 9162 inclusion
// proof of SHA-256(0x00 || SHA-256(JCS(envelope))) at seq (bad_inclusion_proof); two entries
// extending one head (fork); the genesis at seq 0 (forbidden); duplicate_id / idempotent repeats;
// the signer (unknown_party, unknown_key, key_revoked) and the Ed25519 signature of
// "ltl/v1/event\n" || JCS(envelope minus sig) by the key registered in the bundle's
// party.register / key.add events (bad_signature); key revocation incl. the keys a compromised key
// added (§4.6); lot chains: prev heads, time never going back (stale_head -> chain_gap,
// unknown_lot -> chain_incomplete, bad_time), custody (not_custodian, in_transit, unknown_lot for
// a lot not the actor's), roles (forbidden), lot-id prefixes (forbidden, lot_exists), ship /
// receive (overdraw, invalid_event for a partial ship or a wrong ship hash, not_in_transit,
// forbidden), mass never rising except by creation (adjust: mass_not_conserved; receive, ship,
// transform inputs: overdraw), transform conservation of total mass and per element within the
// tolerance (mass_not_conserved), the bundle's lot created (chain_incomplete), and the warnings
// credits_unverifiable and key_compromised.
//
// NOT checked here (a bundle that fails only these passes in JavaScript but not in ledger verify):
// - strict JSON (§2.1): duplicate member names, integers beyond 2^53, lone surrogates in the
//   raw text are not detected when the bundle is given as text (JSON.parse accepts them);
// - the full event schemas of §4 (docs/schemas): only the envelope, the identifier patterns
//   and the body members these rules read are checked; texts, countries, elements, roles,
//   enumerations, unknown body members and the 64 KiB limit are not;
// - key registrability (§1.6: canonical, not small-order curve point), which ledger verify
//   refuses with invalid_event;
// - credit.allocate's allocation room (overdraw by allocation) and recycled-content shares
//   (§7): allocations are replayed only for custody, site and chain;
// - witness cosignatures and quorums (§5.7).

import { verify as ed25519Verify } from "./ed25519.js";
import { b64decode, b64encode, b64urlDecode, concat, hex, sha256 } from "./encoding.js";
import { canonicalBytes } from "./jcs.js";
import { ProofError, leafHash, verifyInclusion } from "./merkle.js";
import { NoteError, parseVkey, verifyCheckpoint } from "./note.js";

export const BUNDLE_FORMAT = "ltl-bundle/1";
const COMPROMISE_MARGIN_US = 86400n * 1000000n;
const EVENT_TYPES = new Set([
  "party.register", "key.add", "key.revoke", "party.claim", "lot.create", "lot.ship",
  "lot.receive", "lot.transform", "lot.assay", "lot.adjust", "lot.attest", "credit.allocate",
]);
const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KID_RE = /^[0-9a-f]{16}$/;
const HASH_RE = /^[0-9a-f]{64}$/;
const PARTY_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SIG_RE = /^[A-Za-z0-9_-]{85}[AQgw]$/;
const TIME_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z$/;
const MASS_RE = /^(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,6})?$/;
const FRACTION_RE = /^(?:0(?:\.[0-9]{1,6})?|1(?:\.0{1,6})?)$/;
const ENVELOPE = ["ltl", "id", "type", "actor", "kid", "time", "prev", "body", "sig"];

class Refusal extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const fail = (code, message) => new Refusal(code, message);

// ---------------------------------------------------------------- values

/** A time as BigInt microseconds since the epoch, or null when it is not a real instant. */
export function parseTime(text) {
  const m = typeof text === "string" ? TIME_RE.exec(text) : null;
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (y < 1 || mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 59) return null;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return BigInt(date.getTime()) * 1000n + BigInt((m[7] || "").padEnd(6, "0"));
}

/** A decimal string with at most 6 decimals as BigInt millionths. */
function micro(text) {
  const [i, f = ""] = text.split(".");
  return BigInt(i) * 1000000n + BigInt(f.padEnd(6, "0"));
}

function kg(m) {
  const i = m / 1000000n;
  const f = (m % 1000000n).toString().padStart(6, "0").replace(/0+$/, "");
  return f ? `${i}.${f}` : `${i}`;
}

const isObject = (x) => x !== null && typeof x === "object" && !Array.isArray(x);
const short = (h) => `${h.slice(0, 16)}…`;

// ---------------------------------------------------------------- events

function touchedLots(type, body) {
  if (type === "lot.transform") return body.inputs.map((i) => i.lot);
  if (["lot.ship", "lot.receive", "lot.assay", "lot.adjust", "lot.attest", "credit.allocate"].includes(type)) {
    return [body.lot];
  }
  return [];
}

function checkBody(type, b) {
  const need = (cond, what) => {
    if (!cond) throw fail("invalid_event", `body: ${what}`);
  };
  const mass = (x, zero, what) => {
    need(typeof x === "string" && MASS_RE.test(x), `${what} must be a mass`);
    need(zero || micro(x) > 0n, `${what} must be greater than 0`);
  };
  const comp = (c, what) => {
    if (c === undefined) return;
    need(isObject(c) && Object.values(c).every((f) => typeof f === "string" && FRACTION_RE.test(f)), `${what} must map elements to fractions`);
    need(Object.values(c).reduce((a, f) => a + micro(f), 0n) <= 1000000n, `${what} fractions sum to more than 1`);
  };
  const key = (k, what) => need(isObject(k) && typeof k.kid === "string" && KID_RE.test(k.kid) && typeof k.pub === "string" && b64urlDecode(k.pub)?.length === 32, `${what} must be a key {kid, pub}`);
  const site = (s) => need(isObject(s) && typeof s.country === "string", "site must be an object with a country");
  const lot = (x, what) => need(typeof x === "string" && x.length >= 1 && x.length <= 128, `${what} must be a lot id`);
  need(isObject(b), "must be an object");
  switch (type) {
    case "party.register":
      need(isObject(b.party) && typeof b.party.id === "string" && PARTY_RE.test(b.party.id) && Array.isArray(b.party.roles), "party must be {id, name, country, roles, feoc}");
      need(Array.isArray(b.keys) && b.keys.length > 0, "keys must be a non-empty array");
      b.keys.forEach((k, i) => key(k, `keys[${i}]`));
      break;
    case "key.add":
      need(typeof b.party === "string", "party must be a party id");
      key(b.key, "key");
      break;
    case "key.revoke":
      need(typeof b.party === "string" && typeof b.kid === "string", "party and kid are required");
      need(b.compromised_since === undefined || parseTime(b.compromised_since) !== null, "compromised_since must be a time");
      break;
    case "party.claim":
      need(typeof b.party === "string" && Array.isArray(b.prefixes) && b.prefixes.every((p) => typeof p === "string"), "party and prefixes are required");
      break;
    case "lot.create":
      lot(b.lot, "lot");
      mass(b.mass_kg, false, "mass_kg");
      need(typeof b.material === "string" && typeof b.source === "string", "material and source are required");
      site(b.site);
      comp(b.composition, "composition");
      break;
    case "lot.ship":
      lot(b.lot, "lot");
      need(typeof b.to === "string", "to must be a party id");
      mass(b.mass_kg, false, "mass_kg");
      break;
    case "lot.receive":
      lot(b.lot, "lot");
      need(typeof b.ship === "string" && HASH_RE.test(b.ship), "ship must be a hash");
      mass(b.mass_kg, true, "mass_kg");
      break;
    case "lot.transform": {
      need(Array.isArray(b.inputs) && b.inputs.length > 0 && Array.isArray(b.outputs) && b.outputs.length > 0, "inputs and outputs must be non-empty arrays");
      b.inputs.forEach((x, i) => { need(isObject(x), `inputs[${i}] must be an object`); lot(x.lot, `inputs[${i}].lot`); mass(x.mass_kg, false, `inputs[${i}].mass_kg`); });
      b.outputs.forEach((x, i) => {
        need(isObject(x), `outputs[${i}] must be an object`);
        lot(x.lot, `outputs[${i}].lot`);
        mass(x.mass_kg, false, `outputs[${i}].mass_kg`);
        need(typeof x.material === "string", `outputs[${i}].material is required`);
        comp(x.composition, `outputs[${i}].composition`);
      });
      const ins = new Set(b.inputs.map((x) => x.lot));
      const outs = new Set(b.outputs.map((x) => x.lot));
      need(ins.size === b.inputs.length && outs.size === b.outputs.length, "a lot appears twice among the inputs or the outputs");
      need(![...outs].some((l) => ins.has(l)), "an output lot is also an input lot");
      need(b.model === undefined || b.model === "controlled_blending" || b.model === "mass_balance", "model is controlled_blending or mass_balance");
      site(b.site);
      break;
    }
    case "lot.assay":
      lot(b.lot, "lot");
      need(isObject(b.composition), "composition is required");
      comp(b.composition, "composition");
      break;
    case "lot.adjust":
      lot(b.lot, "lot");
      mass(b.mass_kg, true, "mass_kg");
      break;
    case "lot.attest":
      lot(b.lot, "lot");
      break;
    case "credit.allocate":
      lot(b.lot, "lot");
      mass(b.kg, false, "kg");
      need(typeof b.element === "string" && typeof b.category === "string" && typeof b.site === "string", "element, category and site are required");
      break;
  }
}

/** The envelope checked (partially, see the module header) and hashed: throws Refusal(invalid_event). */
export async function parseEvent(env) {
  const bad = (what) => fail("invalid_event", what);
  if (!isObject(env)) throw bad("an event is a JSON object");
  const names = Object.keys(env);
  for (const n of ENVELOPE) if (!(n in env)) throw bad(`missing member ${n}`);
  for (const n of names) if (!ENVELOPE.includes(n)) throw bad(`unknown member ${n}`);
  if (env.ltl !== 1) throw bad("ltl must be the integer 1");
  if (typeof env.id !== "string" || !ID_RE.test(env.id)) throw bad("id must be a lowercase UUID");
  if (!EVENT_TYPES.has(env.type)) throw bad("type is not an event type");
  if (typeof env.actor !== "string" || !PARTY_RE.test(env.actor)) throw bad("actor must be a party id");
  if (typeof env.kid !== "string" || !KID_RE.test(env.kid)) throw bad("kid must be 16 hex characters");
  if (parseTime(env.time) === null) throw bad("time must be an RFC 3339 UTC time");
  if (!isObject(env.prev)) throw bad("prev must be an object");
  checkBody(env.type, env.body);
  const touched = touchedLots(env.type, env.body);
  for (const [l, h] of Object.entries(env.prev)) {
    if (!touched.includes(l)) throw bad(`prev.${l}: the event does not touch lot ${l}`);
    if (typeof h !== "string" || !HASH_RE.test(h)) throw bad(`prev.${l} must be a hash`);
  }
  if (env.type === "key.revoke" && env.body.compromised_since !== undefined && parseTime(env.body.compromised_since) > parseTime(env.time)) {
    throw bad("body.compromised_since is after the event's time");
  }
  if (typeof env.sig !== "string" || !SIG_RE.test(env.sig)) throw bad("sig must be a base64url Ed25519 signature");
  const { sig, ...unsigned } = env;
  const signingInput = concat(new TextEncoder().encode("ltl/v1/event\n"), canonicalBytes(unsigned));
  const hashBytes = await sha256(canonicalBytes(env));
  return { ...env, sigBytes: b64urlDecode(sig), signingInput, hashBytes, hash: hex(hashBytes), touched };
}

// ---------------------------------------------------------------- state and rules

class State {
  constructor(tolerance) {
    this.tolerance = micro(tolerance);
    this.parties = new Map();
    this.keys = new Map();
    this.lots = new Map();
    this.prefixes = new Map(); // prefix -> owner
    this.eventIds = new Map();
    this.size = 0;
  }

  isGenesis() {
    return this.size === 0;
  }

  /** Apply one event: mutates only when every rule passes. Throws Refusal. */
  async accept(ev, seq) {
    const known = this.eventIds.get(ev.id);
    if (known !== undefined) {
      if (known === ev.hash) return;
      throw fail("duplicate_id", `event id ${ev.id} was already used by event ${known}: choose a fresh UUID for a new event`);
    }
    const key = await this.signer(ev, seq);
    if (!(await ed25519Verify(key.pub, ev.sigBytes, ev.signingInput))) {
      throw fail("bad_signature", `the signature does not verify under key ${ev.kid} of '${ev.actor}'`);
    }
    const c = new Ctx(this, ev, seq);
    await HANDLERS[ev.type](c);
    c.commit();
    this.eventIds.set(ev.id, ev.hash);
    this.size += 1;
  }

  async signer(ev, seq) {
    if (this.isGenesis()) {
      if (ev.type !== "party.register") throw fail("forbidden", `the ledger is empty, so its first event must be the operator's self-signed party.register, not a ${ev.type}`);
      const p = ev.body.party;
      if (p.id !== ev.actor) throw fail("forbidden", "the genesis party.register must be self-signed");
      if (!p.roles.includes("operator")) throw fail("forbidden", "the genesis party.register must register a party with the operator role");
      const k = ev.body.keys.find((x) => x.kid === ev.kid);
      if (!k) throw fail("unknown_key", `kid ${ev.kid} is not among the keys the genesis event registers`);
      return { kid: ev.kid, party: ev.actor, pub: b64urlDecode(k.pub) };
    }
    if (!this.parties.has(ev.actor)) throw fail("unknown_party", `party '${ev.actor}' is not registered`);
    const key = this.keys.get(ev.kid);
    if (!key || key.party !== ev.actor) throw fail("unknown_key", `party '${ev.actor}' has no key ${ev.kid}`);
    if (key.revokedSeq !== null) throw fail("key_revoked", `key ${ev.kid} of '${ev.actor}' was revoked at log index ${key.revokedSeq}`);
    return key;
  }
}

function compromisedAt(key, time) {
  if (key.revokedWith !== null) return true;
  if (key.compromisedSince === null) return false;
  return parseTime(time) >= parseTime(key.compromisedSince) - COMPROMISE_MARGIN_US;
}

class Ctx {
  constructor(state, ev, seq) {
    this.s = state;
    this.ev = ev;
    this.seq = seq;
    this.b = ev.body;
    this.d = { parties: new Map(), keys: new Map(), lots: new Map(), prefixes: new Map() };
  }

  commit() {
    for (const [k, v] of this.d.parties) this.s.parties.set(k, v);
    for (const [k, v] of this.d.keys) this.s.keys.set(k, v);
    for (const [k, v] of this.d.lots) this.s.lots.set(k, v);
    for (const [k, v] of this.d.prefixes) this.s.prefixes.set(k, v);
  }

  actor() {
    return this.d.parties.get(this.ev.actor) ?? this.s.parties.get(this.ev.actor);
  }

  requireRole(...roles) {
    if (!roles.some((r) => this.actor().roles.includes(r))) {
      throw fail("forbidden", `a ${this.ev.type} needs the role ${roles.join(" or ")}; party '${this.ev.actor}' has ${[...this.actor().roles].sort().join(", ")}`);
    }
  }

  noLot(id) {
    return fail("unknown_lot", `there is no lot '${id}' that '${this.ev.actor}' may act on`);
  }

  existing(id, custody = true) {
    const lot = this.s.lots.get(id);
    if (!lot) throw this.noLot(id);
    const t = parseTime(this.ev.time);
    const mine = lot.custodian === this.ev.actor || lot.transitTo === this.ev.actor;
    if (!mine && (custody || this.ev.prev[id] !== lot.head || t < parseTime(lot.time))) throw this.noLot(id);
    const head = this.ev.prev[id];
    if (head === undefined) throw fail("stale_head", `prev does not name lot '${id}', whose head is ${lot.head}`);
    if (head !== lot.head) throw fail("stale_head", `lot '${id}' head is ${lot.head}, the event names ${head}`);
    if (t < parseTime(lot.time)) throw fail("bad_time", `time ${this.ev.time} is before ${lot.time}, the time of the latest event on lot '${id}'`);
    return lot;
  }

  custodian(lot) {
    if (lot.custodian !== this.ev.actor) throw fail("not_custodian", `lot '${lot.lot}' is held by '${lot.custodian}', not '${this.ev.actor}'`);
    if (lot.status === "in_transit") throw fail("in_transit", `lot '${lot.lot}' is in transit to '${lot.transitTo}'`);
  }

  touch(lot, changes) {
    const next = { ...lot, ...changes, head: this.ev.hash, time: this.ev.time };
    this.d.lots.set(lot.lot, next);
    return next;
  }

  absent(id) {
    const folded = id.toLowerCase();
    for (const [prefix, owner] of this.s.prefixes) {
      if (folded.startsWith(prefix.toLowerCase()) && owner !== this.ev.actor) {
        throw fail("forbidden", `lot id '${id}' is under the prefix '${prefix}' that party '${owner}' owns`);
      }
    }
    if (this.s.lots.has(id)) throw fail("lot_exists", `lot '${id}' already exists`);
  }

  newLot(spec, composition) {
    this.d.lots.set(spec.lot, {
      lot: spec.lot, material: spec.material, mass: micro(spec.mass_kg), custodian: this.ev.actor,
      status: "held", head: this.ev.hash, time: this.ev.time, composition: composition ?? null,
      siteName: this.b.site.name ?? "", transitTo: null, transitShip: null, createdSeq: this.seq,
    });
  }

  async newKey(k, party, path) {
    const pub = b64urlDecode(k.pub);
    if (hex(await sha256(pub)).slice(0, 16) !== k.kid) throw fail("invalid_event", `${path}: kid is not derived from pub`);
    if (this.s.keys.has(k.kid) || this.d.keys.has(k.kid)) throw fail("invalid_event", `${path}: key ${k.kid} is already registered`);
    this.d.keys.set(k.kid, { kid: k.kid, party, pub, addedSeq: this.seq, addedBy: this.ev.kid, addedTime: this.ev.time, revokedSeq: null, compromisedSince: null, revokedWith: null });
  }

  operatorOr(party) {
    if (this.ev.actor !== party && !this.actor().roles.includes("operator")) {
      throw fail("forbidden", `only party '${party}' itself or the operator may sign a ${this.ev.type} for '${party}'`);
    }
  }
}

const status = (m) => (m > 0n ? "held" : "consumed");

const HANDLERS = {
  async "party.register"(c) {
    const p = c.b.party;
    if (!c.s.isGenesis()) c.requireRole("operator");
    if (c.s.parties.has(p.id)) throw fail("invalid_event", `body.party.id: party '${p.id}' is already registered`);
    c.d.parties.set(p.id, { id: p.id, roles: [...p.roles], seq: c.seq });
    for (const [i, k] of c.b.keys.entries()) await c.newKey(k, p.id, `body.keys[${i}]`);
  },
  async "key.add"(c) {
    if (!c.s.parties.has(c.b.party)) throw fail("unknown_party", `party '${c.b.party}' is not registered`);
    c.operatorOr(c.b.party);
    await c.newKey(c.b.key, c.b.party, "body.key");
  },
  async "key.revoke"(c) {
    const b = c.b;
    if (!c.s.parties.has(b.party)) throw fail("unknown_party", `party '${b.party}' is not registered`);
    c.operatorOr(b.party);
    const key = c.s.keys.get(b.kid);
    if (!key || key.party !== b.party) throw fail("unknown_key", `party '${b.party}' has no key ${b.kid}`);
    const since = b.compromised_since ?? null;
    const earlier = since !== null && (key.compromisedSince === null || parseTime(since) < parseTime(key.compromisedSince));
    if (key.revokedSeq !== null && !earlier) throw fail("key_revoked", `key ${b.kid} was already revoked at log index ${key.revokedSeq}`);
    const revoked = { ...key, revokedSeq: key.revokedSeq ?? c.seq, compromisedSince: since };
    c.d.keys.set(key.kid, revoked);
    if (since === null) return;
    const todo = [revoked]; // §4.6: revoke what the compromised key added after its compromise
    while (todo.length) {
      const parent = todo.pop();
      for (const stored of c.s.keys.values()) {
        if (stored.addedBy !== parent.kid) continue;
        const child = c.d.keys.get(stored.kid) ?? stored;
        if (child.kid === parent.kid || child.revokedWith !== null) continue;
        if (child.addedTime === null || !compromisedAt(parent, child.addedTime)) continue;
        const next = { ...child, revokedSeq: child.revokedSeq ?? c.seq, revokedWith: revoked.kid };
        c.d.keys.set(child.kid, next);
        todo.push(next);
      }
    }
  },
  async "party.claim"(c) {
    c.requireRole("operator");
    const party = c.s.parties.get(c.b.party);
    if (!party) throw fail("unknown_party", `party '${c.b.party}' is not registered`);
    c.b.prefixes.forEach((prefix, i) => {
      const mine = prefix.toLowerCase();
      for (const [other, owner] of c.s.prefixes) {
        const theirs = other.toLowerCase();
        if (owner !== party.id && (mine.startsWith(theirs) || theirs.startsWith(mine))) {
          throw fail("forbidden", `body.prefixes[${i}]: '${prefix}' overlaps '${other}', claimed by party '${owner}'`);
        }
      }
    });
    for (const p of c.b.prefixes) c.d.prefixes.set(p, party.id);
  },
  async "lot.create"(c) {
    c.requireRole("producer", "recycler", "processor");
    c.absent(c.b.lot);
    c.newLot(c.b, c.b.composition);
  },
  async "lot.ship"(c) {
    const b = c.b;
    const lot = c.existing(b.lot);
    c.custodian(lot);
    if (!c.s.parties.has(b.to)) throw fail("unknown_party", `the receiver '${b.to}' is not a registered party`);
    const m = micro(b.mass_kg);
    if (m > lot.mass) throw fail("overdraw", `lot '${lot.lot}' holds ${kg(lot.mass)} kg, the ship moves ${b.mass_kg} kg`);
    if (m < lot.mass) throw fail("invalid_event", `lot '${lot.lot}' holds ${kg(lot.mass)} kg and a ship moves the whole lot`);
    c.touch(lot, { status: "in_transit", transitTo: b.to, transitShip: c.ev.hash });
  },
  async "lot.receive"(c) {
    const b = c.b;
    const lot = c.existing(b.lot);
    if (lot.status !== "in_transit") throw fail("not_in_transit", `lot '${lot.lot}' is not in transit (it is ${lot.status}, held by '${lot.custodian}')`);
    if (lot.transitTo !== c.ev.actor) throw fail("forbidden", `lot '${lot.lot}' is shipped to '${lot.transitTo}', not to '${c.ev.actor}'`);
    if (b.ship !== lot.transitShip) throw fail("invalid_event", `body.ship is ${b.ship}, but the pending ship of lot '${lot.lot}' is ${lot.transitShip}`);
    const m = micro(b.mass_kg);
    if (m > lot.mass) throw fail("overdraw", `${b.mass_kg} kg received is more than the ${kg(lot.mass)} kg shipped`);
    c.touch(lot, { custodian: c.ev.actor, mass: m, status: status(m), transitTo: null, transitShip: null });
  },
  async "lot.transform"(c) {
    const b = c.b;
    const consumed = b.inputs.map((i) => [micro(i.mass_kg), c.existing(i.lot)]);
    for (const o of b.outputs) c.absent(o.lot);
    for (const [m, lot] of consumed) {
      c.custodian(lot);
      if (m > lot.mass) throw fail("overdraw", `input '${lot.lot}' holds ${kg(lot.mass)} kg, the transform consumes ${kg(m)} kg`);
    }
    const totalIn = consumed.reduce((a, [m]) => a + m, 0n);
    const totalOut = b.outputs.reduce((a, o) => a + micro(o.mass_kg), 0n);
    if (totalOut > totalIn) throw fail("mass_not_conserved", `the outputs weigh ${kg(totalOut)} kg, more than the ${kg(totalIn)} kg of inputs consumed`);
    const elements = [...new Set(b.outputs.flatMap((o) => Object.keys(o.composition ?? {})))].sort();
    for (const e of elements) {
      if (consumed.some(([, lot]) => lot.composition === null)) break; // unknown input composition
      // element masses in units of 1e-12 kg, exact
      const have = consumed.reduce((a, [m, lot]) => a + m * (lot.composition[e] ? micro(lot.composition[e]) : 0n), 0n);
      const out = b.outputs.reduce((a, o) => a + micro(o.mass_kg) * (o.composition?.[e] ? micro(o.composition[e]) : 0n), 0n);
      if (out * 1000000n > have * (1000000n + c.s.tolerance)) {
        throw fail("mass_not_conserved", `the outputs hold more ${e} than the inputs consumed (tolerance ${kg(c.s.tolerance)})`);
      }
    }
    for (const [m, lot] of consumed) c.touch(lot, { mass: lot.mass - m, status: status(lot.mass - m) });
    for (const o of b.outputs) c.newLot(o, o.composition);
  },
  async "lot.assay"(c) {
    const lab = c.actor().roles.includes("lab");
    const lot = c.existing(c.b.lot, !lab);
    if (lot.custodian !== c.ev.actor && !lab) throw fail("not_custodian", `lot '${lot.lot}' is held by '${lot.custodian}'`);
    c.touch(lot, { composition: c.b.composition });
  },
  async "lot.adjust"(c) {
    const lot = c.existing(c.b.lot);
    c.custodian(lot);
    const m = micro(c.b.mass_kg);
    if (m > lot.mass) throw fail("mass_not_conserved", `lot '${lot.lot}' holds ${kg(lot.mass)} kg; lot.adjust to ${c.b.mass_kg} kg would raise it`);
    c.touch(lot, { mass: m, status: status(m) });
  },
  async "lot.attest"(c) {
    c.requireRole("auditor");
    c.touch(c.existing(c.b.lot, false), {});
  },
  async "credit.allocate"(c) {
    const lot = c.existing(c.b.lot);
    c.custodian(lot);
    if (c.b.site !== lot.siteName) throw fail("invalid_event", `lot '${lot.lot}' was made at site '${lot.siteName}', not '${c.b.site}'`);
    c.touch(lot, {}); // allocation room and shares are not replayed (module header)
  },
};

// ---------------------------------------------------------------- the verifier

function finding(code, message, seq = null, event = null) {
  return { code, message, seq, event };
}

async function openCheckpoint(note, vkeys, report) {
  if (typeof note !== "string") {
    report.errors.push(finding("bad_checkpoint", "checkpoint must be the signed note text"));
    return null;
  }
  const problems = [];
  for (const v of vkeys) {
    try {
      return await verifyCheckpoint(note, v);
    } catch (e) {
      if (!(e instanceof NoteError)) throw e;
      problems.push(e.message);
    }
  }
  report.errors.push(finding("bad_checkpoint", `the checkpoint is not signed by a trusted log key (${problems.join("; ")}): obtain the bundle again, or check the log key`));
  return null;
}

function entryFields(entry) {
  if (!isObject(entry)) throw new Error("an entry must have exactly seq, event and proof");
  const names = Object.keys(entry).sort().join(",");
  if (names !== "event,proof,seq") throw new Error("an entry must have exactly seq, event and proof");
  if (!Number.isSafeInteger(entry.seq) || entry.seq < 0) throw new Error("seq must be a non-negative integer");
  if (!Array.isArray(entry.proof)) throw new Error("proof must be a list of base64 strings");
  const proof = entry.proof.map(b64decode);
  if (proof.some((h) => h === null)) throw new Error("proof hashes must be standard base64 strings");
  return [entry.seq, entry.event, proof];
}

/**
 * Verify an audit bundle offline (spec §6.4). Never throws for a bad bundle.
 * options: {tolerance: "0.005", trustedCheckpoints: [note, ...]}
 */
export async function verifyBundle(bundle, logVkeys, options = {}) {
  const report = { ok: false, lot: null, checkpoint: null, entries: 0, errors: [], warnings: [], lotState: null };
  const done = () => {
    report.ok = report.errors.length === 0;
    return report;
  };
  let doc = bundle;
  if (typeof bundle === "string") {
    try {
      doc = JSON.parse(bundle);
    } catch (e) {
      report.errors.push(finding("invalid_bundle", `not a JSON document: ${e.message}`));
      return done();
    }
  }
  if (!isObject(doc) || Object.keys(doc).sort().join(",") !== "checkpoint,entries,format,lot") {
    report.errors.push(finding("invalid_bundle", "a bundle has exactly format, lot, checkpoint and entries"));
    return done();
  }
  report.lot = String(doc.lot);
  if (doc.format !== BUNDLE_FORMAT) {
    report.errors.push(finding("invalid_bundle", `unknown format ${JSON.stringify(doc.format)}`));
    return done();
  }
  const vkeys = [];
  for (const text of Array.isArray(logVkeys) ? logVkeys : [logVkeys]) {
    try {
      vkeys.push(typeof text === "string" ? await parseVkey(text) : text);
    } catch (e) {
      report.errors.push(finding("bad_checkpoint", `the log key is not a valid vkey: ${e.message}`));
      return done();
    }
  }
  const cp = await openCheckpoint(doc.checkpoint, vkeys, report);
  if (cp === null) return done();
  for (const other of options.trustedCheckpoints ?? []) {
    for (const v of vkeys) {
      let seen;
      try {
        seen = await verifyCheckpoint(other, v);
      } catch {
        continue;
      }
      if (seen.origin === cp.origin && seen.size === cp.size && b64encode(seen.root) !== b64encode(cp.root)) {
        report.errors.push(finding("split_view", `the log signed two different trees of size ${cp.size}: this bundle's checkpoint contradicts one you trusted before`));
      }
    }
  }
  if (!Array.isArray(doc.entries)) {
    report.errors.push(finding("invalid_bundle", "entries must be a list"));
    return done();
  }
  report.checkpoint = { origin: cp.origin, size: Number(cp.size), root: b64encode(cp.root) };
  await replayEntries(doc.entries, cp, report, options.tolerance ?? "0.005");
  return done();
}

async function replayEntries(entries, cp, report, tolerance) {
  const state = new State(tolerance);
  let lastSeq = -1;
  const usedHeads = new Map();
  const created = new Set();
  const accepted = [];
  for (const [position, entry] of entries.entries()) {
    let seq, obj, proof;
    try {
      [seq, obj, proof] = entryFields(entry);
    } catch (e) {
      report.errors.push(finding("invalid_bundle", `entry #${position}: ${e.message}`));
      continue;
    }
    let ev;
    try {
      ev = await parseEvent(obj);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      report.errors.push(finding("invalid_event", e.message, seq));
      continue;
    }
    if (seq <= lastSeq) {
      report.errors.push(finding("entry_order", `entry #${position} (seq ${seq}) is out of log order: it follows seq ${lastSeq}; entries must be in strictly increasing seq`, seq, ev.id));
    }
    lastSeq = Math.max(lastSeq, seq);
    try {
      await verifyInclusion(seq, cp.size, await leafHash(ev.hashBytes), proof, cp.root);
    } catch (e) {
      if (!(e instanceof ProofError)) throw e;
      report.errors.push(finding("bad_inclusion_proof", `event ${ev.hash} is not at seq ${seq} in the checkpointed tree: ${e.message}`, seq, ev.id));
    }
    for (const [lot, head] of Object.entries(ev.prev)) {
      const k = `${lot}\u0000${head}`;
      if (usedHeads.has(k)) {
        report.errors.push(finding("fork", `lot ${lot} forks: seq ${usedHeads.get(k)} and seq ${seq} both extend head ${short(head)}`, seq, ev.id));
      }
      usedHeads.set(k, seq);
    }
    try {
      if (state.isGenesis() && seq !== 0) {
        throw fail("forbidden", `the first event of the bundle is at seq ${seq}, but the log's genesis is at seq 0: the bundle lacks its genesis`);
      }
      await state.accept(ev, seq);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      report.errors.push(ruleFinding(e, ev, seq, state, created));
      continue;
    }
    if (ev.type === "lot.create") created.add(ev.body.lot);
    if (ev.type === "lot.transform") for (const o of ev.body.outputs) created.add(o.lot);
    accepted.push([seq, ev]);
    report.entries += 1;
    if (ev.type === "credit.allocate") {
      report.warnings.push(finding("credits_unverifiable", "the account balance behind this allocation is not provable from a bundle; the allocation's other rules were checked", seq, ev.id));
    }
  }
  if (report.lot !== null && !created.has(report.lot)) {
    report.errors.push(finding("chain_incomplete", `the bundle does not contain the creation of lot ${report.lot}`));
  }
  for (const [seq, ev] of accepted) {
    const key = state.keys.get(ev.kid);
    if (key && compromisedAt(key, ev.time)) {
      report.warnings.push(finding("key_compromised", `signed by key ${ev.kid}, later revoked as compromised; treat this event with suspicion`, seq, ev.id));
    }
  }
  const lot = state.lots.get(report.lot);
  if (lot) {
    report.lotState = { material: lot.material, mass_kg: kg(lot.mass), custodian: lot.custodian, status: lot.status, head: lot.head };
  }
}

function ruleFinding(e, ev, seq, state, created) {
  if (e.code === "stale_head") {
    for (const [lot, head] of Object.entries(ev.prev)) {
      const current = state.lots.get(lot);
      if (current && current.head !== head) {
        return finding("chain_gap", `lot ${lot}: this event extends ${short(head)}, but the last event of the lot in the bundle is ${short(current.head)} — an entry is missing or was altered`, seq, ev.id);
      }
    }
  }
  if (e.code === "unknown_lot") {
    const missing = Object.keys(ev.prev).filter((l) => !created.has(l));
    if (missing.length) {
      return finding("chain_incomplete", `the bundle lacks the creation of lot(s) ${missing.join(", ")} that this event extends (${e.message})`, seq, ev.id);
    }
  }
  return finding(e.code, e.message, seq, ev.id);
}
