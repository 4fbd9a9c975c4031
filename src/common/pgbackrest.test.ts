import { describe, expect, it } from 'vitest';
import { repositoryReason } from './pgbackrest.ts';

describe("pgBackRest's errors by what they say about the repository", () => {
  it.each([
    // Seen on the real node against SeaweedFS with a wrong secret key.
    [
      "103 unable to find a valid repository: repo1: [ProtocolError] unable to load info file '/x/archive/db/archive.info': ProtocolError: HTTP request failed with 403 (Forbidden): <Error><Code>SignatureDoesNotMatch</Code>",
      'RepositoryAccessDenied',
    ],
    ['HTTP request failed with 403 (Forbidden): <Code>InvalidAccessKeyId</Code>', 'RepositoryAccessDenied'],
    [
      "HostConnectError: unable to connect to '198.18.1.1:18333 (198.18.1.1)': [111] Connection refused",
      'RepositoryUnreachable',
    ],
    [
      "[049]: unable to get address for 's3.nowhere.test': [-2] Name or service not known",
      'RepositoryUnreachable',
    ],
    [
      'CryptoError: unable to verify certificate presented by 198.18.1.1:18333: [20] unable to get local issuer certificate',
      'RepositoryTLSError',
    ],
    [
      "unable to open file '/var/lib/pgbackrest/archive/db/archive.info' for read: [13] Permission denied",
      'ArchiveFailed',
    ],
    // Seen on the real node: the first segment, pushed before the first backup Job made the stanza.
    [
      "103 unable to find a valid repository: repo1: [FileMissingError] unable to load info file '/var/lib/pgbackrest/archive/db/archive.info' or '/var/lib/pgbackrest/archive/db/archive.info.copy'",
      'StanzaNotCreated',
    ],
  ])('%s', (message, reason) => {
    expect(repositoryReason(message, 'ArchiveFailed')).toBe(reason);
  });
  it('no message: the caller reason', () => {
    expect(repositoryReason(undefined, 'BackupFailed')).toBe('BackupFailed');
  });
});
