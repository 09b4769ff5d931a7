// npx tsx bench/heap-summary.ts <file.heapsnapshot> [divisor]
// What a V8 heap snapshot holds, by constructor: objects, self bytes, and (with a divisor,
// e.g. the number of open streams) bytes per stream. A diagnostic for the waiting bench.
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

const [file, divisorArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/heap-summary.ts <file.heapsnapshot> [divisor]');
  process.exit(2);
}
const divisor = Number(divisorArg ?? 1);
const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = heap.snapshot.meta.node_fields;
const types = heap.snapshot.meta.node_types[0];
const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
const groups = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < heap.nodes.length; i += fields.length) {
  const type = types[heap.nodes[i + typeAt!]!]!;
  const name =
    type === 'object' || type === 'closure' ? heap.strings[heap.nodes[i + nameAt!]!] : '';
  const key = `${type} ${name}`.trim();
  const bytes = heap.nodes[i + sizeAt!]!;
  total += bytes;
  const group = groups.get(key) ?? { count: 0, bytes: 0 };
  group.count++;
  group.bytes += bytes;
  groups.set(key, group);
}
const top = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 40);
console.log(
  `heap ${(total / 2 ** 20).toFixed(1)} MB; per ${divisor}: ${(total / divisor).toFixed(0)} B`,
);
for (const [key, { count, bytes }] of top)
  console.log(
    `${(bytes / 2 ** 20).toFixed(2).padStart(8)} MB ${String(count).padStart(9)}  ${(bytes / divisor).toFixed(0).padStart(6)} B/each-divisor  ${(count / divisor).toFixed(2).padStart(6)}/divisor  ${key.slice(0, 80)}`,
  );
