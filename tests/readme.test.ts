/** The README's tool table, variable list and commands match the code (first-hour-readme.test.ts runs the quick start). */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toolTable, toolTableEnd, toolTableStart } from '../lib/docs.ts';
import { projectPath, projectRoot } from '../lib/paths.ts';
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

describe('README commands exist as written', () => {
  const scripts = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } });

  it('every `npm run NAME` in the README and docs/ is a script in package.json', () => {
    const docs = [readme, ...readdirSync(projectPath('docs')).filter((file) => file.endsWith('.md')).map((file) => readFileSync(projectPath('docs', file), 'utf8'))];
    const named = new Set(docs.flatMap((text) => [...text.matchAll(/\bnpm run (?:--silent )?([a-z][\w:-]*)/g)].map((match) => match[1])));
    expect(named.size).toBeGreaterThan(3);
    for (const name of named) expect(scripts.scripts, `npm run ${name}`).toHaveProperty(name);
  });

  it('every ./script the README or docs/ tell a person to run is committed executable (mode 100755)', () => {
    const docs = [readme, ...readdirSync(projectPath('docs')).filter((file) => file.endsWith('.md')).map((file) => readFileSync(projectPath('docs', file), 'utf8'))];
    const named = new Set(docs.flatMap((text) => [...text.matchAll(/(?:^|[\s`(])\.\/([\w.-]+(?:\/[\w.-]+)*)/gm)].map((match) => match[1])));
    expect(named).toContain('setup.sh');
    const git = spawnSync('git', ['ls-files', '-s', '--', ...named], { cwd: projectRoot, encoding: 'utf8' });
    if (git.status !== 0) return; // not a git checkout (a release tarball): nothing to compare with
    const modes = new Map(git.stdout.trim().split('\n').filter(Boolean).map((line) => [line.split('\t')[1], line.split(' ')[0]]));
    expect(modes.get('setup.sh')).toBe('100755');
    for (const [path, mode] of modes) {
      if (readFileSync(projectPath(path), 'utf8').startsWith('#!')) expect(mode, `${path} is run as ./${path} but committed without its run bit`).toBe('100755');
    }
  });

  it('says which Node.js lines are supported, as package.json engines does', () => {
    expect(scripts.engines.node).toBe('^20.19.0 || >=22.12.0');
    expect(readme).toMatch(/Node\.js 24 or 22/);
    expect(readme).toMatch(/Node 20 is end of\s+life/);
  });
});
