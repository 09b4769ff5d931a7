export interface ServerSentEvent {
  readonly event: string;
  readonly id?: string;
  readonly data: unknown;
}

/**
 * Opens a `text/event-stream` with fetch and hands back its events one by one, so a test
 * can wait for exactly the events it expects.
 */
export async function openEvents(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const queue: ServerSentEvent[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const read = async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let split: number;
        while ((split = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          if (!fields.has('data')) continue;
          const id = fields.get('id');
          queue.push({
            event: fields.get('event') ?? 'message',
            ...(id !== undefined ? { id } : {}),
            data: JSON.parse(fields.get('data')!) as unknown,
          });
          wake?.();
        }
      }
    } catch {
      // aborted by close()
    } finally {
      ended = true;
      wake?.();
    }
  };
  void read();
  return {
    response,
    /** The next event; undefined once the stream ended. Waits as long as the test allows. */
    async next(): Promise<ServerSentEvent | undefined> {
      while (queue.length === 0 && !ended) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      return queue.shift();
    },
    close: () => controller.abort(),
  };
}
