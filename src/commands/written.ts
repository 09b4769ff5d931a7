import { comparePositions, type Position } from '../events/store/port.js';
import type { Handled } from './handle-command.js';

/**
 * What a command wrote: the log position of its last append and the event types, so the
 * API can wait for exactly the projections that must reflect it (read-your-writes).
 */
export interface Written {
  readonly position: Position | undefined;
  readonly eventTypes: readonly string[];
}

export function writtenBy(
  ...handled: readonly (Handled<unknown> | Written | undefined)[]
): Written {
  let position: Position | undefined;
  const eventTypes = new Set<string>();
  for (const item of handled) {
    if (!item) continue;
    const itemPosition = 'appended' in item ? item.appended?.position : item.position;
    const types = 'appended' in item ? item.events.map((event) => event.type) : item.eventTypes;
    types.forEach((type) => eventTypes.add(type));
    if (itemPosition && (!position || comparePositions(itemPosition, position) > 0))
      position = itemPosition;
  }
  return { position, eventTypes: [...eventTypes] };
}
