import { describe, expect, it } from 'vitest';
import { homeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { generatePassword } from '../../common/passwords.ts';
import { dbLabels } from './names.ts';
import { buildSecret, InvalidSecretError, readCredentials, SECRET_ROLES, secretsDigest } from './secrets.ts';

const db = homeOpsDatabase.parse({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: { name: 'db', namespace: 'ns', uid: 'u' },
});
const asSecret = (data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'db-app' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});

describe('secrets', () => {
  it("carry the labels the controller passes to ensureSecrets (the cache's and the adoption's)", () => {
    for (const role of SECRET_ROLES)
      expect(buildSecret(db, role).metadata.labels).toEqual(dbLabels(db, 'secret'));
  });

  it('generates 256-bit passwords that differ every time', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => generatePassword()));
    expect(seen.size).toBe(1000);
    for (const p of seen) expect(Buffer.from(p, 'base64url')).toHaveLength(32);
  });

  it('gives the app Secret what applications expect, for the primary and the pooler', () => {
    const s = buildSecret(db, 'app', 'pw/+=');
    expect(s.stringData).toEqual({
      username: 'homeops',
      password: 'pw/+=',
      host: 'db-rw.ns.svc',
      port: '5432',
      dbname: 'homeops',
      uri: 'postgresql://homeops:pw%2F%2B%3D@db-rw.ns.svc:5432/homeops',
      'pooler-host': 'db-pooler.ns.svc',
      'pooler-port': '5432',
      'pooler-uri': 'postgresql://homeops:pw%2F%2B%3D@db-pooler.ns.svc:5432/homeops',
    });
    expect(s.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'HomeOpsDatabase',
      uid: 'u',
      controller: true,
    });
  });

  it('reads credentials, and says what is wrong with a malformed Secret without showing its content', () => {
    expect(readCredentials(asSecret({ username: 'homeops', password: 's3cret' }), 'homeops')).toEqual({
      username: 'homeops',
      password: 's3cret',
    });
    const noPassword = () => readCredentials(asSecret({ username: 'homeops' }), 'homeops');
    expect(noPassword).toThrow(InvalidSecretError);
    expect(noPassword).toThrow(/has no "password" key/);
    const wrongUser = () => readCredentials(asSecret({ username: 'root', password: 'hunter2' }), 'homeops');
    expect(wrongUser).toThrow(/is for user "root", expected "homeops"/);
    try {
      wrongUser();
    } catch (e) {
      expect(String(e)).not.toContain('hunter2');
    }
  });

  it('digests Secrets so that any change of data changes the digest', () => {
    const a = asSecret({ password: 'a' });
    expect(secretsDigest([a])).toBe(secretsDigest([asSecret({ password: 'a' })]));
    expect(secretsDigest([a])).not.toBe(secretsDigest([asSecret({ password: 'b' })]));
  });
});
