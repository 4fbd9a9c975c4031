/**
 * What a ReplicaSet's reconcile changes besides its children: the read label on each member
 * (the read Service NAME-ro selects it), and the Events that tell a member left or came in, or
 * started failing. The decisions are decideMembers' (status.ts), pure and tested.
 */
import type { ReplicaSetStatus } from '../../api/v1alpha1/index.ts';
import { patchPodLabel } from '../../common/pods.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { ordinalOf, READ_LABEL, READ_LABEL_VALUE, rsNames } from './names.ts';
import type { Pod, Rs } from './observe.ts';
import type { MemberDecision, Observation } from './status.ts';

/** Moves the read label to match the decisions, with an Event for each member that left or came in. */
export async function moveReadLabels(
  rs: Rs,
  pods: Map<number, Pod>,
  decisions: MemberDecision[],
  ctx: ReconcileContext,
) {
  const ro = rsNames(rs).readService;
  await Promise.all(
    decisions.map(async (d) => {
      const i = ordinalOf(rs, d.name)!;
      const pod = pods.get(i);
      if (!pod || pod.metadata.deletionTimestamp) return;
      const isIn = pod.metadata.labels?.[READ_LABEL] === READ_LABEL_VALUE;
      if (isIn === d.in) return;
      await patchPodLabel(
        ctx.client,
        rs.metadata.namespace!,
        pod.metadata.name!,
        READ_LABEL,
        d.in ? READ_LABEL_VALUE : null,
      );
      const lag = d.lagSeconds !== undefined ? `lag ${d.lagSeconds} s` : d.state;
      ctx.log.info(
        { member: d.name, in: d.in, lagSeconds: d.lagSeconds },
        d.in ? 'member in the read Service' : 'member out of the read Service',
      );
      await ctx.writer.event(rs, {
        type: d.in ? 'Normal' : 'Warning',
        reason: d.in ? 'MemberJoinedReadService' : 'MemberLeftReadService',
        note: d.in ? `${d.name} is in ${ro} (${lag})` : `${d.name} is out of ${ro}: ${d.message ?? lag}`,
        action: 'ReadService',
      });
    }),
  );
}

/**
 * A member that starts failing (a base backup refused, an image, a crash loop) is told once,
 * as a Warning with the reason: Ready may already be False for another reason and not flip.
 */
export async function tellFailingMembers(
  rs: Rs,
  o: Observation,
  prev: ReplicaSetStatus,
  next: ReplicaSetStatus,
  ctx: ReconcileContext,
) {
  for (const m of next.members ?? []) {
    const problem = o.members.find((v) => v.name === m.name)?.problem;
    if (!problem || prev.members?.find((p) => p.name === m.name)?.state === m.state) continue;
    await ctx.writer.event(rs, {
      type: 'Warning',
      reason: problem.reason,
      note: `${m.name}: ${problem.message}`,
      action: 'Member',
    });
  }
}
