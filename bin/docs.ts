/** Rewrite the README's tool table from the tool definitions: npm run docs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseCli } from '../lib/cli.ts';
import { replaceToolTable } from '../lib/docs.ts';
import { projectPath } from '../lib/paths.ts';
import { discoverTools } from '../lib/runtime/registry.ts';

parseCli({
  command: 'npm run docs --',
  summary: "Rewrite the README's tool table (between the tools:start and tools:end markers) from the tool definitions in functions/.",
  options: {},
  examples: ['npm run docs'],
});

const file = projectPath('README.md');
const tools = await discoverTools();
writeFileSync(file, replaceToolTable(readFileSync(file, 'utf8'), tools));
process.stdout.write(`README.md: tool table updated (${tools.length} tools)\n`);
