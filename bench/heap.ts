/**
 * Where the operator's memory goes: a V8 heap snapshot (taken after a full GC, so only live
 * objects) summed by constructor or kind, largest first.
 *   node bench/heap.ts FILE.heapsnapshot [top=15]
 * A running operator writes one when started with --heapsnapshot-signal=SIGUSR2 and sent that
 * signal (bench/homeopsdatabase.ts does this after convergence).
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarize(
  file: string,
  top = 15,
): { total: number; rows: [string, number, number][]; strings: [string, number, number][] } {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const by = new Map<string, [number, number]>();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType!]!]!;
    const size = s.nodes[i + iSize!]!;
    total += size;
    // Objects by constructor; strings, arrays, code and the rest by kind.
    const key = type === 'object' ? s.strings[s.nodes[i + iName!]!]! : `(${type})`;
    const e = by.get(key) ?? [0, 0];
    e[0] += size;
    e[1]++;
    by.set(key, e);
  }
  // The strings, grouped by their first 40 characters: which kind of text fills the heap.
  const iStr = types.indexOf('string');
  const texts = new Map<string, [number, number]>();
  for (let i = 0; i < s.nodes.length; i += width) {
    if (s.nodes[i + iType!] !== iStr) continue;
    const k = (s.strings[s.nodes[i + iName!]!] ?? '').slice(0, 40).replace(/\s+/g, ' ');
    const e = texts.get(k) ?? [0, 0];
    e[0] += s.nodes[i + iSize!]!;
    e[1]++;
    texts.set(k, e);
  }
  const strings: [string, number, number][] = [...texts.entries()]
    .sort((a, b) => b[1][0] - a[1][0])
    .slice(0, 8)
    .map(([k, [size, count]]) => [k, size, count] as [string, number, number]);
  const rows = [...by.entries()]
    .sort((a, b) => b[1][0] - a[1][0])
    .slice(0, top)
    .map(([k, [size, count]]) => [k, size, count] as [string, number, number]);
  return { total, rows, strings };
}

export function printSummary(file: string, top = 15): void {
  const { total, rows, strings: texts } = summarize(file, top);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  console.log(`  live JS heap (snapshot)      ${mib(total)}`);
  for (const [k, size, count] of rows)
    console.log(`    ${mib(size).padStart(10)}  ${String(count).padStart(8)}  ${k.slice(0, 60)}`);
  console.log('    largest groups of strings, by their start:');
  for (const [k, size, count] of texts)
    console.log(`    ${mib(size).padStart(10)}  ${String(count).padStart(8)}  ${JSON.stringify(k)}`);
}

if (import.meta.url === `file://${process.argv[1]}`)
  printSummary(process.argv[2]!, Number(process.argv[3] ?? 15));
