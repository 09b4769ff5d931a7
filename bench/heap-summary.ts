// npx tsx bench/heap-summary.ts <after.heapsnapshot> [<before.heapsnapshot>] [--per N]
// What a V8 heap snapshot holds by constructor (objects, self bytes), or what grew from
// `before` to `after`; with --per N (e.g. the streams opened in between), bytes per one.
// A diagnostic for the waiting bench (BENCH_HEAP_SNAPSHOT=1 writes both snapshots).
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}
type Groups = Map<string, { count: number; bytes: number }>;

function groups(file: string): Groups {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const result: Groups = new Map();
  for (let i = 0; i < heap.nodes.length; i += fields.length) {
    const type = types[heap.nodes[i + typeAt!]!]!;
    const named = type === 'object' || type === 'closure' || type === 'native';
    const key = named ? `${type} ${heap.strings[heap.nodes[i + nameAt!]!]}` : type;
    const group = result.get(key) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += heap.nodes[i + sizeAt!]!;
    result.set(key, group);
  }
  return result;
}

const args = process.argv.slice(2);
const perAt = args.indexOf('--per');
const per = perAt >= 0 ? Number(args[perAt + 1]) : 1;
const [afterFile, beforeFile] = args.filter(
  (_, i) => perAt < 0 || (i !== perAt && i !== perAt + 1),
);
if (!afterFile) {
  console.error('usage: tsx bench/heap-summary.ts <after> [<before>] [--per N]');
  process.exit(2);
}
const after = groups(afterFile);
const before: Groups = beforeFile
  ? groups(beforeFile)
  : new Map<string, { count: number; bytes: number }>();
const rows = [...new Set([...after.keys(), ...before.keys()])].map((key) => ({
  key,
  count: (after.get(key)?.count ?? 0) - (before.get(key)?.count ?? 0),
  bytes: (after.get(key)?.bytes ?? 0) - (before.get(key)?.bytes ?? 0),
}));
const total = rows.reduce((sum, row) => sum + row.bytes, 0);
console.log(
  `${beforeFile ? 'grew' : 'heap'} ${(total / 2 ** 20).toFixed(1)} MB; ${(total / per).toFixed(0)} B per ${per}`,
);
for (const row of rows.sort((a, b) => b.bytes - a.bytes).slice(0, 40))
  console.log(
    `${(row.bytes / per).toFixed(0).padStart(7)} B ${(row.count / per).toFixed(2).padStart(7)} objects per one  ${row.key.slice(0, 70)}`,
  );
