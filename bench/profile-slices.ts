// `node bench/profile-slices.ts <dir> [process] [rows] [slice|batch]`: where each process spent its
// CPU during the maximum-rate slices (or the batch phase) of a `BENCH_CPU_PROFILE_DIR=<dir> pnpm bench` run. Each process's V8
// profile covers its whole life (set-up, warm-up, the other pipeline's slices, the half-rate run);
// only the samples inside its own pipeline's slices (`slices.jsonl`) are counted here, as self
// time by function and by package, in milliseconds per slice-second and in per cent of the
// process's busy samples.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface Profile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}
interface Window {
  readonly phase: 'slice' | 'batch';
  readonly processes: readonly string[];
  readonly startUs: string;
  readonly endUs: string;
}

const [dir, only, rowsArg, phase] = process.argv.slice(2);
if (!dir) throw new Error('usage: node bench/profile-slices.ts <dir> [process|all] [rows] [slice|batch]');
const rows = Number(rowsArg ?? 25);
const windows = readFileSync(join(dir, 'slices.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as Window);

const where = (url: string) =>
  url.replace(/.*node_modules\/\.pnpm\/([^/]+)\/.*/, '$1').replace(/.*\/(apps|packages)\//, '$1/');
const IDLE = new Set(['(idle)', '(program)']);

// A process name may have several profiles (the e2e phase's api, then the batch phase's): each
// is cut to the windows of that name, so the phases' samples add up without overlapping.
const profilesByName = new Map<string, string[]>();
for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const name = file.replace(/\.\d+\.cpuprofile$/, '');
  profilesByName.set(name, [...(profilesByName.get(name) ?? []), file]);
}

for (const [name, files] of profilesByName) {
  if (only && only !== 'all' && name !== only) continue;
  const mine = windows
    .filter((w) => w.processes.includes(name) && (phase === undefined || w.phase === phase))
    .map((w) => [Number(w.startUs), Number(w.endUs)] as const);
  if (mine.length === 0) continue;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let busyUs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    let at = profile.startTime;
    for (const [i, id] of profile.samples.entries()) {
      at += profile.timeDeltas[i] ?? 0;
      if (!mine.some(([from, to]) => at >= from && at < to)) continue;
      const frame = frames.get(id);
      if (!frame || IDLE.has(frame.functionName)) continue;
      const delta = profile.timeDeltas[i + 1] ?? 0;
      busyUs += delta;
      const fn = `${frame.functionName || '(anonymous)'} ${where(frame.url)}:${frame.lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta);
      const place = frame.url
        ? where(frame.url).replace(/(apps|packages)\/([^/]+)\/.*/, '$1/$2')
        : frame.functionName;
      byPlace.set(place, (byPlace.get(place) ?? 0) + delta);
    }
  }
  const seconds = mine.reduce((sum, [from, to]) => sum + (to - from), 0) / 1e6;
  console.log(`\n${name}: busy ${(busyUs / 1000 / seconds).toFixed(0)} ms per slice-second`);
  const top = (m: Map<string, number>, title: string) => {
    console.log(`  ${title}`);
    for (const [key, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      console.log(`  ${((100 * us) / busyUs).toFixed(1).padStart(5)} %  ${key}`);
    }
  };
  top(byPlace, 'by package or app');
  top(byFunction, 'by function');
}
