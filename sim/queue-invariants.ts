import type { RecordedEvent } from '../src/events/store/port.js';

interface Settings {
  mode: string;
  maxActive: number;
  admissionsPerMinute: number | null;
  opensAt: string | null;
}

interface Token {
  readonly tokenId: string;
  status: 'hold' | 'pass' | 'expired';
  expiresAt?: number;
  /** The pre-queue round it joined during, if any. */
  readonly round: number | undefined;
  /** Its place in the queue: [major, minor], compared in that order. */
  place: [number, number] | undefined;
}

type Data = Record<string, unknown>;

const before = (a: [number, number], b: [number, number]) =>
  a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/**
 * Invariant (g), checked on the log alone (queue and token events folded here,
 * independently of the tokens projection and the admitter): no admission while paused or
 * while a pre-queue runs; in open mode an admission never makes more passes live than
 * the cap of that moment, and no 60 s window holds more admissions than the rate;
 * admissions follow queue places (join order; a pre-queue's drawn order, ahead of later
 * joiners); every token waiting in a pre-queue at its draw is placed exactly once, and
 * no other.
 */
export function checkQueueInvariants(events: readonly RecordedEvent[]): string[] {
  const violations: string[] = [];
  let settings: Settings | undefined;
  let rounds = 0;
  let next = 0;
  const reserved = new Map<number, number>();
  const drawn = new Set<number>();
  const tokens = new Map<string, Token>();
  const admittedAt: number[] = [];
  for (const event of events) {
    const data = event.data as Data;
    if (event.streamName === 'queue') {
      if (event.type === 'QueueConfigured') settings = { ...(data as unknown as Settings) };
      if (event.type === 'QueueSettingsChanged' && settings)
        Object.assign(settings, data.changes as Partial<Settings>);
      if (event.type === 'QueueOpened') {
        rounds = Number(data.round);
        if (settings) settings.opensAt = null;
        // The round's block of places comes before everyone who joins from here on.
        reserved.set(rounds, next++);
      }
      if (event.type === 'PrequeueDrawn') {
        const round = Number(data.round);
        const order = data.order as string[];
        if (drawn.has(round)) violations.push(`(g) pre-queue round ${round} drawn twice`);
        drawn.add(round);
        const waiting = [...tokens.values()].filter(
          (token) => token.round === round && token.status === 'hold',
        );
        if (new Set(order).size !== order.length)
          violations.push(`(g) round ${round}: a token is placed twice in the draw`);
        for (const token of waiting)
          if (!order.includes(token.tokenId))
            violations.push(`(g) round ${round}: waiting token ${token.tokenId} not placed`);
        order.forEach((tokenId, index) => {
          const token = tokens.get(tokenId);
          if (token?.round !== round || token.status !== 'hold')
            violations.push(`(g) round ${round}: ${tokenId} placed but not waiting in it`);
          else token.place = [reserved.get(round) ?? -1, index];
        });
      }
      continue;
    }
    if (!event.streamName.startsWith('token-')) continue;
    const tokenId = String(data.tokenId);
    if (event.type === 'TokenIssued') {
      const prequeue = settings?.opensAt ? rounds + 1 : undefined;
      tokens.set(tokenId, {
        tokenId,
        status: 'hold',
        round: prequeue,
        place: prequeue === undefined ? [next++, 0] : undefined,
      });
    }
    const token = tokens.get(tokenId);
    if (!token) continue;
    if (event.type === 'TokenExpired') token.status = 'expired';
    if (event.type === 'TokenAdmitted') {
      const at = Date.parse(String(data.admittedAt));
      violations.push(...checkAdmission(token, at, settings, tokens, reserved, drawn));
      const rate = settings?.admissionsPerMinute;
      const inWindow = admittedAt.filter((time) => time > at - 60_000 && time <= at).length;
      if (settings?.mode === 'open' && rate != null && inWindow >= rate)
        violations.push(
          `(g) ${tokenId} admitted as admission ${inWindow + 1} in 60 s (rate ${rate})`,
        );
      admittedAt.push(at);
      token.status = 'pass';
      token.expiresAt = Date.parse(String(data.expiresAt));
    }
  }
  return violations;
}

function checkAdmission(
  token: Token,
  at: number,
  settings: Settings | undefined,
  tokens: Map<string, Token>,
  reserved: Map<number, number>,
  drawn: Set<number>,
): string[] {
  const violations: string[] = [];
  const id = token.tokenId;
  if (!settings) return [`(g) ${id} admitted before the queue was configured`];
  if (settings.mode === 'paused') violations.push(`(g) ${id} admitted while paused`);
  if (settings.opensAt) violations.push(`(g) ${id} admitted while a pre-queue runs`);
  if (!token.place) violations.push(`(g) ${id} admitted before its pre-queue was drawn`);
  if (settings.mode === 'open') {
    const live = [...tokens.values()].filter(
      (other) => other.status === 'pass' && (other.expiresAt ?? 0) > at,
    ).length;
    if (live >= settings.maxActive)
      violations.push(`(g) ${id} admitted with ${live} passes live (cap ${settings.maxActive})`);
  }
  if (!token.place) return violations;
  // Everyone still waiting ahead of it (or in an undrawn block ahead of it) goes first.
  for (const other of tokens.values()) {
    if (other === token || other.status !== 'hold') continue;
    const place =
      other.place ??
      (other.round !== undefined && !drawn.has(other.round) && reserved.has(other.round)
        ? ([reserved.get(other.round)!, -1] as [number, number])
        : undefined);
    if (place && before(place, token.place))
      violations.push(`(g) ${id} admitted before ${other.tokenId}, which is ahead of it`);
  }
  return violations;
}
