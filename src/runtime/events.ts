/**
 * events.k8s.io/v1 Events. Controllers record transitions only (see Writer.applyStatus), never
 * one per reconcile. Event text never carries secrets: callers pass reasons and messages only.
 */
import type { Logger } from 'pino';
import type { KubeClient } from './client.ts';
import { errorText, isNamespaceTerminating } from './errors.ts';
import { type KubeObject, Resources } from './types.ts';

/** MicroTime as the API wants it: RFC 3339 with exactly six fractional digits. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface EventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
  action: string;
}

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly controller: string;
  private readonly instance: string;
  private readonly log: Logger;

  constructor(client: KubeClient, controller: string, instance: string, log: Logger) {
    this.client = client;
    this.controller = controller;
    this.instance = instance;
    this.log = log;
  }

  async record(obj: KubeObject, e: EventInput): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    try {
      await this.client.create(Resources.Event, {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { generateName: `${obj.metadata.name}-`, namespace },
        eventTime: microTime(),
        reportingController: this.controller,
        reportingInstance: this.instance,
        action: e.action.slice(0, 128),
        reason: e.reason.slice(0, 128),
        note: e.note.slice(0, 1024),
        type: e.type,
        regarding: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata.name,
          namespace,
          uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
        },
      });
    } catch (err) {
      // An Event is best effort: failing to record one must not fail the reconcile. In a
      // namespace being deleted none can be made, and that is no news.
      if (isNamespaceTerminating(err))
        this.log.debug({ reason: e.reason }, 'namespace is being deleted; no event');
      else this.log.warn({ err: errorText(err), reason: e.reason }, 'could not record event');
    }
  }
}
