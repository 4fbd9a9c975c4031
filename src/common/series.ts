/**
 * Per-object gauges, for every kind: series labelled `namespace` and `name` (and finer labels
 * per gauge, such as `member` or `table`). What one `record` of an object sets is what exists:
 * a series it did not set (a member scaled away, a table dropped, a figure not measured this
 * time) is removed, not left at its last value, and `forget` removes all of the object's series
 * when it is deleted. No kind tracks its series by hand.
 */
import { Gauge, type Registry } from 'prom-client';

export type Labels = Record<string, string>;
export interface GaugeDef {
  name: string;
  help: string;
  /** Labels after namespace and name. */
  labels?: readonly string[];
}
/** Sets one series of the object being recorded; `undefined` (not measured) sets nothing. */
export type SetSeries<K extends string> = (gauge: K, value: number | undefined, labels?: Labels) => void;

const seriesId = (gauge: string, labels: Labels) =>
  JSON.stringify([gauge, Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))]);

export class ObjectGauges<K extends string> {
  readonly gauges: Record<K, Gauge<string>>;
  /** Each object's series now, by namespace/name. */
  private readonly live = new Map<string, Map<string, [K, Labels]>>();

  constructor(registry: Registry, defs: Record<K, GaugeDef>) {
    const entries = Object.entries<GaugeDef>(defs).map(([k, d]) => [
      k,
      new Gauge({
        name: d.name,
        help: d.help,
        labelNames: ['namespace', 'name', ...(d.labels ?? [])],
        registers: [registry],
      }),
    ]);
    this.gauges = Object.fromEntries(entries) as Record<K, Gauge<string>>;
  }

  /** The object's series become exactly those `fill` sets. */
  record(namespace: string, name: string, fill: (set: SetSeries<K>) => void): void {
    const key = `${namespace}/${name}`;
    const now = new Map<string, [K, Labels]>();
    fill((gauge, value, labels = {}) => {
      if (value === undefined || Number.isNaN(value)) return;
      const l = { namespace, name, ...labels };
      this.gauges[gauge].set(l, value);
      now.set(seriesId(gauge, l), [gauge, l]);
    });
    for (const [id, [gauge, l]] of this.live.get(key) ?? []) if (!now.has(id)) this.gauges[gauge].remove(l);
    this.live.set(key, now);
  }

  /** The object is gone: every series of it. */
  forget(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    for (const [gauge, l] of this.live.get(key)?.values() ?? []) this.gauges[gauge].remove(l);
    this.live.delete(key);
  }
}
