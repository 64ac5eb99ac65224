import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  COLOR_SCHEMES, DIV_BINS, SEQ_BINS, blend, contrastRatio, contrastText, divBinColor, luminance, seqBinColor, signBinColor, type ColorScheme, type Rgb,
} from '../../src/view/colors.js';
import { backgroundOf, measure, parseColor } from '../support/contrast.js';

const hex = (h: string): Rgb => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
/** Editor backgrounds of VS Code's default themes, per scheme the scale is drawn for. */
const BACKGROUNDS: Record<ColorScheme, string[]> = { light: ['#ffffff', '#f8f8f8'], dark: ['#1f1f1f', '#1e1e1e', '#181818', '#000000'] };

const bins = (color: (k: number, s: ColorScheme) => Rgb, n: number, scheme: ColorScheme) => Array.from({ length: n }, (_, k) => color(k, scheme));

describe('WCAG contrast', () => {
  it('measures known pairs', () => {
    assert.equal(contrastRatio(BLACK, WHITE), 21);
    assert.equal(contrastRatio(WHITE, BLACK), 21);
    assert.equal(contrastRatio(WHITE, WHITE), 1);
    assert.ok(Math.abs(contrastRatio(hex('#777777'), WHITE) - 4.48) < 0.01, '#777 on white ≈ 4.48, just under AA');
    assert.ok(contrastRatio(hex('#767676'), WHITE) >= 4.5, '#767676 on white is the lightest grey that passes AA');
  });

  it('blends a translucent colour over what is below, and reads computed colours', () => {
    assert.deepEqual(blend(BLACK, 0.5, WHITE), [127.5, 127.5, 127.5]);
    assert.deepEqual(blend(hex('#ff0000'), 1, WHITE), [255, 0, 0]);
    assert.deepEqual(parseColor('rgba(10, 20, 30, 0.5)'), { rgb: [10, 20, 30], alpha: 0.5 });
    assert.deepEqual(parseColor('color(srgb 1 0 0.5)'), { rgb: [255, 0, 127.5], alpha: 1 });
    assert.deepEqual(backgroundOf([{ bg: 'rgba(0, 0, 0, 0)', opacity: '1' }, { bg: 'rgb(30, 30, 30)', opacity: '1' }]), [30, 30, 30]);
  });

  it('catches a bad colour: text close to its background, and text faded by opacity', () => {
    const grey = measure({ text: 'x', className: 'tok', color: 'rgb(128, 128, 128)', layers: [{ bg: 'rgb(119, 119, 119)', opacity: '1' }, { bg: 'rgb(255, 255, 255)', opacity: '1' }] });
    assert.ok(grey.ratio < 1.2);
    // Black on a mid shade passes; the same faded to 40% over a dark page does not.
    const layers = (opacity: string) => [{ bg: 'rgb(65, 182, 196)', opacity }, { bg: 'rgb(31, 31, 31)', opacity: '1' }];
    assert.ok(measure({ text: 'x', className: 'tok', color: 'rgb(0, 0, 0)', layers: layers('1') }).ratio >= 4.5);
    assert.ok(measure({ text: 'x', className: 'tok', color: 'rgb(0, 0, 0)', layers: layers('0.4') }).ratio < 4.5);
  });

  it('black or white text contrasts at least 4.5:1 with any colour', () => {
    let min = Infinity;
    for (let r = 0; r < 256; r += 15) for (let g = 0; g < 256; g += 15) for (let b = 0; b < 256; b += 15) min = Math.min(min, contrastRatio(contrastText([r, g, b]), [r, g, b]));
    assert.ok(min >= 4.5, `lowest ${min}`);
  });
});

describe('colour scales on light and dark backgrounds', () => {
  for (const scheme of COLOR_SCHEMES) {
    it(`${scheme}: text on every bin ≥ 4.5:1; zero close to the background, the strongest shades far from it`, () => {
      const seq = bins(seqBinColor, SEQ_BINS, scheme);
      const div = bins(divBinColor, DIV_BINS, scheme);
      const sign = bins(signBinColor, DIV_BINS, scheme);
      for (const bg of [...seq, ...div, ...sign]) assert.ok(contrastRatio(contrastText(bg), bg) >= 4.5, `${bg}`);
      const mid = (DIV_BINS - 1) / 2;
      for (const page of BACKGROUNDS[scheme].map(hex)) {
        const vs = (c: Rgb) => contrastRatio(c, page);
        assert.ok(vs(seq[0]!) <= 1.6, `${scheme} on ${page}: sequential zero ${vs(seq[0]!)}`);
        assert.ok(vs(seq.at(-1)!) >= 3, `${scheme} on ${page}: sequential top ${vs(seq.at(-1)!)}`);
        for (const scale of [div, sign]) {
          assert.ok(vs(scale[mid]!) <= 1.6, `${scheme} on ${page}: diverging zero ${vs(scale[mid]!)}`);
          assert.ok(vs(scale[0]!) >= 3 && vs(scale.at(-1)!) >= 3, `${scheme} on ${page}: diverging ends`);
        }
      }
      // Importance moves away from the background's lightness: darker bin by bin on light, lighter on dark.
      for (let k = 1; k < SEQ_BINS; k++) assert.ok(scheme === 'light' ? luminance(seq[k]!) < luminance(seq[k - 1]!) : luminance(seq[k]!) > luminance(seq[k - 1]!), `${scheme}: bin ${k}`);
    });
  }

  it('the gradient sign has colours of its own, not the difference’s', () => {
    const mid = (DIV_BINS - 1) / 2;
    for (const scheme of COLOR_SCHEMES) {
      const div = bins(divBinColor, DIV_BINS, scheme).map(String);
      for (let k = 0; k < DIV_BINS; k++) if (k !== mid) assert.ok(!div.includes(String(signBinColor(k, scheme))), `${scheme} sign bin ${k}`);
    }
  });
});
