/**
 * Print the top frames of a V8 CPU profile (`node --cpu-prof`, or BENCH_CPU_PROF=<dir> npm run bench):
 *   node dist/bench/profile-top.js <file.cpuprofile> [how many]
 * Self time by function, self time by package/file, and inclusive time of our own functions.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return url;
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 6) : url;
}

function main(): void {
  const [file, howMany = '25'] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/bench/profile-top.js <file.cpuprofile> [n]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const n = Number(howMany);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);

  const label = (node: Node) => `${node.callFrame.functionName || '(anonymous)'} ${where(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  const selfByFn = new Map<string, number>();
  const selfByPkg = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    selfByFn.set(label(node), (selfByFn.get(label(node)) ?? 0) + us);
    const pkg = ['(idle)', '(garbage collector)', '(program)'].includes(node.callFrame.functionName) ? node.callFrame.functionName : where(node.callFrame.url);
    selfByPkg.set(pkg, (selfByPkg.get(pkg) ?? 0) + us);
    // Inclusive: each distinct frame on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = label(byId.get(cur)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const show = (title: string, map: Map<string, number>, filter: (key: string) => boolean = () => true) => {
    console.log(`\n${title}`);
    for (const [key, us] of [...map.entries()].filter(([key]) => filter(key)).sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  };
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (percentages are of busy time)`);
  show('self time by package / file', selfByPkg);
  show('self time by function', selfByFn, (key) => !key.startsWith('(idle)'));
  show('inclusive time, our code (lib/, functions/)', inclusive, (key) => / (lib|functions)\//.test(key));
  show('inclusive time, dependencies', inclusive, (key) => /node_modules|@/.test(key) && !/ (lib|functions)\//.test(key));
}

main();
