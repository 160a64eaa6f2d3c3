/**
 * CHANGELOG.md in the Keep a Changelog format (https://keepachangelog.com/en/1.1.0/), parsed:
 *
 *   ## [Unreleased]
 *   ## [1.2.0] - 2026-01-31            (also `## 1.2.0 - 2026-01-31`, and `[YANKED]` after the date)
 *   ### Added | Changed | Deprecated | Removed | Fixed | Security
 *   - an entry (continuation lines indented under it belong to it)
 *
 * The parser is forgiving about what it cannot use (it reports it in `problems` instead of failing), so
 * a hand-edited file with a typo still answers get_changelog.
 */
import { compareVersions, parseSemVer } from './semver.ts';

export const changeTypes = ['Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security'] as const;
export type ChangeType = (typeof changeTypes)[number];

export interface ChangelogRelease {
  /** `Unreleased` or a semantic version without `v`. */
  version: string;
  /** ISO date (YYYY-MM-DD), null for Unreleased or when missing. */
  date: string | null;
  yanked: boolean;
  /** Only the sections that have entries, in file order. */
  sections: Partial<Record<ChangeType, string[]>>;
  /** Text under the heading that is not in a known section. */
  notes: string[];
}

export interface Changelog {
  /** Newest first, as in the file (Unreleased first when present). */
  releases: ChangelogRelease[];
  /** Lines the parser could not place, with their line numbers. */
  problems: string[];
}

const releaseHeading = /^##\s+\[?([^\]\s]+)\]?(?:\s+-\s+(\S+))?(?:\s+\[YANKED\])?\s*$/i;
const sectionHeading = /^###\s+(.+?)\s*$/;
const linkReference = /^\[[^\]]+\]:\s*\S+/;

export function parseChangelog(text: string): Changelog {
  const releases: ChangelogRelease[] = [];
  const problems: string[] = [];
  let release: ChangelogRelease | undefined;
  let section: ChangeType | undefined;
  let sectionIsUnknown = false;
  let lastEntry: { list: string[]; index: number } | undefined;

  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    if (/^##\s/.test(line)) {
      const match = releaseHeading.exec(line);
      section = undefined;
      lastEntry = undefined;
      if (!match) {
        problems.push(`line ${lineNo}: release heading not understood: ${line.trim()}`);
        release = undefined;
        return;
      }
      const name = match[1];
      const unreleased = name.toLowerCase() === 'unreleased';
      const version = unreleased ? 'Unreleased' : parseSemVer(name)?.raw;
      if (!version) {
        problems.push(`line ${lineNo}: '${name}' is not a semantic version (expected e.g. [1.2.3] - 2026-01-31)`);
        release = undefined;
        return;
      }
      let date: string | null = match[2] ?? null;
      if (date && !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
        problems.push(`line ${lineNo}: date '${date}' of ${version} is not YYYY-MM-DD`);
        date = null;
      }
      if (!unreleased && !date) problems.push(`line ${lineNo}: release ${version} has no date`);
      release = { version, date: unreleased ? null : date, yanked: /\[YANKED\]/i.test(line), sections: {}, notes: [] };
      releases.push(release);
      return;
    }
    if (!release) return; // title and preamble
    const sectionMatch = sectionHeading.exec(line);
    if (sectionMatch) {
      lastEntry = undefined;
      const name = changeTypes.find((type) => type.toLowerCase() === sectionMatch[1].toLowerCase());
      if (!name) {
        problems.push(`line ${lineNo}: unknown section '${sectionMatch[1]}' in ${release.version} (Keep a Changelog uses ${changeTypes.join(', ')})`);
        section = undefined;
        sectionIsUnknown = true;
        return;
      }
      section = name;
      sectionIsUnknown = false;
      release.sections[name] ??= [];
      return;
    }
    if (line.trim() === '' || linkReference.test(line.trim())) return;
    const entry = /^[-*+]\s+(.*)$/.exec(line);
    if (entry && section) {
      const list = release.sections[section] as string[];
      list.push(entry[1].trim());
      lastEntry = { list, index: list.length - 1 };
      return;
    }
    if (/^\s+\S/.test(line) && lastEntry) {
      lastEntry.list[lastEntry.index] += ' ' + line.trim();
      return;
    }
    if (!section && !sectionIsUnknown) {
      release.notes.push(line.trim());
      return;
    }
    if (sectionIsUnknown) {
      release.notes.push(line.trim());
      return;
    }
    problems.push(`line ${lineNo}: text outside a list entry in ${release.version}: ${line.trim().slice(0, 80)}`);
  });
  return { releases, problems };
}

/** The newest release with a version number (Unreleased skipped); undefined when there is none. */
export function latestRelease(changelog: Changelog): ChangelogRelease | undefined {
  const released = changelog.releases.filter((release) => release.version !== 'Unreleased');
  return released.sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** One version (`1.2.0`, `v1.2.0` or `unreleased`). */
export function findRelease(changelog: Changelog, version: string): ChangelogRelease | undefined {
  if (version.toLowerCase() === 'unreleased') return changelog.releases.find((release) => release.version === 'Unreleased');
  const wanted = parseSemVer(version);
  if (!wanted) return undefined;
  return changelog.releases.find((release) => release.version !== 'Unreleased' && compareVersions(release.version, wanted.raw) === 0);
}

/** Every release newer than `version` (exclusive), newest first; Unreleased included when asked. */
export function releasesSince(changelog: Changelog, version: string, includeUnreleased = false): ChangelogRelease[] {
  const since = parseSemVer(version);
  if (!since) throw new Error(`'${version}' is not a semantic version`);
  return changelog.releases.filter((release) =>
    release.version === 'Unreleased' ? includeUnreleased : compareVersions(release.version, since.raw) > 0,
  );
}
