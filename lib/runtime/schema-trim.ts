/**
 * The JSON Schemas tools/list advertises, trimmed to what an agent uses to write a call and read an
 * answer (issue 15: the tool list is paid for in every conversation's context). Validation stays
 * where it is: invokeTool checks the arguments with the full zod schemas and words the errors, so
 * nothing here loosens what the server accepts.
 *
 * Input: zod's safe-integer bounds, length limits, nested `additionalProperties: false`,
 *   `propertyNames` and regexes go (the server's error names the format), and so do a description
 *   that only repeats the enum and the descriptions inside an argument (a NIC's fields are named; the
 *   argument's own description gives an example, also inside array items); a description that only
 *   echoes the argument's name, the VMID range and `default: false` go; a list taken as an array or a
 *   comma string is listed as the array; the runtime's confirmation_id and wait_seconds are not listed.
 *   Enums, other defaults and numeric ranges stay.
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

const letters = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

/** `vmid: {description: "VMID"}`, `node: {description: "Node"}`: the name again, nothing more. */
function withoutEcho(name: string, schema: unknown): unknown {
  if (!isObject(schema) || typeof schema.description !== 'string' || letters(schema.description) !== letters(name)) return schema;
  const { description: _echo, ...rest } = schema;
  return rest;
}

/**
 * One form to list where the server takes two spellings of the same thing: a list as an array or a comma
 * string (fields, sshkeys) is listed as the array, a cursor as a string or a number as the string. The
 * server still takes both (invokeTool validates with the full zod schema).
 */
function loneForm(alternatives: unknown[]): Json | undefined {
  if (alternatives.length !== 2 || !alternatives.every(isObject)) return undefined;
  const [a, b] = alternatives as Json[];
  const isStringArray = (node: Json) => node.type === 'array' && isObject(node.items) && node.items.type === 'string';
  if (isStringArray(a!) && b!.type === 'string') return a;
  if (isStringArray(b!) && a!.type === 'string') return b;
  if (a!.type === 'string' && b!.type === 'integer' && b!.minimum === 0) return a;
  return undefined;
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
    // An id's range (VMIDs: 100..999999999) tells an agent nothing the name does not.
    if (key === 'minimum' && value === 100 && node.maximum === 999_999_999) continue;
    if (key === 'maximum' && value === 999_999_999 && node.minimum === 100) continue;
    // An optional boolean that defaults to false says nothing by its default.
    if (key === 'default' && value === false && node.type === 'boolean') continue;
    if (key === 'anyOf' && Array.isArray(value)) {
      const single = loneForm(value);
      if (single) {
        Object.assign(out, trimInputNode(single, depth));
        continue;
      }
    }
    if (key === 'items') {
      out.items = trimInputNode(value, Math.max(depth + 1, 2));
      continue;
    }
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, withoutEcho(name, trimInputNode(schema, depth + 1))]));
      continue;
    }
    out[key] = trimInputNode(value, depth);
  }
  return out;
}

/**
 * The runtime's own arguments, which every changing tool accepts (confirmation_id, and wait_seconds
 * unless the tool has its own): they are not listed at all. Only an answer that asks for them uses them
 * (approval_required says how, with the id to send), the server instructions explain them once, and
 * the runtime accepts them on every changing tool whether listed or not (strict-input runtimeArguments).
 * Listed on each of ~20 changing tools they cost about 4,500 characters of every conversation.
 */
const runtimeDescriptions: Record<string, RegExp> = {
  confirmation_id: /^Only when a previous call answered "approval_required"/,
  wait_seconds: /^When the call needs a human's approval/,
};

export function trimInputSchema(schema: Json): Json {
  const properties = isObject(schema.properties) ? { ...schema.properties } : undefined;
  if (properties) {
    for (const [name, runtime] of Object.entries(runtimeDescriptions)) {
      const property = properties[name];
      if (isObject(property) && typeof property.description === 'string' && runtime.test(property.description)) delete properties[name];
    }
  }
  return trimInputNode(properties ? { ...schema, properties } : schema, 0) as Json;
}
