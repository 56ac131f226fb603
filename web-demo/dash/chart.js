// Charts: a uPlot time chart as a Preact component (created once, data swapped on refresh) and
// a 24-bar SVG sparkline for the issue list.
import uPlot from '../vendor/uPlot.esm.js';
import { html, Component, num } from './lib.js';

export const COLORS = ['#2456c8', '#c21f32', '#9a6700', '#7b3fc4', '#1a7f37', '#d4570b', '#5f6b7a'];

/**
 * A uPlot chart. Props: `series` [{label, color, bars?, dash?}], `data` [xs (seconds), ys...],
 * `height`, `label` (aria). Recreated when the series change, else only `setData` runs, so a
 * refresh keeps the chart (and its cursor) in place.
 */
export class TimeChart extends Component {
  constructor(props) {
    super(props);
    this.setEl = (el) => { this.el = el; };
  }

  componentDidMount() {
    this.create();
    if (typeof ResizeObserver === 'function') {
      this.observer = new ResizeObserver(() => this.resize());
      this.observer.observe(this.el);
    }
  }

  componentDidUpdate(prev) {
    const sig = (p) => JSON.stringify(p.series) + '|' + p.height;
    if (!this.plot || sig(prev) !== sig(this.props)) {
      this.destroy();
      this.create();
    } else {
      this.plot.setData(this.props.data);
    }
  }

  componentWillUnmount() {
    if (this.observer) this.observer.disconnect();
    this.destroy();
  }

  shouldComponentUpdate(next) {
    return next.data !== this.props.data || JSON.stringify(next.series) !== JSON.stringify(this.props.series);
  }

  width() {
    return Math.max(200, (this.el && this.el.clientWidth) || 600);
  }

  resize() {
    if (this.plot && this.el) {
      const w = this.width();
      if (Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: this.props.height || 160 });
    }
  }

  create() {
    if (!this.el) return;
    const bars = uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
    const opts = {
      width: this.width(),
      height: this.props.height || 160,
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: true },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { size: 44 }],
      series: [{}].concat(this.props.series.map((s, i) => ({
        label: s.label,
        stroke: s.color || COLORS[i % COLORS.length],
        fill: s.bars ? (s.color || COLORS[i % COLORS.length]) + '55' : undefined,
        width: s.bars ? 1 : 2,
        dash: s.dash,
        paths: s.bars ? bars : undefined,
        points: { show: false },
        value: (u, v) => (v === null || v === undefined ? '–' : num(v).toLocaleString()),
      }))),
    };
    this.plot = new uPlot(opts, this.props.data, this.el);
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }

  render() {
    return html`<div class="chart" ref=${this.setEl} role="img" aria-label=${this.props.label}></div>`;
  }
}

/** 24 hourly counts (oldest first) as bars; the title says the total. */
export function Sparkline({ points }) {
  const pts = Array.isArray(points) ? points.map(num) : [];
  const max = Math.max(1, ...pts);
  const total = pts.reduce((a, b) => a + b, 0);
  const W = 96;
  const H = 22;
  const bw = pts.length ? W / pts.length : W;
  return html`<svg class="sparkline" width=${W} height=${H} viewBox=${'0 0 ' + W + ' ' + H}
      data-points=${pts.join(',')} role="img" aria-label=${total + ' events in the last 24 hours'}>
    <title>${total.toLocaleString()} events in the last 24 h</title>
    <line class="spark-base" x1="0" y1=${H - 0.5} x2=${W} y2=${H - 0.5} />
    ${pts.map((v, i) => {
      const hgt = v > 0 ? Math.max(2, (v / max) * (H - 2)) : 0;
      return html`<rect key=${i} x=${(i * bw + 0.5).toFixed(2)} y=${(H - 1 - hgt).toFixed(2)} width=${Math.max(1, bw - 1).toFixed(2)} height=${hgt.toFixed(2)} />`;
    })}
  </svg>`;
}
