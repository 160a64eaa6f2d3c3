/**
 * Which Node lines the project supports, said the same way everywhere: package.json engines, the image
 * (Dockerfile's node stage and the local stand-in deploy/build-base.sh makes), and CI's second run (.ci/run).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../lib/paths.ts';

const read = (path: string) => readFileSync(projectPath(path), 'utf8');
const version = (text: string) => text.split('.').map(Number) as [number, number, number];

/** Whether a version satisfies an engines range made of `^x.y.z` and `>=x.y.z` alternatives (all ours uses). */
function satisfies(candidate: string, range: string): boolean {
  const [major, minor, patch] = version(candidate.replace(/^v/, ''));
  const at = (other: [number, number, number]) => major * 1e6 + minor * 1e3 + patch - (other[0] * 1e6 + other[1] * 1e3 + other[2]);
  return range.split('||').some((alternative) => {
    const term = alternative.trim();
    const caret = /^\^(\d+\.\d+\.\d+)$/.exec(term);
    if (caret) return major === version(caret[1])[0] && at(version(caret[1])) >= 0;
    const atLeast = /^>=(\d+\.\d+\.\d+)$/.exec(term);
    if (atLeast) return at(version(atLeast[1])) >= 0;
    throw new Error(`engines term this test cannot read: ${term}`);
  });
}

describe('supported Node lines', () => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;

  it('engines: 24 and 22 (from 22.12, as vite needs), 20 from 20.19; not 21, not older', () => {
    for (const ok of ['24.0.0', '24.21.0', '22.12.0', '22.23.5', '20.19.0', '20.20.2', '25.1.0']) expect(satisfies(ok, engines), ok).toBe(true);
    for (const no of ['22.11.0', '21.7.3', '20.18.3', '18.20.8']) expect(satisfies(no, engines), no).toBe(false);
  });

  it('the Node running these tests is a supported one', () => {
    expect(satisfies(process.version, engines), process.version).toBe(true);
  });

  it('the image runs Node 24: the Dockerfile node stage, the local stand-in image and CI agree', () => {
    expect(read('Dockerfile')).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    const standIn = /^NODE_VERSION="\$\{NODE_VERSION:-(\d+\.\d+\.\d+)\}"$/m.exec(read('deploy/build-base.sh'));
    expect(standIn?.[1]).toMatch(/^24\./);
    const ci = /^second_node="\$\{CI_SECOND_NODE:-(\d+\.\d+\.\d+)\}"$/m.exec(read('.ci/run'));
    expect(ci?.[1]).toMatch(/^24\./);
    expect(satisfies(ci![1], engines)).toBe(true);
    const alternative = /CI_SECOND_NODE_ALT:-(\d+\.\d+\.\d+)/.exec(read('.ci/run'));
    expect(alternative?.[1]).toMatch(/^22\./);
    expect(satisfies(alternative![1], engines)).toBe(true);
  });
});
