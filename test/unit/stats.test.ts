/**
 * The Student t distribution and Welch's t-test (src/train/stats.ts) against independent oracles:
 * closed forms of the t CDF for ν = 1 and ν = 2, and numerical integration (composite Simpson) of
 * the t density for other, also non-integer, degrees of freedom.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logGamma, regularizedIncompleteBeta, studentTCdf, welchTTest } from '../../src/train/stats.js';

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected} (|Δ| = ${Math.abs(actual - expected).toExponential(2)})`);
}

/** ∫_0^t of the t density, by Simpson's rule with n intervals (the oracle; independent of the beta function). */
function integratedCdf(t: number, nu: number, n = 20000): number {
  // The normalizing constant Γ((ν+1)/2) / (√(νπ) Γ(ν/2)) is not used: the kernel is integrated
  // over the whole line instead, so no Γ function (and no shared code) is involved.
  const kernel = (x: number) => Math.pow(1 + (x * x) / nu, -(nu + 1) / 2);
  const simpson = (f: (x: number) => number, a: number, b: number, m: number) => {
    const h = (b - a) / m;
    let s = f(a) + f(b);
    for (let i = 1; i < m; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
    return (s * h) / 3;
  };
  // Total mass: substitute x = tan(θ) to integrate over the whole real line on (−π/2, π/2).
  const mass = simpson((th) => (Math.abs(th) >= Math.PI / 2 ? 0 : kernel(Math.tan(th)) / Math.cos(th) ** 2), -Math.PI / 2, Math.PI / 2, n);
  const part = simpson(kernel, 0, Math.abs(t), n);
  const p = 0.5 + part / mass;
  return t >= 0 ? p : 1 - p;
}

describe('Student t distribution', () => {
  it('logGamma matches factorials and Γ(1/2) = √π', () => {
    close(logGamma(1), 0, 1e-13, 'lnΓ(1)');
    close(logGamma(5), Math.log(24), 1e-13, 'lnΓ(5)');
    close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-13, 'lnΓ(1/2)');
    close(logGamma(20.5), Math.log(Math.sqrt(Math.PI)) + Array.from({ length: 20 }, (_, k) => Math.log(k + 0.5)).reduce((a, b) => a + b), 1e-11, 'lnΓ(20.5)');
  });

  it('incomplete beta: I_x(1, 1) = x, I_x(a, 1) = x^a, symmetry', () => {
    for (const x of [0, 0.1, 0.5, 0.93, 1]) close(regularizedIncompleteBeta(x, 1, 1), x, 1e-14, `I_${x}(1,1)`);
    for (const x of [0.2, 0.7]) close(regularizedIncompleteBeta(x, 3.5, 1), x ** 3.5, 1e-13, `I_${x}(3.5,1)`);
    close(regularizedIncompleteBeta(0.3, 2.5, 7), 1 - regularizedIncompleteBeta(0.7, 7, 2.5), 1e-14, 'symmetry');
  });

  it('ν = 1 (Cauchy) and ν = 2 closed forms', () => {
    for (const t of [-30, -3, -1, -0.2, 0, 0.5, 2, 12.7, 300]) {
      close(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-13, `F(${t}; 1)`);
      close(studentTCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-13, `F(${t}; 2)`);
    }
  });

  it('other and non-integer ν against numerical integration of the density', () => {
    for (const nu of [3, 4.5, 10, 24.988, 137.3]) {
      for (const t of [-4, -2.1, -0.7, 0.3, 1.96, 2.8, 5]) close(studentTCdf(t, nu), integratedCdf(t, nu), 1e-9, `F(${t}; ${nu})`);
    }
  });

  it('the two-sided 5% critical value for ν = 10 is 2.228139', () => {
    close(2 * (1 - studentTCdf(2.228138851986274, 10)), 0.05, 1e-12, 'p');
  });
});

describe('Welch t-test', () => {
  it('statistic and degrees of freedom by hand, p from the t distribution', () => {
    const a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
    const b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
    const r = welchTTest(a, b);
    // The values scipy.stats.ttest_ind(a, b, equal_var=False) gives (scipy 1.x).
    close(r.t, -2.455356398286006, 1e-12, 't');
    close(r.df, 24.98852929023142, 1e-10, 'df');
    close(r.pTwoSided, 0.021378001462866992, 1e-12, 'p two-sided (scipy)');
    close(r.pTwoSided, 2 * integratedCdf(r.t, r.df), 1e-9, 'p two-sided (integration)');
    close(r.pGreater, 1 - integratedCdf(r.t, r.df), 1e-9, 'p one-sided');
    const swapped = welchTTest(b, a);
    close(swapped.t, -r.t, 1e-14, 'antisymmetric t');
    close(swapped.pGreater, r.pTwoSided / 2, 1e-12, 'one-sided p of the other direction');
  });

  it('refuses samples that cannot be tested', () => {
    assert.throws(() => welchTTest([1], [1, 2]), RangeError);
    assert.throws(() => welchTTest([1, 1], [2, 2]), RangeError);
  });
});
