/**
 * The endpoint contract (lib/pve/api-contract.json) against the official schemas of both versions the
 * simulator speaks: resolved for a version (endpointsFor), every endpoint and parameter must be exactly that
 * version's, with its type, optional flag, enum and permission check; and the simulator as that version serves
 * exactly the contract's endpoints of that version.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import contractJson from '../lib/pve/api-contract.json' with { type: 'json' };
import { endpointsFor, PVE_VERSIONS, type PveVersion } from '../lib/simulator/contract.ts';
import { createSimulator, SIMULATOR_ROUTES, simulatorRoutes } from '../lib/simulator/index.ts';
import { projectRoot } from '../lib/paths.ts';

type SchemaParam = { type?: string; optional?: number; enum?: string[]; format?: unknown };
type SchemaMethod = { parameters?: { properties?: Record<string, SchemaParam> }; permissions?: Record<string, unknown> };
interface Node {
  path: string;
  info?: Record<string, SchemaMethod>;
  children?: Node[];
}
const contract = contractJson as unknown as { endpoints: Record<string, unknown> };

const apiDir = join(projectRoot, '..', 'shared', 'pve-api');
const schemaFile: Record<PveVersion, string> = { '8.4': 'schema-8.4.json', '9.1': 'schema-9.1.json' };
const haveSchemas = PVE_VERSIONS.every((v) => existsSync(join(apiDir, schemaFile[v])));

function load(version: PveVersion): Map<string, SchemaMethod> {
  const out = new Map<string, SchemaMethod>();
  const visit = (n: Node) => {
    for (const [m, info] of Object.entries(n.info ?? {})) out.set(`${m} ${n.path}`, info);
    for (const c of n.children ?? []) visit(c);
  };
  for (const root of JSON.parse(readFileSync(join(apiDir, schemaFile[version]), 'utf8')) as Node[]) visit(root);
  return out;
}

function compactPermissions(perm: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!perm) return null;
  const out: Record<string, unknown> = {};
  if (perm.check !== undefined) out.check = perm.check;
  if (perm.user !== undefined) out.user = perm.user;
  if (perm.description !== undefined && perm.check === undefined) out.description = perm.description;
  return out;
}

describe('endpoint contract', () => {
  test('every simulator route is in the contract, and every contract entry is served by some version', () => {
    const keys = Object.keys(contract.endpoints);
    expect(SIMULATOR_ROUTES.filter((r) => !keys.includes(r))).toEqual([]);
    expect(keys.filter((k) => !SIMULATOR_ROUTES.includes(k))).toEqual([]);
  });

  describe.each(PVE_VERSIONS)('PVE %s', (version) => {
    test('the simulator serves exactly the contract endpoints of this version; others answer 501', async () => {
      const own = Object.keys(endpointsFor(version)).sort();
      expect(simulatorRoutes(version).sort()).toEqual(own);
      const other = Object.keys(contract.endpoints).filter((k) => !own.includes(k));
      if (version === '8.4') expect(other).toContain('GET /cluster/ha/rules');
      const sim = createSimulator({ pveVersion: version, taskDurationMs: 0 });
      try {
        for (const key of other) {
          const [method, path] = key.split(' ');
          const concrete = path.replace(/\{[^}]+\}/g, 'x1');
          const res = await sim.fetch(new Request(`https://pve/api2/json${concrete}`, { method, headers: { authorization: `PVEAPIToken=${sim.defaultToken.tokenId}=${sim.defaultToken.secret}` } }));
          expect(res.status, key).toBe(501);
        }
      } finally {
        sim.close();
      }
    });

    describe.skipIf(!haveSchemas)(`against schema-${version}.json (../shared/pve-api)`, () => {
      const schema = haveSchemas ? load(version) : new Map<string, SchemaMethod>();
      const endpoints = endpointsFor(version);

      test.each(Object.keys(endpoints))('%s', (key) => {
        const entry = endpoints[key];
        const official = schema.get(key);
        expect(official, `${key} missing from the PVE ${version} schema`).toBeDefined();
        const props = official!.parameters?.properties ?? {};
        expect(Object.keys(entry.params).sort()).toEqual(Object.keys(props).sort());
        for (const [name, spec] of Object.entries(entry.params)) {
          const p = props[name];
          expect(spec.type, `${key} ${name} type`).toBe(p.type);
          expect(!!spec.optional, `${key} ${name} optional`).toBe(!!p.optional);
          expect(spec.enum ?? null, `${key} ${name} enum`).toEqual(p.enum ?? null);
          if (typeof p.format === 'string') expect(spec.format, `${key} ${name} format`).toBe(p.format);
        }
        expect(entry.permissions, `${key} permissions`).toEqual(compactPermissions(official!.permissions));
      });

      test('endpoints of this version that the contract marks as another version are really absent', () => {
        const absent = Object.entries(contract.endpoints as Record<string, { since?: string; until?: string }>)
          .filter(([, e]) => (version === '8.4' ? e.since === '9' : e.until === '8'))
          .map(([k]) => k);
        for (const key of absent) expect(schema.has(key), key).toBe(false);
      });
    });
  });

  test.runIf(!haveSchemas)('schema comparison skipped: ../shared/pve-api not found next to the repository', () => {
    console.warn(`contract.test: ${apiDir} is absent; skipping the comparison with the official PVE schemas`);
  });
});
