/**
 * Just enough Semantic Versioning for release tags: parse `1.2.3`, `v1.2.3`, `1.2.3-rc.1`, compare by
 * the semver precedence rules, and pick the newest release tag from a list.
 */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers (`rc.1` -> ['rc', '1']); empty for a release. */
  prerelease: string[];
  /** The text it was parsed from, without a leading `v`. */
  raw: string;
}

const pattern = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export function parseSemVer(text: string): SemVer | undefined {
  const match = pattern.exec(text.trim());
  if (!match) return undefined;
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3]),
    prerelease: match[4] ? match[4].split('.') : [],
    raw: text.trim().replace(/^v/, ''),
  };
}

function compareIdentifiers(a: string, b: string): number {
  const numericA = /^\d+$/.test(a);
  const numericB = /^\d+$/.test(b);
  if (numericA && numericB) return Math.sign(Number(a) - Number(b));
  if (numericA) return -1;
  if (numericB) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative when a < b, 0 when equal in precedence, positive when a > b. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const key of ['major', 'minor', 'patch'] as const) {
    if (a[key] !== b[key]) return Math.sign(a[key] - b[key]);
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return a.prerelease.length === b.prerelease.length ? 0 : a.prerelease.length === 0 ? 1 : -1;
  }
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    if (a.prerelease[i] === undefined) return -1;
    if (b.prerelease[i] === undefined) return 1;
    const order = compareIdentifiers(a.prerelease[i], b.prerelease[i]);
    if (order !== 0) return order;
  }
  return 0;
}

export function compareVersions(a: string, b: string): number {
  const left = parseSemVer(a);
  const right = parseSemVer(b);
  if (!left || !right) throw new Error(`not a semantic version: ${left ? b : a}`);
  return compareSemVer(left, right);
}

export interface ReleaseTag {
  tag: string;
  version: SemVer;
  /** The commit the tag points at, when known. */
  commit?: string;
}

/** Release tags are exactly `vX.Y.Z` (or `vX.Y.Z-pre` when pre-releases are wanted); anything else is ignored. */
export function releaseTags(tags: { tag: string; commit?: string }[], includePrereleases = false): ReleaseTag[] {
  const found: ReleaseTag[] = [];
  for (const { tag, commit } of tags) {
    if (!tag.startsWith('v')) continue;
    const version = parseSemVer(tag);
    if (!version || tag.includes('+')) continue;
    if (version.prerelease.length > 0 && !includePrereleases) continue;
    found.push({ tag, version, commit });
  }
  return found.sort((a, b) => compareSemVer(b.version, a.version));
}
