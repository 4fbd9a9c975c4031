import { describe, expect, it } from 'vitest';
import { podProblem } from './pods.ts';

describe('podProblem', () => {
  const waiting = (reason: string, message?: string) => ({
    status: {
      containerStatuses: [
        { name: 'postgres', state: { waiting: { reason, ...(message ? { message } : {}) } } },
      ],
    },
  });

  it('names an image that cannot be pulled, a crash loop and a config error', () => {
    expect(podProblem(waiting('ErrImageNeverPull', 'image "x" is not present'))).toEqual({
      reason: 'ErrImageNeverPull',
      message: 'container postgres: ErrImageNeverPull: image "x" is not present',
    });
    for (const r of [
      'ErrImagePull',
      'ImagePullBackOff',
      'InvalidImageName',
      'CrashLoopBackOff',
      'CreateContainerConfigError',
    ])
      expect(podProblem(waiting(r))?.reason).toBe(r);
  });

  it('names an unschedulable pod', () => {
    const pod = {
      status: {
        conditions: [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes' },
        ],
      },
    };
    expect(podProblem(pod)).toEqual({ reason: 'Unschedulable', message: '0/3 nodes' });
  });

  it('says nothing while a pod is only starting, or of no pod', () => {
    expect(podProblem(waiting('ContainerCreating'))).toBeUndefined();
    expect(podProblem(waiting('PodInitializing'))).toBeUndefined();
    expect(podProblem({ status: {} })).toBeUndefined();
    expect(podProblem(undefined)).toBeUndefined();
  });
});
