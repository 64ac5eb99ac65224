/**
 * The one check a report gets where it crosses a boundary: the extension host checks what the
 * engine process sends (EngineClient.compare/attribute) against docs/report.schema.json before
 * anything renders it, and the panel gets only reports that passed. After it, consumers trust the
 * contract's types (src/contract/report.ts) and read no field defensively.
 * test/unit/contract-schema.test.ts keeps the schema and the types the same.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import schema from '../../docs/report.schema.json';
import type { ModelReport, Report } from '../contract/report.js';

let validators: { report: ValidateFunction; 'model-report': ValidateFunction } | null = null;

function compiled(): NonNullable<typeof validators> {
  if (!validators) {
    const ajv = new Ajv({ allErrors: false, strict: false });
    ajv.addSchema(schema);
    validators = {
      report: ajv.getSchema(schema.$id)!,
      'model-report': ajv.getSchema(`${schema.$id}#/definitions/ModelReport`)!,
    };
  }
  return validators;
}

/** What is wrong with `value` as a report (or one model's report), or null when it conforms. */
export function reportProblem(value: unknown, kind: 'report' | 'model-report'): string | null {
  const validate = compiled()[kind];
  if (validate(value)) return null;
  const e = validate.errors?.[0];
  return e ? `${e.instancePath || '(the document)'} ${e.message ?? 'is invalid'}${e.params && 'missingProperty' in e.params ? ` (${String(e.params.missingProperty)})` : ''}` : 'invalid';
}

/**
 * What is wrong with a report the panel holds (a comparison, or one model's report of an "explain
 * with one model" run, without the other model), or null. The extension checks the report of a
 * panel state the webview hands back (a restored panel) before adopting it.
 */
export function panelReportProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return '(the document) must be object';
  const r = value as Record<string, unknown>;
  if (r.base !== undefined && r.tuned !== undefined) return reportProblem(value, 'report');
  if (r.base === undefined && r.tuned === undefined) return '(the document) has neither a base nor a tuned model';
  for (const role of ['base', 'tuned'] as const) {
    if (r[role] === undefined) continue;
    const problem = reportProblem(r[role], 'model-report');
    if (problem) return `/${role}${problem.startsWith('(') ? ` ${problem}` : problem}`;
  }
  return null;
}

export class ReportContractError extends Error {}

function checked<T>(value: unknown, kind: 'report' | 'model-report'): T {
  const problem = reportProblem(value, kind);
  if (problem) throw new ReportContractError(`The engine sent a ${kind === 'report' ? 'report' : 'model report'} that does not match docs/report.schema.json: ${problem}`);
  return value as T;
}

export const checkedReport = (value: unknown): Report => checked<Report>(value, 'report');
export const checkedModelReport = (value: unknown): ModelReport => checked<ModelReport>(value, 'model-report');
