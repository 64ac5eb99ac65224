// How an edit moves or invalidates an analysed range of a document (pure; src/extension/analysis.ts uses it).

/**
 * How a text change affects an analysed range [offset, offset + length): a change at or after its
 * end leaves it alone, one wholly before it (an insertion at its start included) shifts it, any
 * other touches the analysed text.
 */
export function shiftRange(offset: number, length: number, change: { rangeOffset: number; rangeLength: number; text: string }): { offset: number } | 'touched' | 'unaffected' {
  if (change.rangeOffset >= offset + length) return 'unaffected';
  if (change.rangeOffset + change.rangeLength <= offset) return { offset: offset + change.text.length - change.rangeLength };
  return 'touched';
}
