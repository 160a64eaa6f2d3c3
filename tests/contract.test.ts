import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import contractJson from '../lib/pve/api-contract.json' with { type: 'json' };
import { SIMULATOR_ROUTES } from '../lib/simulator/index.ts';
import { projectRoot } from '../lib/paths.ts';

interface Node {
  path: string;
  info?: Record<string, { parameters?: { properties?: Record<string, { type?: string; optional?: number }> } }>;
  children?: Node[];
}
type Contract = { endpoints: Record<string, { since?: string; params: Record<string, { type: string; optional?: number; since?: string }> }> };
const contract = contractJson as unknown as Contract;

const apiDir = join(projectRoot, '..', 'shared', 'pve-api');
const haveSchemas = existsSync(join(apiDir, 'schema-8.4.json')) && existsSync(join(apiDir, 'schema-9.1.json'));

function load(file: string): Map<string, Record<string, { type?: string; optional?: number }>> {
  const out = new Map<string, Record<string, { type?: string; optional?: number }>>();
  const visit = (n: Node) => {
    for (const [m, info] of Object.entries(n.info ?? {})) out.set(`${m} ${n.path}`, info.parameters?.properties ?? {});
    for (const c of n.children ?? []) visit(c);
  };
  for (const root of JSON.parse(readFileSync(join(apiDir, file), 'utf8')) as Node[]) visit(root);
  return out;
}

describe('endpoint contract', () => {
  test('every simulator route is in the contract, and every contract entry is served', () => {
    const keys = Object.keys(contract.endpoints);
    expect(SIMULATOR_ROUTES.filter((r) => !keys.includes(r))).toEqual([]);
    expect(keys.filter((k) => !SIMULATOR_ROUTES.includes(k))).toEqual([]);
  });

  describe.skipIf(!haveSchemas)('against the official schemas (../shared/pve-api)', () => {
    const s84 = haveSchemas ? load('schema-8.4.json') : new Map();
    const s91 = haveSchemas ? load('schema-9.1.json') : new Map();

    test.each(Object.keys(contract.endpoints))('%s', (key) => {
      const entry = contract.endpoints[key];
      const p91 = s91.get(key);
      expect(p91, `${key} missing from PVE 9.1 schema`).toBeDefined();
      const p84 = s84.get(key);
      if (entry.since !== '9') expect(p84, `${key} missing from PVE 8.4 schema`).toBeDefined();
      expect(Object.keys(entry.params).sort()).toEqual(Object.keys(p91!).sort());
      for (const [name, spec] of Object.entries(entry.params)) {
        expect(spec.type, `${key} ${name} type`).toBe(p91![name].type);
        expect(!!spec.optional, `${key} ${name} optional`).toBe(!!p91![name].optional);
        if (p84) {
          if (spec.since === '9') expect(p84[name], `${key} ${name} marked since 9 but exists in 8.4`).toBeUndefined();
          else expect(p84[name], `${key} ${name} only in 9.1 but not marked since: "9"`).toBeDefined();
        }
      }
      if (p84) {
        // 8.4 parameters that 9.x removed (e.g. vzdump's notification-policy) are left out on purpose:
        // the contract is what works on both versions. Anything else 8.4 has must be in the contract.
        const missing = Object.keys(p84).filter((n) => !(n in entry.params) && n in p91!);
        expect(missing, `${key}: 8.4 parameters missing from the contract`).toEqual([]);
      }
    });
  });

  test.runIf(!haveSchemas)('schema comparison skipped: ../shared/pve-api not found next to the repository', () => {
    console.warn(`contract.test: ${apiDir} is absent; skipping the comparison with the official PVE schemas`);
  });
});
