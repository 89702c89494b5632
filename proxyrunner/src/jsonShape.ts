// A pre-parse scan of JSON text, for the two things JSON.parse cannot tell us:
//   - nesting depth. V8 parses any depth, but JSON.stringify (which the proxy runs on
//     every message it re-serialises) recurses and throws RangeError past a few
//     thousand levels: the bound is enforced here, before anything is built;
//   - duplicate member names in a message object ({"method":"ping","method":"initialize"}).
//     JSON.parse keeps the last, an upstream may keep the first: the proxy would then
//     account a message as something other than what the upstream acts on;
//   - a member named "__proto__", anywhere. JSON.parse makes it a plain property, but the
//     proxy re-serialises it to the upstream, where a JavaScript server that copies
//     objects by assignment turns it into a prototype (an MCP server on the SDK then
//     never answers): it has no business in an MCP message.
// The scan is one loop over the bytes with a fixed-size stack (it stops at the depth
// limit), so the check itself cannot recurse or grow with hostile input. It does not
// validate JSON syntax: JSON.parse does that after it.

export interface JsonShapeLimits {
  /** Deepest allowed nesting of objects/arrays (the top-level value is depth 1). */
  maxDepth: number;
  /** Also reject duplicate member names in message objects (top level, or batch items). */
  uniqueMessageKeys: boolean;
}

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const COMMA = 0x2c; // ,
const PROTO = '__proto__';
/** Strings up to this many bytes are walked in JS; longer ones are searched natively. */
const SHORT_STRING = 64;
const UNKNOWN = -2;

let isObjectScratch = new Uint8Array(65);

/** A short ASCII member name decoded in JS (no call into the runtime), else undefined. */
function shortAscii(bytes: Buffer, start: number, end: number): string | undefined {
  if (end - start > 16) return undefined;
  let key = '';
  for (let i = start; i < end; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80) return undefined;
    key += String.fromCharCode(b);
  }
  return key;
}

/**
 * Undefined when the JSON text is within the limits, else what is wrong (for an error
 * message). Scans UTF-8 bytes: every structural character is ASCII, and no byte of a
 * multi-byte character is below 0x80, so byte positions are exact.
 */
export function jsonShapeProblem(json: Buffer | string, limits: JsonShapeLimits): string | undefined {
  const bytes = typeof json === 'string' ? Buffer.from(json, 'utf8') : json;
  const { maxDepth, uniqueMessageKeys } = limits;
  // Container kinds by depth (1: object). The scan is synchronous, so one scratch array
  // serves every call (allocating a typed array per request costs more than the scan).
  if (isObjectScratch.length <= maxDepth) isObjectScratch = new Uint8Array(maxDepth + 1);
  const isObject = isObjectScratch;
  let depth = 0;
  let expectKey = false;
  let messageLevel = 0; // depth of the current message object's members, 0 when none
  let keys: string[] | undefined; // a message has a handful of members: a list beats a Set
  const n = bytes.length;
  let nextBackslash = UNKNOWN;
  for (let i = 0; i < n; i++) {
    const c = bytes[i] as number;
    if (c === QUOTE) {
      // Short strings (most member names and values) are walked in JS; past a few dozen
      // bytes the rest is found with Buffer.indexOf (native; a quote preceded by an odd
      // run of backslashes is escaped, keep looking).
      const start = i;
      let end = -1;
      let escaped = false;
      let j = i + 1;
      const window = Math.min(n, j + SHORT_STRING);
      while (j < window) {
        const b = bytes[j] as number;
        if (b === QUOTE) {
          end = j;
          break;
        }
        if (b === BACKSLASH) {
          escaped = true;
          j += 2;
        } else j++;
      }
      if (end === -1) {
        end = bytes.indexOf(QUOTE, j);
        while (end !== -1) {
          let slashes = 0;
          while (bytes[end - 1 - slashes] === BACKSLASH) slashes++;
          if ((slashes & 1) === 0) break;
          end = bytes.indexOf(QUOTE, end + 1);
        }
        if (end === -1) return undefined; // unterminated string: JSON.parse reports it
        if (!escaped) {
          // The next backslash at or after j, cached so the search stays linear overall.
          if (nextBackslash === UNKNOWN || (nextBackslash !== -1 && nextBackslash < j)) nextBackslash = bytes.indexOf(BACKSLASH, j);
          escaped = nextBackslash !== -1 && nextBackslash < end;
        }
      }
      i = end;
      if (expectKey) {
        const messageKey = keys !== undefined && depth === messageLevel;
        if (messageKey || escaped || end - start - 1 === PROTO.length) {
          let key = shortAscii(bytes, start + 1, end) ?? bytes.toString('utf8', start + 1, end);
          if (escaped) {
            try {
              key = JSON.parse(bytes.toString('utf8', start, end + 1)) as string;
            } catch {
              return undefined; // malformed string: JSON.parse reports it
            }
          }
          if (key === PROTO) return 'a member named "__proto__" is not allowed';
          if (messageKey && keys) {
            if (keys.includes(key)) return `duplicate member "${key.slice(0, 64)}" in a JSON-RPC message`;
            keys.push(key);
          }
        }
      }
      expectKey = false;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return `JSON nesting deeper than ${maxDepth} levels`;
      const object = c === OPEN_OBJECT;
      isObject[depth] = object ? 1 : 0;
      expectKey = object;
      if (object && uniqueMessageKeys && (depth === 1 || (depth === 2 && isObject[1] === 0))) {
        messageLevel = depth;
        keys = [];
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === messageLevel) {
        messageLevel = 0;
        keys = undefined;
      }
      if (depth > 0) depth--;
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = depth > 0 && isObject[depth] === 1;
    }
  }
  return undefined;
}

/**
 * The same depth bound for a value that is already built (messages an upstream library
 * parsed for us). Iterative, and stops as soon as the bound is passed.
 */
export function valueDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth > maxDepth) return true;
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}
