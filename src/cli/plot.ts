// Learning curves as SVG, rendered headlessly with Vega-Lite → Vega (View.toSVG, no browser).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One line of a learning-curve plot. */
export interface CurveSeries {
  /** Legend label (e.g. "seed 1"). */
  name: string;
  /** Global steps at which episodes ended, ascending. */
  steps: number[];
  /** Episodic returns at those steps. */
  returns: number[];
}

/** Options of {@link learningCurveSvg}. */
export interface CurveOptions {
  /** Plot title. */
  title: string;
  /** Smoothing window in episodes (a trailing mean; default 100). */
  window?: number;
  /** At most this many points per line (default 400). */
  maxPoints?: number;
  /** A horizontal reference line (e.g. the solved threshold). */
  threshold?: number;
}

/** Trailing mean of the last `window` returns at each episode, thinned to at most `maxPoints` points. */
export function smoothCurve(s: CurveSeries, window: number, maxPoints: number): Array<{ step: number; value: number }> {
  const out: Array<{ step: number; value: number }> = [];
  const n = s.returns.length;
  let sum = 0;
  const every = Math.max(1, Math.ceil(n / maxPoints));
  for (let i = 0; i < n; i++) {
    sum += s.returns[i];
    if (i >= window) sum -= s.returns[i - window];
    if (i % every === 0 || i === n - 1) out.push({ step: s.steps[i], value: sum / Math.min(i + 1, window) });
  }
  return out;
}

/**
 * An SVG learning curve: the trailing mean of episodic returns (default last 100 episodes)
 * against environment steps, one line per series.
 */
export async function learningCurveSvg(series: CurveSeries[], options: CurveOptions): Promise<string> {
  const window = options.window ?? 100, maxPoints = options.maxPoints ?? 400;
  const values = series.flatMap((s) => smoothCurve(s, window, maxPoints).map((p) => ({ ...p, series: s.name })));
  const layers: TopLevelSpec[] = [];
  const line = {
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'environment steps' },
      y: { field: 'value', type: 'quantitative', title: `episodic return (mean of last ${window})` },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: 560,
    height: 320,
    background: 'white',
    data: { values },
    layer: [
      line,
      ...(options.threshold === undefined
        ? []
        : [{ data: { values: [{ y: options.threshold }] }, mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { field: 'y', type: 'quantitative' } } }]),
    ],
  } as unknown as TopLevelSpec;
  layers.push(spec);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
