/** One server-sent event: its `data` lines joined with newlines, and its `event` name. */
export interface ServerSentEvent {
  event: string;
  data: string;
}

/** Reads `text/event-stream` frames until the stream ends; comments and retry lines are skipped. */
export async function readServerSentEvents(stream: ReadableStream<Uint8Array>, onEvent: (event: ServerSentEvent) => void): Promise<void> {
  const reader = stream.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      // Line ends may be \r\n, \r or \n; normalize so a blank line is always \n\n.
      buffer = (buffer + value).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseFrame(frame);
        if (event) onEvent(event);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function parseFrame(frame: string): ServerSentEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
  }
  return data.length > 0 ? { event, data: data.join('\n') } : null;
}
