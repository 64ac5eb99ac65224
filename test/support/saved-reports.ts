/**
 * The saved real `compare` reports (test/fixtures/reports/, written by
 * scripts/make-report-fixtures.ts: the demo pair with generated responses, a tiny synthetic pair
 * with given ones, both with heads and FFN), checked against docs/report.schema.json as the
 * engine boundary checks them.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Report } from '../../src/contract/report.js';
import { checkedReport } from '../../src/engine/report-validation.js';

const dir = resolve(__dirname, '..', 'fixtures', 'reports');

export type SavedReportName = 'demo' | 'synthetic';

/** A fresh copy each call (tests may change it). */
export function savedReport(name: SavedReportName): Report {
  return checkedReport(JSON.parse(readFileSync(join(dir, `${name}.report.json`), 'utf8')));
}
