// What a training run writes besides checkpoints: metrics.jsonl and metrics.csv (one row per
// iteration), episodes.csv (one row per finished episode) and TensorBoard event files.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Metrics } from '../algos/base.js';
import { writeFileAtomic } from './checkpoint.js';
import { TensorBoardWriter } from './tensorboard.js';

/** Episodes of a run as read back from episodes.csv. */
export interface EpisodeLog {
  /** Global step at which each episode ended. */
  steps: number[];
  /** Episodic returns. */
  returns: number[];
  /** Episode lengths. */
  lengths: number[];
  /** Training seconds at which each episode ended. */
  times: number[];
}

/** Reads episodes.csv of a run directory (empty when absent). */
export function readEpisodes(runDir: string): EpisodeLog {
  const log: EpisodeLog = { steps: [], returns: [], lengths: [], times: [] };
  const path = join(runDir, 'episodes.csv');
  if (!existsSync(path)) return log;
  for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
    const [s, r, l, t] = line.split(',').map(Number);
    if (line && Number.isFinite(s) && Number.isFinite(r)) log.steps.push(s), log.returns.push(r), log.lengths.push(l), log.times.push(t);
  }
  return log;
}

// Keeps the header and the rows whose first column (the global step) is at most `step`.
function truncateCsv(path: string, step: number): void {
  if (!existsSync(path)) return;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  const kept = [lines[0], ...lines.slice(1).filter((l) => Number(l.split(',')[0]) <= step)];
  writeFileAtomic(path, kept.join('\n') + '\n');
}

function truncateJsonl(path: string, step: number): void {
  if (!existsSync(path)) return;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  const kept = lines.filter((l) => {
    try {
      return (JSON.parse(l) as { global_step: number }).global_step <= step;
    } catch {
      return false;
    }
  });
  writeFileAtomic(path, kept.map((l) => l + '\n').join(''));
}

/** Appends a run's logs; on resume, first drops what was logged after the checkpoint. */
export class RunLog {
  private readonly dir: string;
  private readonly tb: TensorBoardWriter;
  private csvColumns: string[] | null = null;
  private episodeRows: string[] = [];

  /**
   * @param dir - the run directory
   * @param resumeStep - the checkpoint's global step when resuming (rows after it are dropped)
   */
  constructor(dir: string, resumeStep?: number) {
    this.dir = dir;
    if (resumeStep !== undefined) {
      truncateJsonl(join(dir, 'metrics.jsonl'), resumeStep);
      truncateCsv(join(dir, 'metrics.csv'), resumeStep);
      truncateCsv(join(dir, 'episodes.csv'), resumeStep);
    }
    const metricsCsv = join(dir, 'metrics.csv');
    if (existsSync(metricsCsv)) this.csvColumns = readFileSync(metricsCsv, 'utf8').split('\n')[0].split(',');
    if (!existsSync(join(dir, 'episodes.csv'))) appendFileSync(join(dir, 'episodes.csv'), 'global_step,episodic_return,episodic_length,time\n');
    this.tb = new TensorBoardWriter(dir);
  }

  /** Records finished episodes (CleanRL's charts/episodic_return and charts/episodic_length). */
  episodes(step: number, time: number, returns: number[], lengths: number[]): void {
    for (let i = 0; i < returns.length; i++) {
      this.episodeRows.push(`${step},${returns[i]},${lengths[i]},${time.toFixed(3)}`);
      this.tb.scalars(step, { 'charts/episodic_return': returns[i], 'charts/episodic_length': lengths[i] });
    }
  }

  /** Records one iteration's metrics (the algorithm's, plus step, time and SPS). */
  iteration(row: Metrics & { global_step: number }): void {
    appendFileSync(join(this.dir, 'metrics.jsonl'), JSON.stringify(row) + '\n');
    if (!this.csvColumns) {
      this.csvColumns = Object.keys(row);
      appendFileSync(join(this.dir, 'metrics.csv'), this.csvColumns.join(',') + '\n');
    }
    appendFileSync(join(this.dir, 'metrics.csv'), this.csvColumns.map((c) => (row[c] === undefined ? '' : String(row[c]))).join(',') + '\n');
    const { global_step: step, ...scalars } = row;
    const tagged: Record<string, number> = {};
    for (const [k, v] of Object.entries(scalars)) tagged[['sps', 'time', 'episodes', 'episodic_return', 'learning_rate'].includes(k) ? `charts/${k}` : `losses/${k}`] = v;
    this.tb.scalars(step, tagged);
  }

  /** Writes buffered episode rows and TensorBoard records. */
  flush(): void {
    if (this.episodeRows.length) appendFileSync(join(this.dir, 'episodes.csv'), this.episodeRows.join('\n') + '\n');
    this.episodeRows = [];
    this.tb.flush();
  }

  /** Flushes and closes the event file. */
  close(): void {
    this.flush();
    this.tb.close();
  }
}
