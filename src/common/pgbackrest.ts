/**
 * What a pgBackRest error says about the repository, as a condition or Job reason: the store
 * could not be reached, refused the credentials, or failed the TLS check. Read from pgBackRest's
 * own message (its error class and the HTTP status it quotes); anything else keeps the caller's
 * reason.
 */
const RULES: [RegExp, string][] = [
  [
    /\b(403|401)\b.*\b(Forbidden|Unauthorized)\b|InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied/i,
    'RepositoryAccessDenied',
  ],
  [/certificate|\bTLS\b|\bSSL\b|verify failed/i, 'RepositoryTLSError'],
  [
    /HostConnectError|unable to connect|connection refused|timeout connecting|unable to get address|no route to host|network is unreachable/i,
    'RepositoryUnreachable',
  ],
  [/NoSuchBucket|\b404\b.*bucket/i, 'RepositoryBucketNotFound'],
  // Before the first backup Job has made the stanza, archive-push finds no archive.info.
  [/FileMissingError\].*archive\.info/, 'StanzaNotCreated'],
];

export function repositoryReason(message: string | undefined, fallback: string): string {
  if (!message) return fallback;
  return RULES.find(([re]) => re.test(message))?.[1] ?? fallback;
}
