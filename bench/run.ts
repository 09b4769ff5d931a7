// npm run bench [-- <scenario>...] [--smoke]
// Runs the scenarios, prints a table, writes bench/results/latest.json and BENCHMARKS.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { scenarios, type ScenarioResult } from './scenarios.js';
import { benchDatabaseServer } from './support.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const names = args.filter((arg) => !arg.startsWith('--'));
for (const name of names) {
  if (!(name in scenarios)) {
    console.error(`unknown scenario "${name}"; known: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
}
const selected = names.length > 0 ? names : Object.keys(scenarios);

const server = await benchDatabaseServer();
const machine = {
  date: new Date().toISOString(),
  cores: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  postgres: server.version,
  smoke,
};
const results: (ScenarioResult | { scenario: string; error: string })[] = [];
let failed = false;
try {
  for (const name of selected) {
    console.log(`\n== ${name}${smoke ? ' (smoke)' : ''}`);
    try {
      const result = await scenarios[name]!({
        smoke,
        createDatabase: () => server.createDatabase(),
      });
      results.push(result);
      for (const figure of result.figures) {
        const baseline =
          figure.baseline !== undefined
            ? `  baseline ${figure.baseline}${figure.unit} (ratio ${(figure.value / figure.baseline).toFixed(2)})`
            : '';
        const target = figure.target
          ? `  target ${figure.target}: ${figure.met ? 'met' : 'NOT met'}`
          : '';
        console.log(`  ${figure.name}: ${figure.value}${figure.unit}${baseline}${target}`);
      }
      for (const note of result.notes) console.log(`  (${note})`);
    } catch (error) {
      failed = true;
      results.push({
        scenario: name,
        error: error instanceof Error ? error.message : String(error),
      });
      console.error(`  FAILED: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
} finally {
  await server.stop();
}

// A partial run (named scenarios) replaces only its own scenarios' rows: the other rows keep
// the figures of the run that measured them, each marked with its date.
type Row = (ScenarioResult | { scenario: string; error: string }) & { measured?: string };
const resultsFile = smoke ? 'bench/results/smoke.json' : 'bench/results/latest.json';
const previous: Row[] = (() => {
  if (smoke || names.length === 0) return [];
  try {
    const file = JSON.parse(readFileSync(resultsFile, 'utf8')) as {
      machine: { date: string };
      results: Row[];
    };
    return file.results.map((row) => ({ ...row, measured: row.measured ?? file.machine.date }));
  } catch {
    return [];
  }
})();
const ran = new Set(results.map((result) => result.scenario));
const merged: Row[] = [
  ...previous.filter((row) => !ran.has(row.scenario)),
  ...results.map((result) => ({ ...result, measured: machine.date })),
];
mkdirSync('bench/results', { recursive: true });
writeFileSync(resultsFile, JSON.stringify({ machine, results: merged }, null, 2) + '\n');

if (!smoke) {
  const rows = merged.flatMap((result) => {
    const scenario = `${result.scenario}${result.measured && result.measured !== machine.date ? ` (${result.measured.slice(0, 16)})` : ''}`;
    return 'error' in result
      ? [`| ${scenario} | FAILED: ${result.error} | | | | |`]
      : result.figures.map((figure) => {
          const ratio =
            figure.baseline !== undefined ? (figure.value / figure.baseline).toFixed(2) : '';
          return `| ${scenario} | ${figure.name} | ${figure.value} ${figure.unit} | ${figure.baseline !== undefined ? `${figure.baseline} ${figure.unit}` : ''} | ${ratio} | ${figure.target ? `${figure.target}: ${figure.met ? 'met' : '**not met**'}` : ''} |`;
        });
  });
  const table = [
    `${names.length > 0 ? `Scenarios ${names.join(', ')} measured` : 'Measured'} ${machine.date} on ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${machine.postgres}.`,
    'API, database and load generator share the machine. Baselines ran in the same run as their figure; a scenario with a date in brackets kept the figures of that earlier run.',
    '',
    '| scenario | figure | value | baseline | ratio | target |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  const file = 'BENCHMARKS.md';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Benchmarks\n\n<!-- results:start -->\n<!-- results:end -->\n';
  }
  const start = '<!-- results:start -->';
  const end = '<!-- results:end -->';
  const before = text.includes(start) ? text.slice(0, text.indexOf(start)) : `${text}\n`;
  const after = text.includes(end) ? text.slice(text.indexOf(end) + end.length) : '\n';
  writeFileSync(file, `${before}${start}\n${table}\n${end}${after}`);
  console.log(`\nwrote bench/results/latest.json and ${file}`);
}
process.exit(failed ? 1 : 0);
