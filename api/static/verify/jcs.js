// RFC 8785 JSON Canonicalization Scheme (spec §2.2). Plain ES module, no dependencies.
//
// canonicalize(value) -> string; canonicalBytes(value) -> Uint8Array (UTF-8).
// Numbers are serialized as ECMAScript Number.prototype.toString (RFC 8785 §3.2.2.3), which is
// exactly String(n) for finite numbers; object members are sorted by UTF-16 code units (the
// default JavaScript string order); strings use JSON.stringify, whose escaping is RFC 8785's
// (\b \t \n \f \r, other C0 controls as lowercase \u00xx, everything else as itself).

export class JcsError extends Error {}

function serialize(v, out) {
  if (v === null || v === true || v === false) {
    out.push(String(v));
  } else if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new JcsError("JCS: non-finite number");
    out.push(Object.is(v, -0) ? "0" : String(v));
  } else if (typeof v === "string") {
    if (!v.isWellFormed()) throw new JcsError("JCS: lone surrogate");
    out.push(JSON.stringify(v));
  } else if (Array.isArray(v)) {
    out.push("[");
    v.forEach((x, i) => {
      if (i) out.push(",");
      serialize(x, out);
    });
    out.push("]");
  } else if (typeof v === "object") {
    const keys = Object.keys(v).sort(); // UTF-16 code unit order
    out.push("{");
    keys.forEach((k, i) => {
      if (i) out.push(",");
      if (!k.isWellFormed()) throw new JcsError("JCS: lone surrogate in a member name");
      out.push(JSON.stringify(k), ":");
      serialize(v[k], out);
    });
    out.push("}");
  } else {
    throw new JcsError(`JCS: cannot serialize a ${typeof v}`);
  }
}

export function canonicalize(value) {
  const out = [];
  serialize(value, out);
  return out.join("");
}

export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalize(value));
}
