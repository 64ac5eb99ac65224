/**
 * Character-level precision and recall of detected instruction spans against annotated ones.
 * Whitespace characters are not counted (a span's edges around spaces are a matter of taste); every
 * other character of the prompt is an instruction character when a span covers it.
 */
import type { InstructionSpan } from '../explain/instructions.js';

export interface DetectionCounts {
  /** Non-whitespace characters both detected and annotated. */
  truePositive: number;
  /** Detected, not annotated. */
  falsePositive: number;
  /** Annotated, not detected. */
  falseNegative: number;
}

export interface DetectionScores extends DetectionCounts {
  precision: number;
  recall: number;
  f1: number;
}

function coverage(length: number, spans: readonly InstructionSpan[]): Uint8Array {
  const out = new Uint8Array(length);
  for (const s of spans) out.fill(1, Math.max(0, s.start), Math.min(length, s.end));
  return out;
}

/** Counts for one prompt. */
export function detectionCounts(text: string, detected: readonly InstructionSpan[], annotated: readonly InstructionSpan[]): DetectionCounts {
  const d = coverage(text.length, detected);
  const a = coverage(text.length, annotated);
  const counts: DetectionCounts = { truePositive: 0, falsePositive: 0, falseNegative: 0 };
  for (let i = 0; i < text.length; i++) {
    if (/\s/u.test(text[i]!)) continue;
    if (d[i] && a[i]) counts.truePositive++;
    else if (d[i]) counts.falsePositive++;
    else if (a[i]) counts.falseNegative++;
  }
  return counts;
}

/** Sums counts over prompts (micro average) into precision, recall and F1 (0 where undefined). */
export function detectionScores(all: Iterable<DetectionCounts>): DetectionScores {
  const sum: DetectionCounts = { truePositive: 0, falsePositive: 0, falseNegative: 0 };
  for (const c of all) {
    sum.truePositive += c.truePositive;
    sum.falsePositive += c.falsePositive;
    sum.falseNegative += c.falseNegative;
  }
  const precision = sum.truePositive + sum.falsePositive > 0 ? sum.truePositive / (sum.truePositive + sum.falsePositive) : 0;
  const recall = sum.truePositive + sum.falseNegative > 0 ? sum.truePositive / (sum.truePositive + sum.falseNegative) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { ...sum, precision, recall, f1 };
}

/**
 * The paper's annotation format (`instruct` of shared/paper-attributions): instruction spans
 * separated by `|||`, then `&&&` and context spans. Each instruction span is located at its first
 * occurrence in `text`; spans not found are counted in `missing`.
 */
export function paperInstructionSpans(text: string, instruct: string): { spans: InstructionSpan[]; missing: number } {
  const parts = instruct.split('&&&')[0]!.split('|||').map((s) => s.trim()).filter((s) => s.length > 0);
  const spans: InstructionSpan[] = [];
  let missing = 0;
  for (const part of parts) {
    const start = text.indexOf(part);
    if (start < 0) missing++;
    else spans.push({ start, end: start + part.length });
  }
  return { spans, missing };
}
