// CartPole-v1 in TypeScript: the single-environment reference for the native batched version
// (native/envs/cartpole.cc). Same constants, same Euler integrator, same float64 arithmetic, and
// the same Philox stream for its initial states, so both give the same episodes from one seed.
import { RlcoreError } from '../errors.js';
import type { Env, ResetOptions, ResetResult, StepResult } from './env.js';
import { isSeed, RandomStream } from './random.js';
import { Box, Discrete } from './spaces.js';

const GRAVITY = 9.8, MASS_CART = 1.0, MASS_POLE = 0.1, TOTAL_MASS = MASS_CART + MASS_POLE;
const LENGTH = 0.5, POLE_MASS_LENGTH = MASS_POLE * LENGTH, FORCE_MAG = 10.0, TAU = 0.02;
/** Cart position beyond which CartPole terminates (|x| > 2.4). */
export const CARTPOLE_X_THRESHOLD = 2.4;
/** Pole angle beyond which CartPole terminates (|θ| > 12°, in radians). */
export const CARTPOLE_THETA_THRESHOLD = (12 * 2 * Math.PI) / 360;

/** Options of {@link CartPoleEnv}. */
export interface CartPoleOptions {
  /** Reward 0 per step and -1 on termination instead of 1 per step (Gymnasium's sutton_barto_reward). Default false. */
  suttonBartoReward?: boolean;
}

/**
 * CartPole-v1 (Barto, Sutton & Anderson 1983, "Neuronlike adaptive elements that can solve
 * difficult learning control problems"), following Gymnasium's definition:
 *
 * ```text
 * temp = (F + m_p l θ̇² sin θ) / (m_c + m_p),  F = ±10
 * θ̈   = (g sin θ - cos θ · temp) / (l (4/3 - m_p cos² θ / (m_c + m_p)))
 * ẍ   = temp - m_p l θ̈ cos θ / (m_c + m_p)
 * x += τ ẋ,  ẋ += τ ẍ,  θ += τ θ̇,  θ̇ += τ θ̈        (explicit Euler, τ = 0.02)
 * ```
 *
 * Terminates when |x| > 2.4 or |θ| > 12°; reward 1 per step. Observation [x, ẋ, θ, θ̇];
 * actions 0 (push left) and 1 (push right). No time limit of its own: `makeEnv` adds the 500-step one.
 */
export class CartPoleEnv implements Env<number> {
  /** Observation space (Gymnasium's bounds: twice the termination thresholds). */
  readonly observationSpace = new Box(
    [-2 * CARTPOLE_X_THRESHOLD, -3.4028234663852886e38, -2 * CARTPOLE_THETA_THRESHOLD, -3.4028234663852886e38],
    [2 * CARTPOLE_X_THRESHOLD, 3.4028234663852886e38, 2 * CARTPOLE_THETA_THRESHOLD, 3.4028234663852886e38],
  );
  /** Two actions: 0 pushes left, 1 pushes right. */
  readonly actionSpace = new Discrete(2);
  /** Physical state [x, ẋ, θ, θ̇] in float64. */
  readonly state = new Float64Array(4);
  private rng = new RandomStream(0);
  private readonly suttonBarto: boolean;
  private started = false;

  /** @param options - see {@link CartPoleOptions} */
  constructor(options: CartPoleOptions = {}) {
    this.suttonBarto = options.suttonBartoReward === true;
  }

  /** Starts an episode: the state is drawn uniformly from [-0.05, 0.05]^4. */
  reset(options?: ResetOptions): ResetResult {
    if (options?.seed !== undefined) {
      if (!isSeed(options.seed)) throw new RlcoreError('ERR_RANGE', `CartPole-v1: seed must be an integer in [0, 2^53); received ${String(options.seed)}`);
      this.rng = new RandomStream(options.seed, 0);
    }
    for (let k = 0; k < 4; k++) this.state[k] = this.rng.uniform(-0.05, 0.05);
    this.started = true;
    return { observation: Float32Array.from(this.state), info: {} };
  }

  /** Applies action 0 or 1 for τ = 0.02 s. */
  step(action: number): StepResult {
    if (!this.started) throw new RlcoreError('ERR_ARG', 'CartPole-v1: call reset() before step()');
    if (action !== 0 && action !== 1) {
      throw new RlcoreError('ERR_RANGE', `CartPole-v1: action must be 0 or 1; received ${String(action)}`);
    }
    const s = this.state;
    const x = s[0], xDot = s[1], theta = s[2], thetaDot = s[3];
    const force = action === 1 ? FORCE_MAG : -FORCE_MAG;
    const costheta = Math.cos(theta), sintheta = Math.sin(theta);
    const temp = (force + POLE_MASS_LENGTH * (thetaDot * thetaDot) * sintheta) / TOTAL_MASS;
    const thetaAcc = (GRAVITY * sintheta - costheta * temp) / (LENGTH * (4.0 / 3.0 - (MASS_POLE * (costheta * costheta)) / TOTAL_MASS));
    const xAcc = temp - (POLE_MASS_LENGTH * thetaAcc * costheta) / TOTAL_MASS;
    s[0] = x + TAU * xDot;
    s[1] = xDot + TAU * xAcc;
    s[2] = theta + TAU * thetaDot;
    s[3] = thetaDot + TAU * thetaAcc;
    const terminated = s[0] < -CARTPOLE_X_THRESHOLD || s[0] > CARTPOLE_X_THRESHOLD || s[2] < -CARTPOLE_THETA_THRESHOLD || s[2] > CARTPOLE_THETA_THRESHOLD;
    const reward = this.suttonBarto ? (terminated ? -1 : 0) : 1;
    return { observation: Float32Array.from(s), reward, terminated, truncated: false, info: {} };
  }
}
