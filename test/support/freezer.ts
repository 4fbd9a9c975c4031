/** The cgroup v1 freezer on the real node: no vitest import, so the benchmarks use it too. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Freezes (or thaws) every process of a pod with the cgroup v1 freezer: the pod keeps its IP
 * and its sockets, the kernel still completes TCP handshakes, but nothing answers, as with a
 * hung server or a cut network. The tests run as root on the node.
 */
export function freezePod(uid: string, frozen: boolean) {
  const dir = execFileSync(
    'find',
    ['/sys/fs/cgroup/freezer/kubepods', '-maxdepth', '2', '-type', 'd', '-name', `pod${uid}`],
    { encoding: 'utf8' },
  ).trim();
  if (!dir) throw new Error(`no freezer cgroup for pod ${uid}`);
  writeFileSync(join(dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
}
