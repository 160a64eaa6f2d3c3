/**
 * The JSON Schemas tools/list advertises, trimmed to what an agent uses to write a call and read an
 * answer (issue 15: the tool list is paid for in every conversation's context). Validation stays
 * where it is: invokeTool checks the arguments with the full zod schemas and words the errors, so
 * nothing here loosens what the server accepts.
 *
 * Input: zod's safe-integer bounds, length limits, nested `additionalProperties: false`,
 *   `propertyNames` and regexes go (the server's error names the format), and so do a description
 *   that only repeats the enum and the descriptions inside an argument (a NIC's fields are named; the
 *   argument's own description gives an example); enums, defaults and numeric ranges stay.
 * Output schemas are not advertised over MCP: the text block renders every field for the model, the
 *   structuredContent is there for programs, and the REST door's OpenAPI document has the full
 *   response schemas. (The output schemas were 57% of the list, and 70 of Inspector's 72
 *   portability warnings.)
 */

type Json = Record<string, unknown>;

const safeInteger = 9007199254740991;
const dropped = new Set(['$schema', 'propertyNames', 'pattern', 'maxLength', 'minLength', 'maxItems', 'minItems', 'format']);

/** "list | create | delete" beside enum [list, create, delete] says nothing the enum does not. */
function repeatsEnum(description: unknown, values: unknown): boolean {
  if (typeof description !== 'string' || !Array.isArray(values)) return false;
  // "What to do: start, stop, ..." is the enum again after a short lead-in
  const listed = description.replace(/^[^:]{0,20}:\s*/, '');
  const words = listed.split(/[\s|,/]+|\bor\b/).map((word) => word.trim()).filter(Boolean);
  return words.length > 0 && words.every((word) => values.includes(word));
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** depth: 0 the root, 1 an argument, 2+ inside an argument (a NIC's fields: named, not described). */
function trimInputNode(node: unknown, depth: number): unknown {
  if (Array.isArray(node)) return node.map((item) => trimInputNode(item, depth));
  if (!isObject(node)) return node;
  const root = depth === 0;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (dropped.has(key)) continue;
    if (key === 'description' && depth > 1) continue;
    if ((key === 'minimum' && value === -safeInteger) || (key === 'maximum' && value === safeInteger)) continue;
    if (key === 'additionalProperties' && value === false && !root) continue;
    if (key === 'description' && repeatsEnum(value, node.enum)) continue;
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, trimInputNode(schema, depth + 1)]));
      continue;
    }
    out[key] = trimInputNode(value, depth);
  }
  return out;
}

/**
 * The runtime's own arguments, which every changing tool takes, in a few words each: the answer that
 * asks for them (approval_required) says how to use them, and the server instructions explain it once.
 */
const runtimeWords: Record<string, string> = {
  confirmation_id: 'Only to retry after approval_required: the approval id it gave',
  wait_seconds: 'Only when approval is needed: seconds to wait for it',
};

export function trimInputSchema(schema: Json): Json {
  const out = trimInputNode(schema, 0) as Json;
  if (isObject(out.properties)) {
    for (const [name, words] of Object.entries(runtimeWords)) {
      const property = out.properties[name];
      if (isObject(property) && typeof property.description === 'string' && property.description.length > words.length) property.description = words;
    }
  }
  return out;
}
