/**
 * A small typed in-process event bus: how one domain reacts to what happened in another without either holding the
 * other (the pattern of Ghost's ActivityPub service). Each domain declares its events as a map from name to payload
 * (`KeyEvents`, `DeliveryEvents`..., declared as `type`, not `interface`); the composition root (app/) creates one bus over the union and subscribes the
 * reactions. A publisher sees only `EventPublisher<ItsEvents>`, a subscriber only what it listens to.
 *
 * Delivery: `publish` runs every handler of the event, concurrently, and resolves once all have settled — a caller
 * that must not go on before the reactions are done awaits it; one that must not wait does not. A handler that throws
 * stops no other handler and never reaches the publisher: it is logged with the event's name and the error only —
 * never the payload (it may carry addresses or message content).
 */
export type EventMap = Record<string, unknown>;

/** Where a failing handler is told (a pino logger fits). */
export interface EventLogger {
  error(fields: Record<string, unknown>, message: string): void;
}

export type EventHandler<P> = (payload: P) => Promise<void> | void;

export interface EventPublisher<E extends EventMap> {
  publish<K extends keyof E & string>(name: K, payload: E[K]): Promise<void>;
}

export interface EventSubscriber<E extends EventMap> {
  /** Registers a handler; the returned function removes it. */
  subscribe<K extends keyof E & string>(name: K, handler: EventHandler<E[K]>): () => void;
}

export class EventBus<E extends EventMap> implements EventPublisher<E>, EventSubscriber<E> {
  private readonly handlers = new Map<keyof E, Set<EventHandler<never>>>();

  constructor(private readonly logger: EventLogger) {}

  subscribe<K extends keyof E & string>(name: K, handler: EventHandler<E[K]>): () => void {
    let set = this.handlers.get(name);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(name, set);
    }
    set.add(handler as EventHandler<never>);
    return () => {
      set.delete(handler as EventHandler<never>);
    };
  }

  async publish<K extends keyof E & string>(name: K, payload: E[K]): Promise<void> {
    const handlers = [...(this.handlers.get(name) ?? [])] as EventHandler<E[K]>[];
    await Promise.all(
      handlers.map(async (handler) => {
        try {
          await handler(payload);
        } catch (err) {
          this.logger.error({ event: name, err: describe(err) }, 'event handler failed');
        }
      }),
    );
  }
}

/** What is logged of a handler's error: its name, code and message (never the event's payload). */
function describe(err: unknown): { name: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'non-error', message: String(err).slice(0, 200) };
}

/** A publisher that tells no one: for a service used alone (unit tests, a CLI command that opens storage only). */
export function noEvents<E extends EventMap>(): EventPublisher<E> {
  return { publish: async () => {} };
}
