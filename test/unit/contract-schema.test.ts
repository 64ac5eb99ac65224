// docs/report.schema.json against the contract's types (src/contract/report.ts): the TypeScript
// compiler reads `Report` and `ModelReport`, and every object of the schema must have exactly the
// properties of its type, the same ones required, and the same kind of value in each (integer or
// number, string, boolean, the same string literals, arrays and tuples of the same), recursively.
// A field added to one and not the other fails here. Then the boundary validators
// (src/engine/report-validation.ts) accept the saved real reports and refuse broken ones.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { panelReportProblem, reportProblem } from '../../src/engine/report-validation.js';
import { DEFAULT_MAX_NEW_TOKENS, PRECISION_SETTINGS, PROVIDER_SETTINGS } from '../../src/contract/engine.js';
import { DEFAULT_IMPORTANCE_OPTIONS } from '../../src/contract/report.js';

const root = resolve(__dirname, '..', '..');
const schema = JSON.parse(readFileSync(join(root, 'docs', 'report.schema.json'), 'utf8'));

type Schema = Record<string, unknown>;

function deref(node: Schema): Schema {
  const ref = node.$ref as string | undefined;
  if (!ref) return node;
  const name = ref.replace('#/definitions/', '');
  const target = schema.definitions[name];
  assert.ok(target, `unknown $ref ${ref}`);
  return deref(target);
}

/** The differences between a schema node and a TypeScript type, as "path: what" lines. */
function compareTypes(checker: ts.TypeChecker, type: ts.Type, node: Schema, path: string, out: string[]): void {
  node = deref(node);
  const members = type.isUnion() ? type.types : [type];
  const present = members.filter((t) => !(t.flags & ts.TypeFlags.Undefined));
  const nonNull = present.filter((t) => !(t.flags & ts.TypeFlags.Null));
  const schemaTypes = node.type === undefined ? [] : Array.isArray(node.type) ? (node.type as string[]) : [node.type as string];
  if (schemaTypes.includes('null') !== nonNull.length < present.length) out.push(`${path}: null ${schemaTypes.includes('null') ? 'in the schema only' : 'in the type only'}`);
  const literals = nonNull.filter((t) => t.isStringLiteral()).map((t) => (t as ts.StringLiteralType).value).sort();
  const values = (node.enum as string[] | undefined) ?? (node.const !== undefined ? [node.const as string] : undefined);
  // A schema may narrow a plain string or number to some values (as it bounds numbers with
  // minimum/maximum), which the type does not say; a union of literals in the type must be the enum.
  const plain = nonNull.length === 1 && (nonNull[0]!.flags & (ts.TypeFlags.String | ts.TypeFlags.Number)) !== 0;
  if (values && plain) return;
  if (values) {
    if (JSON.stringify(literals) !== JSON.stringify([...values].sort())) out.push(`${path}: values ${JSON.stringify(literals)} ≠ schema ${JSON.stringify(values)}`);
    return;
  }
  if (literals.length) out.push(`${path}: the type has literals ${JSON.stringify(literals)}, the schema no enum`);
  const kind = schemaTypes.filter((t) => t !== 'null');
  assert.equal(kind.length, 1, `${path}: schema type ${JSON.stringify(node.type)}`);
  const t = nonNull[0]!;
  const flags = nonNull.reduce((f, m) => f | m.flags, 0);
  switch (kind[0]) {
    case 'integer':
    case 'number':
      if (!(flags & ts.TypeFlags.Number) || nonNull.length !== 1) out.push(`${path}: schema ${kind[0]}, type ${checker.typeToString(type)}`);
      return;
    case 'string':
      if (!(flags & ts.TypeFlags.String) || nonNull.length !== 1) out.push(`${path}: schema string, type ${checker.typeToString(type)}`);
      return;
    case 'boolean':
      if (!(flags & ts.TypeFlags.Boolean || flags & ts.TypeFlags.BooleanLiteral)) out.push(`${path}: schema boolean, type ${checker.typeToString(type)}`);
      return;
    case 'array': {
      if (checker.isTupleType(t)) {
        for (const [i, element] of checker.getTypeArguments(t as ts.TypeReference).entries()) compareTypes(checker, element, node.items as Schema, `${path}[${i}]`, out);
      } else if (checker.isArrayType(t)) {
        compareTypes(checker, checker.getTypeArguments(t as ts.TypeReference)[0]!, node.items as Schema, `${path}[]`, out);
      } else out.push(`${path}: schema array, type ${checker.typeToString(type)}`);
      return;
    }
    case 'object': {
      const props = checker.getPropertiesOfType(t);
      const names = props.map((p) => p.name).sort();
      const schemaNames = Object.keys((node.properties as Schema) ?? {}).sort();
      if (JSON.stringify(names) !== JSON.stringify(schemaNames)) out.push(`${path}: properties ${JSON.stringify(names)} ≠ schema ${JSON.stringify(schemaNames)}`);
      const required = props.filter((p) => !(p.flags & ts.SymbolFlags.Optional)).map((p) => p.name).sort();
      const schemaRequired = [...((node.required as string[]) ?? [])].sort();
      if (JSON.stringify(required) !== JSON.stringify(schemaRequired)) out.push(`${path}: required ${JSON.stringify(required)} ≠ schema ${JSON.stringify(schemaRequired)}`);
      for (const p of props) {
        const sub = (node.properties as Record<string, Schema> | undefined)?.[p.name];
        if (sub) compareTypes(checker, checker.getTypeOfSymbol(p), sub, `${path}.${p.name}`, out);
      }
      return;
    }
    default:
      out.push(`${path}: schema type ${kind[0]} not handled`);
  }
}

