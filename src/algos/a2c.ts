// Advantage Actor-Critic (Mnih et al. 2016, arXiv:1602.01783, synchronous form) as a PPO
// configuration: one gradient step per short rollout on the whole batch, without clipping or
// advantage normalisation. With one epoch and one minibatch the rollout policy is the current
// one (r = 1), so PPO's surrogate gradient −Â ∇ log π equals A2C's policy gradient exactly.
// Defaults follow Stable-Baselines3's A2C (5 steps, lr 7e-4, λ = 1, no entropy bonus), with
// Adam (ε 1e-5) where SB3 uses RMSprop.
import type { AlgorithmSpec } from './base.js';
import { ppoDefaults, PpoRun, type PpoConfig } from './ppo.js';

/** A2C's defaults for an environment: {@link ppoDefaults} changed into A2C's update. */
export function a2cDefaults(envId: string): PpoConfig {
  const p = ppoDefaults(envId);
  return {
    ...p, numEnvs: 8, numSteps: 5, learningRate: 7e-4, annealLr: false, gaeLambda: 1, updateEpochs: 1, numMinibatches: 1,
    normAdv: false, clipCoef: 1e30, clipVloss: false, entCoef: 0, vfCoef: 0.5, maxGradNorm: 0.5, targetKl: null,
  };
}

/** A2C: {@link PpoRun} with {@link a2cDefaults}. */
export const a2c: AlgorithmSpec<PpoConfig> = {
  name: 'a2c',
  description: 'Advantage Actor-Critic (synchronous; a PPO configuration with one step per rollout)',
  defaults: a2cDefaults,
  create: (config) => new PpoRun(config),
};
