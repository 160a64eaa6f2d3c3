import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { changeTypes, findRelease, parseChangelog, releasesSince, type ChangelogRelease } from '../lib/self/changelog.ts';
import { changelogText } from '../lib/self/context.ts';
import { projectRoot } from '../lib/paths.ts';
import { parseSemVer } from '../lib/self/semver.ts';

const sections = z.object(Object.fromEntries(changeTypes.map((type) => [type, z.array(z.string()).optional()])) as Record<(typeof changeTypes)[number], z.ZodOptional<z.ZodArray<z.ZodString>>>);

const release = z.object({
  version: z.string(),
  date: z.string().nullable(),
  yanked: z.boolean(),
  sections,
  notes: z.array(z.string()),
});

export default defineTool({
  name: 'get_changelog',
  title: 'Changelog',
  description: 'The proxmox-mcp changelog, parsed: every release, one version, or everything since a version (e.g. the one before an update).',
  input: z.object({
    version: z.string().max(64).optional().describe('e.g. 0.2.0 or unreleased'),
    since: z.string().max(64).optional().describe('Everything newer than this'),
    include_unreleased: z.boolean().default(true).describe('Include the Unreleased section'),
  }),
  output: z.object({
    current_version: z.string(),
    releases: z.array(release),
    problems: z.array(z.string()),
  }),
  effect: 'read',
  async run(input, ctx) {
    if (input.version && input.since) throw new ToolError('invalid_input', 'Give either version or since, not both.');
    const root = ctx.services.runtime?.projectRoot ?? projectRoot;
    const text = changelogText(root);
    if (text === undefined) throw new ToolError('not_found', `There is no CHANGELOG.md in ${root}; the install is incomplete (reinstall, or copy CHANGELOG.md from the release).`);
    const changelog = parseChangelog(text);
    const currentVersion = ctx.services.runtime?.version ?? 'unknown';
    let releases: ChangelogRelease[];
    if (input.version) {
      const found = findRelease(changelog, input.version);
      if (!found) {
        throw new ToolError('not_found', `CHANGELOG.md has no entry for '${input.version}'. Versions in it: ${changelog.releases.map((r) => r.version).join(', ') || 'none'}.`);
      }
      releases = [found];
    } else if (input.since) {
      if (!parseSemVer(input.since)) throw new ToolError('invalid_input', `since: '${input.since}' is not a version such as 0.1.0.`);
      releases = releasesSince(changelog, input.since, input.include_unreleased);
    } else {
      releases = changelog.releases.filter((entry) => input.include_unreleased || entry.version !== 'Unreleased');
    }
    const count = (entry: ChangelogRelease) => Object.values(entry.sections).reduce((sum, list) => sum + (list?.length ?? 0), 0);
    return {
      data: { current_version: currentVersion, releases, problems: changelog.problems },
      summary: input.since
        ? `${releases.length} release(s) newer than ${input.since}, ${releases.reduce((sum, entry) => sum + count(entry), 0)} change(s)`
        : `${releases.length} release(s); running ${currentVersion}`,
      warnings: changelog.problems.length > 0 ? [`CHANGELOG.md has ${changelog.problems.length} line(s) the parser could not place (see problems).`] : [],
    };
  },
});