function contractType(name: string): { checker: ts.TypeChecker; type: ts.Type } {
  const file = join(root, 'src', 'contract', 'report.ts');
  const program = ts.createProgram([file], { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const declaration = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
  assert.ok(declaration, `interface ${name} in src/contract/report.ts`);
  return { checker, type: checker.getTypeAtLocation(declaration.name) };
}

describe('report contract and schema', () => {
  it('docs/report.schema.json has exactly the fields of Report, recursively', () => {
    const { checker, type } = contractType('Report');
    const out: string[] = [];
    compareTypes(checker, type, schema, 'Report', out);
    assert.deepEqual(out, []);
  });

  it('the comparison finds a field the schema lacks, a wrong kind and a wrong enum', () => {
    const { checker, type } = contractType('ModelReport');
    const model = structuredClone(schema.definitions.ModelReport);
    delete model.properties.density;
    model.required = model.required.filter((r: string) => r !== 'density');
    model.properties.instructionScore = { type: 'string' };
    model.properties.promptFormat = { enum: ['raw'] };
    const out: string[] = [];
    compareTypes(checker, type, model, 'ModelReport', out);
    assert.ok(out.some((l) => l.startsWith('ModelReport: properties') && l.includes('density')), out.join('\n'));
    assert.ok(out.some((l) => l.startsWith('ModelReport.instructionScore: schema string')), out.join('\n'));
    assert.ok(out.some((l) => l.startsWith('ModelReport.promptFormat: values')), out.join('\n'));
  });

  it('the boundary validator accepts the saved real reports and names what is wrong in a broken one', () => {
    const dir = join(root, 'test', 'fixtures', 'reports');
    const files = readdirSync(dir).filter((f) => f.endsWith('.report.json'));
    assert.ok(files.length >= 2, 'saved reports (scripts/make-report-fixtures.ts)');
    for (const f of files) {
      const report = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      assert.equal(reportProblem(report, 'report'), null, f);
      assert.equal(reportProblem(report.tuned, 'model-report'), null, f);
      const broken = structuredClone(report);
      broken.base.density = 'high';
      assert.match(reportProblem(broken, 'report') ?? '', /\/base\/density/);
      delete broken.tuned;
      assert.match(reportProblem(broken, 'report') ?? '', /tuned/);
      assert.match(reportProblem({ ...report.base, raw: undefined, promptSpan: [1] }, 'model-report') ?? '', /promptSpan|raw/);
      // A panel's report: both models, or one of them alone.
      assert.equal(panelReportProblem(report), null);
      const { tuned: _tuned, heads: _heads, ffn: _ffn, ...baseOnly } = report;
      assert.equal(panelReportProblem(baseOnly), null);
      assert.match(panelReportProblem({ ...baseOnly, base: { ...report.base, density: 'high' } }) ?? '', /^\/base\/density/);
      assert.match(panelReportProblem({ prompt: 'x' }) ?? '', /neither/);
      assert.ok(panelReportProblem('report'));
    }
  });

  it('the extension\'s settings (package.json) have the contract\'s defaults and values', () => {
    const settings = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).contributes.configuration.properties;
    assert.equal(settings['instructionLens.maxNewTokens'].default, DEFAULT_MAX_NEW_TOKENS);
    assert.deepEqual(settings['instructionLens.executionProvider'].enum, [...PROVIDER_SETTINGS]);
    assert.deepEqual(settings['instructionLens.precision'].enum, [...PRECISION_SETTINGS]);
    for (const k of ['L', 'b', 'p'] as const) assert.equal(settings[`instructionLens.importance.${k}`].default, DEFAULT_IMPORTANCE_OPTIONS[k], k);
  });
});
