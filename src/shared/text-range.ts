// How an edit moves or changes an analysed range of a document (pure; src/extension/analysis.ts uses it).

export interface TextChange {
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

/**
 * How a text change affects an analysed range [offset, offset + length): a change at or after its
 * end leaves it alone, one wholly before it (an insertion at its start included) shifts it, any
 * other touches the analysed text.
 */
export function shiftRange(offset: number, length: number, change: TextChange): { offset: number } | 'touched' | 'unaffected' {
  if (change.rangeOffset >= offset + length) return 'unaffected';
  if (change.rangeOffset + change.rangeLength <= offset) return { offset: offset + change.text.length - change.rangeLength };
  return 'touched';
}

/**
 * The analysed range after a change: it follows the edit instead of being dropped. A change inside
 * it (or overlapping it) grows or shrinks it to cover the edited text; `touched` says the analysed
 * text itself changed. An insertion right at its end does not extend it (typing after the prompt).
 */
export function followRange(offset: number, length: number, change: TextChange): { offset: number; length: number; touched: boolean } {
  const effect = shiftRange(offset, length, change);
  if (effect === 'unaffected') return { offset, length, touched: false };
  if (effect !== 'touched') return { offset: effect.offset, length, touched: false };
  const end = offset + length;
  const changeEnd = change.rangeOffset + change.rangeLength;
  const start = Math.min(offset, change.rangeOffset);
  const newEnd = Math.max(end, changeEnd) + change.text.length - change.rangeLength;
  return { offset: start, length: Math.max(0, newEnd - start), touched: true };
}

/**
 * Where the characters [start, end) of a document are after `changes` (applied in order, each to
 * the document the previous left): null when a change touched them (an insertion strictly inside
 * included). Used to keep the highlights of the tokens an edit left alone.
 */
export function mapSpan(start: number, end: number, changes: readonly TextChange[]): { start: number; end: number } | null {
  for (const change of changes) {
    const changeEnd = change.rangeOffset + change.rangeLength;
    if (change.rangeOffset >= end) continue;
    if (changeEnd <= start) {
      const delta = change.text.length - change.rangeLength;
      start += delta;
      end += delta;
      continue;
    }
    return null;
  }
  return { start, end };
}
