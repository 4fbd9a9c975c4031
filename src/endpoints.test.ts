import { describe, expect, it } from 'vitest';
import { endpointMapSchema, resolveEndpoint } from './endpoints.ts';

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
