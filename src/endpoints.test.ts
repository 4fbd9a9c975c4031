import { describe, expect, it } from 'vitest';
import { endpointMapSchema, makeResolver, resolveEndpoint } from './endpoints.ts';

describe('endpoint map', () => {
  const map = {
    'homeops-rw.demo.svc:5432': '127.0.0.1:55432',
    '*-pooler.demo.svc:5432': '127.0.0.1:56432',
  };

  it('sends a mapped Service to the local server, exact keys first, then wildcards', () => {
    expect(resolveEndpoint(map, 'homeops-rw.demo.svc', 5432)).toEqual({ host: '127.0.0.1', port: 55432 });
    expect(resolveEndpoint(map, 'homeops-pooler.demo.svc', 5432)).toEqual({ host: '127.0.0.1', port: 56432 });
  });

  it('leaves anything else as it is', () => {
    expect(resolveEndpoint(map, 'homeops-rw.other.svc', 5432)).toEqual({
      host: 'homeops-rw.other.svc',
      port: 5432,
    });
    expect(resolveEndpoint({}, 'x.svc', 1)).toEqual({ host: 'x.svc', port: 1 });
  });

  it('refuses entries that are not host:port', () => {
    expect(endpointMapSchema.safeParse({ 'db:5432': 'localhost' }).success).toBe(false);
    expect(endpointMapSchema.safeParse({ db: '127.0.0.1:1' }).success).toBe(false);
  });
});

describe('service addresses', () => {
  const ips: Record<string, string> = { 'prod/db-rw': '198.19.4.7', 'prod/db-hl': 'None' };
  const lookup = (ns: string, name: string) => ips[`${ns}/${name}`];

  it('dials a Service by its ClusterIP from the cache in cluster-ip mode', () => {
    const resolve = makeResolver({}, 'cluster-ip', lookup);
    expect(resolve('db-rw.prod.svc', 5432)).toEqual({ host: '198.19.4.7', port: 5432 });
    expect(resolve('db-rw.prod.svc.cluster.local', 5432)).toEqual({ host: '198.19.4.7', port: 5432 });
    // Headless, unknown, or not a Service name: dialled by name.
    expect(resolve('db-hl.prod.svc', 5432)).toEqual({ host: 'db-hl.prod.svc', port: 5432 });
    expect(resolve('other.prod.svc', 5432)).toEqual({ host: 'other.prod.svc', port: 5432 });
    expect(resolve('db.example.com', 5432)).toEqual({ host: 'db.example.com', port: 5432 });
  });

  it('keeps names in dns mode, and lets the endpoint map win in either mode', () => {
    expect(makeResolver({}, 'dns', lookup)('db-rw.prod.svc', 5432)).toEqual({
      host: 'db-rw.prod.svc',
      port: 5432,
    });
    const mapped = makeResolver({ 'db-rw.prod.svc:5432': '127.0.0.1:55432' }, 'cluster-ip', lookup);
    expect(mapped('db-rw.prod.svc', 5432)).toEqual({ host: '127.0.0.1', port: 55432 });
  });
});
