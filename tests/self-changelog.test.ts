/** The Keep a Changelog parser, get_changelog through both doors, and CHANGELOG.md agreeing with package.json. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRelease, latestRelease, parseChangelog, releasesSince } from '../lib/self/changelog.ts';
import { projectPath } from '../lib/paths.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';

const sample = `# Changelog

All notable changes are written down here.

## [Unreleased]

### Added
- A thing on the way.

## [1.1.0] - 2026-03-01

Some notes about this release.

### Added
- Feature one, described on
  two lines.
- Feature two.

### Fixed
- A bug.

### Security
- Token comparison in constant time.

## [1.0.1] - 2026-02-01 [YANKED]

### Fixed
- Something that turned out wrong.

## 1.0.0 - 2026-01-01

### Removed
- The old thing.

[Unreleased]: https://example.invalid/compare/v1.1.0...HEAD
[1.1.0]: https://example.invalid/compare/v1.0.1...v1.1.0
`;

describe('the changelog parser', () => {
  const changelog = parseChangelog(sample);

  it('reads versions, dates, sections and multi-line entries', () => {
    expect(changelog.problems).toEqual([]);
    expect(changelog.releases.map((release) => release.version)).toEqual(['Unreleased', '1.1.0', '1.0.1', '1.0.0']);
    const release = changelog.releases[1];
    expect(release.date).toBe('2026-03-01');
    expect(release.sections.Added).toEqual(['Feature one, described on two lines.', 'Feature two.']);
    expect(release.sections.Fixed).toEqual(['A bug.']);
    expect(release.sections.Security).toEqual(['Token comparison in constant time.']);
    expect(release.notes).toEqual(['Some notes about this release.']);
    expect(changelog.releases[2].yanked).toBe(true);
    expect(changelog.releases[3]).toMatchObject({ version: '1.0.0', date: '2026-01-01', sections: { Removed: ['The old thing.'] } });
  });

  it('keeps Unreleased apart from the releases', () => {
    expect(changelog.releases[0]).toMatchObject({ version: 'Unreleased', date: null, sections: { Added: ['A thing on the way.'] } });
    expect(latestRelease(changelog)?.version).toBe('1.1.0');
    expect(findRelease(changelog, 'unreleased')?.version).toBe('Unreleased');
  });

  it('finds one version and everything since a version', () => {
    expect(findRelease(changelog, 'v1.0.1')?.version).toBe('1.0.1');
    expect(findRelease(changelog, '2.0.0')).toBeUndefined();
    expect(releasesSince(changelog, '1.0.0').map((release) => release.version)).toEqual(['1.1.0', '1.0.1']);
    expect(releasesSince(changelog, '1.0.1', true).map((release) => release.version)).toEqual(['Unreleased', '1.1.0']);
    expect(releasesSince(changelog, '1.1.0')).toEqual([]);
    expect(() => releasesSince(changelog, 'yesterday')).toThrow(/not a semantic version/);
  });

  it('reports malformed input instead of failing', () => {
    const broken = parseChangelog(
      ['# Changelog', '## [one point oh] - 2026-01-01', '- lost entry', '## [1.0.0] - 01/02/2026', '### Improved', '- an entry in an unknown section', '### Fixed', '- fine', 'stray text', '## [0.9.0]', '### Added', '- old'].join('\n'),
    );
    expect(broken.releases.map((release) => release.version)).toEqual(['1.0.0', '0.9.0']);
    expect(broken.releases[0].date).toBeNull();
    expect(broken.releases[0].sections).toEqual({ Fixed: ['fine'] });
    const problems = broken.problems.join('\n');
    expect(problems).toMatch(/line 2: 'one' is not a semantic version|line 2: release heading not understood/);
    expect(problems).toMatch(/date '01\/02\/2026' of 1\.0\.0 is not YYYY-MM-DD/);
    expect(problems).toMatch(/unknown section 'Improved'/);
    expect(problems).toMatch(/line 9: text outside a list entry/);
    expect(problems).toMatch(/release 0\.9\.0 has no date/);
    expect(parseChangelog('').releases).toEqual([]);
    expect(parseChangelog('\r\n## [1.0.0] - 2026-01-01\r\n### Added\r\n- crlf\r\n').releases[0].sections.Added).toEqual(['crlf']);
  });
});

describe('the project\'s own CHANGELOG.md', () => {
  it('parses cleanly, and its newest release is the version in package.json', () => {
    const changelog = parseChangelog(readFileSync(projectPath('CHANGELOG.md'), 'utf8'));
    expect(changelog.problems).toEqual([]);
    const pkg = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string };
    expect(latestRelease(changelog)?.version).toBe(pkg.version);
    expect(changelog.releases[0].version).toBe('Unreleased');
  });
});

describe('get_changelog through both doors', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
  });
  afterAll(async () => {
    await ts?.close();
  });

  it('gives every release over REST, and the running version', async () => {
    const response = await callRest(ts.url, ts.adminToken, 'get_changelog', {});
    expect(response.status).toBe(200);
    expect(response.body.data.current_version).toBe(ts.server.info.version);
    expect(response.body.data.releases.some((release: { version: string }) => release.version === ts.server.info.version)).toBe(true);
  });

  it('gives one version, or what changed since one, over MCP; unknown versions are a clear 404', async () => {
    const viewer = await ts.createToken({ role: 'viewer' });
    const client = await connectClient(ts.mcpUrl, viewer);
    try {
      const one = await client.callTool({ name: 'get_changelog', arguments: { version: `v${ts.server.info.version}` } });
      expect((one.structuredContent as any).data.releases).toHaveLength(1);
      const since = await client.callTool({ name: 'get_changelog', arguments: { since: '0.0.1', include_unreleased: false } });
      expect((since.structuredContent as any).data.releases.every((release: { version: string }) => release.version !== 'Unreleased')).toBe(true);
      const missing = await client.callTool({ name: 'get_changelog', arguments: { version: '99.0.0' } });
      expect(missing.isError).toBe(true);
    } finally {
      await client.close();
    }
    const rest = await callRest(ts.url, viewer, 'get_changelog', { version: '99.0.0' });
    expect(rest.status).toBe(404);
    expect(rest.body.error.message).toMatch(/no entry for '99\.0\.0'/);
  });
});
