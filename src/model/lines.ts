/**
 * Lines of a stream, each at most `maxBytes` bytes: a file of one enormous line (a gzip bomb of
 * zeros, /dev/zero) fails with `tooLong(lineNumber)` once a line passes the bound, instead of
 * growing a string until V8 gives up. `\n` ends a line; a `\r` before it is dropped. Lines are
 * decoded as UTF-8 whole, so a character split across chunks stays intact.
 */
export async function* boundedLines(source: AsyncIterable<Buffer | string>, maxBytes: number, tooLong: (lineNumber: number) => Error): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let size = 0;
  let lineNumber = 0;
  const take = (): string => {
    const line = (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString('utf8');
    parts = [];
    size = 0;
    return line.endsWith('\r') ? line.slice(0, -1) : line;
  };
  for await (const chunk of source) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    for (let newline = buffer.indexOf(10, start); newline >= 0; newline = buffer.indexOf(10, start)) {
      size += newline - start;
      if (size > maxBytes) throw tooLong(lineNumber + 1);
      parts.push(buffer.subarray(start, newline));
      lineNumber++;
      yield take();
      start = newline + 1;
    }
    size += buffer.length - start;
    if (size > maxBytes) throw tooLong(lineNumber + 1);
    if (start < buffer.length) parts.push(buffer.subarray(start));
  }
  if (parts.length) yield take();
}
