export interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

export interface EventStream {
  status: number;
  headers: Headers;
  /** The events as they arrive; ends with the stream. */
  events: AsyncGenerator<SseEvent>;
  /** Drops the connection, as a client that goes away does. */
  disconnect(): void;
}

/** Opens a server-sent event stream with a real HTTP request, and parses it as a browser would. */
export async function openEventStream(
  url: string,
  options: { method?: string; body?: unknown; bearer?: string; headers?: Record<string, string> } = {},
): Promise<EventStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: controller.signal,
  });
  async function* events(): AsyncGenerator<SseEvent> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', data: undefined };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length === 0) continue;
          const text = data.join('\n');
          try {
            event.data = JSON.parse(text);
          } catch {
            event.data = text;
          }
          yield event;
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  }
  return { status: res.status, headers: res.headers, events: events(), disconnect: () => controller.abort() };
}

/** Every event until the stream ends. */
export async function allEvents(stream: EventStream): Promise<SseEvent[]> {
  const all: SseEvent[] = [];
  for await (const event of stream.events) all.push(event);
  return all;
}
