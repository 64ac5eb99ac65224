// The plots of the evaluate report page (src/evaluate/report-html.ts), drawn with Chart.js into the
// page's canvases from the JSON in <script type="application/json" id="evaluate-data">. Bundled by
// scripts/build.mjs into dist/evaluate-charts.js, which the page inlines under its nonce: nothing is
// loaded from the network. Only Chart.js's pieces in use are registered. Labels are set as text by
// Chart.js (canvas fillText), never as HTML.
import { BarController, BarElement, CategoryScale, Chart, Legend, LineController, LineElement, LinearScale, PointElement, Title, Tooltip } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Legend, LineController, LineElement, LinearScale, PointElement, Title, Tooltip);

interface ChartGroup {
  group: string;
  base: { scores: number[]; density: { instruction: number | null; other: number | null } };
  tuned: { scores: number[]; density: { instruction: number | null; other: number | null } };
}

interface ChartData {
  groups: ChartGroup[];
  table3: { labels: string[]; instruction: (number | null)[]; general: (number | null)[] } | null;
  rotation: { layers: number[]; meanCosine: number[]; meanBestMatch: number[] } | null;
}

const BASE = '#e66101';
const TUNED = '#5e3c99';
const BASE_LIGHT = '#fdb863';
const TUNED_LIGHT = '#b2abd2';
const BINS = 10;

function histogram(scores: readonly number[], max: number): number[] {
  const counts = new Array<number>(BINS).fill(0);
  for (const s of scores) counts[Math.min(BINS - 1, Math.max(0, Math.floor((s / max) * BINS)))]!++;
  return counts;
}

function canvas(id: string): HTMLCanvasElement | null {
  const el = document.getElementById(id);
  return el instanceof HTMLCanvasElement ? el : null;
}

const common = { animation: false as const, responsive: true, maintainAspectRatio: false };

function draw(data: ChartData): number {
  let drawn = 0;
  data.groups.forEach((g, k) => {
    const el = canvas(`chart-scores-${k}`);
    if (!el) return;
    const max = Math.max(1e-9, ...g.base.scores, ...g.tuned.scores);
    const labels = Array.from({ length: BINS }, (_, b) => `${((b * max) / BINS).toFixed(2)}–${(((b + 1) * max) / BINS).toFixed(2)}`);
    new Chart(el, {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: `base (n=${g.base.scores.length})`, data: histogram(g.base.scores, max), backgroundColor: BASE },
          { label: `tuned (n=${g.tuned.scores.length})`, data: histogram(g.tuned.scores, max), backgroundColor: TUNED },
        ],
      },
      options: {
        ...common,
        plugins: { title: { display: true, text: `Instruction score: ${g.group}` } },
        scales: { x: { title: { display: true, text: 'instruction score' } }, y: { beginAtZero: true, title: { display: true, text: 'prompts' } } },
      },
    });
    drawn++;
  });
  const density = canvas('chart-density');
  if (density) {
    const value = (v: number | null) => v ?? 0;
    new Chart(density, {
      type: 'bar',
      data: {
        labels: data.groups.map((g) => g.group),
        datasets: [
          { label: 'base: instruction tokens', data: data.groups.map((g) => value(g.base.density.instruction)), backgroundColor: BASE },
          { label: 'base: other tokens', data: data.groups.map((g) => value(g.base.density.other)), backgroundColor: BASE_LIGHT },
          { label: 'tuned: instruction tokens', data: data.groups.map((g) => value(g.tuned.density.instruction)), backgroundColor: TUNED },
          { label: 'tuned: other tokens', data: data.groups.map((g) => value(g.tuned.density.other)), backgroundColor: TUNED_LIGHT },
        ],
      },
      options: { ...common, plugins: { title: { display: true, text: 'Mean importance density per token' } }, scales: { y: { beginAtZero: true } } },
    });
    drawn++;
  }
  const table3 = canvas('chart-table3');
  if (table3 && data.table3) {
    new Chart(table3, {
      type: 'bar',
      data: {
        labels: data.table3.labels,
        datasets: [
          { label: 'instruction verbs', data: data.table3.instruction.map((v) => (v === null ? null : 100 * v)), backgroundColor: TUNED },
          { label: 'general verbs', data: data.table3.general.map((v) => (v === null ? null : 100 * v)), backgroundColor: '#999999' },
        ],
      },
      options: {
        ...common,
        plugins: { title: { display: true, text: 'Heads where the tuned model has more word pairs with the verb (%)' } },
        scales: { y: { beginAtZero: true, max: 100 } },
      },
    });
    drawn++;
  }
  const rotation = canvas('chart-rotation');
  if (rotation && data.rotation) {
    new Chart(rotation, {
      type: 'line',
      data: {
        labels: data.rotation.layers.map(String),
        datasets: [
          { label: 'mean principal cosine', data: data.rotation.meanCosine, borderColor: TUNED, backgroundColor: TUNED },
          { label: 'mean best-match cosine', data: data.rotation.meanBestMatch, borderColor: BASE, backgroundColor: BASE },
        ],
      },
      options: {
        ...common,
        plugins: { title: { display: true, text: 'FFN components, base → tuned, per layer (1 = not rotated)' } },
        scales: { x: { title: { display: true, text: 'layer' } }, y: { min: 0, max: 1 } },
      },
    });
    drawn++;
  }
  return drawn;
}

const source = document.getElementById('evaluate-data');
if (source?.textContent) {
  const drawn = draw(JSON.parse(source.textContent) as ChartData);
  document.body.dataset.chartsDrawn = String(drawn);
}
