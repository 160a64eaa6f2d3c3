/** The README's tool table and variable list match the code. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toolTable, toolTableEnd, toolTableStart } from '../lib/docs.ts';
import { projectPath } from '../lib/paths.ts';
import { discoverTools } from '../lib/runtime/registry.ts';

const readme = readFileSync(projectPath('README.md'), 'utf8');

describe('README', () => {
  it('has the tool table generated from the definitions (run `npm run docs` after changing a tool)', async () => {
    const tools = await discoverTools();
    const start = readme.indexOf(toolTableStart) + toolTableStart.length;
    const end = readme.indexOf(toolTableEnd);
    expect(readme.slice(start, end).trim()).toBe(toolTable(tools).trim());
  });

  it('documents every environment variable the server reads', () => {
    const example = readFileSync(projectPath('.env.example'), 'utf8');
    const names = [...example.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]);
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) expect(readme, `${name} missing from README`).toContain(`\`${name}\``);
  });

  it('gives the two quick-start commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
