// Plain transcriptions of Gymnasium's classic-control step functions (float64 state in place):
// the hand calculations the native batched environments are checked against.
export interface RefStep {
  reward: number;
  terminated: boolean;
}

export function cartpoleStep(s: Float64Array, action: number, suttonBarto = false): RefStep {
  const g = 9.8, mc = 1.0, mp = 0.1, total = mp + mc, l = 0.5, pml = mp * l, tau = 0.02;
  const force = action === 1 ? 10 : -10;
  const [x, xd, th, thd] = s;
  const c = Math.cos(th), sn = Math.sin(th);
  const temp = (force + pml * thd ** 2 * sn) / total;
  const thacc = (g * sn - c * temp) / (l * (4.0 / 3.0 - (mp * c ** 2) / total));
  const xacc = temp - (pml * thacc * c) / total;
  s[0] = x + tau * xd;
  s[1] = xd + tau * xacc;
  s[2] = th + tau * thd;
  s[3] = thd + tau * thacc;
  const thr = (12 * 2 * Math.PI) / 360;
  const terminated = s[0] < -2.4 || s[0] > 2.4 || s[2] < -thr || s[2] > thr;
  return { reward: suttonBarto ? (terminated ? -1 : 0) : 1, terminated };
}

function acrobotDerivs(y: number[], a: number): number[] {
  const m1 = 1, m2 = 1, l1 = 1, lc1 = 0.5, lc2 = 0.5, I1 = 1, I2 = 1, g = 9.8;
  const [t1, t2, dt1, dt2] = y;
  const d1 = m1 * lc1 ** 2 + m2 * (l1 ** 2 + lc2 ** 2 + 2 * l1 * lc2 * Math.cos(t2)) + I1 + I2;
  const d2 = m2 * (lc2 ** 2 + l1 * lc2 * Math.cos(t2)) + I2;
  const phi2 = m2 * lc2 * g * Math.cos(t1 + t2 - Math.PI / 2.0);
  const phi1 = -m2 * l1 * lc2 * dt2 ** 2 * Math.sin(t2) - 2 * m2 * l1 * lc2 * dt2 * dt1 * Math.sin(t2) + (m1 * lc1 + m2 * l1) * g * Math.cos(t1 - Math.PI / 2) + phi2;
  const ddt2 = (a + (d2 / d1) * phi1 - m2 * l1 * lc2 * dt1 ** 2 * Math.sin(t2) - phi2) / (m2 * lc2 ** 2 + I2 - d2 ** 2 / d1);
  const ddt1 = -(d2 * ddt2 + phi1) / d1;
  return [dt1, dt2, ddt1, ddt2];
}

function wrap(x: number, m: number, M: number): number {
  const diff = M - m;
  while (x > M) x -= diff;
  while (x < m) x += diff;
  return x;
}

export function acrobotStep(s: Float64Array, action: number): RefStep {
  const torque = [-1.0, 0.0, 1.0][action];
  const dt = 0.2, dt2 = dt / 2;
  const y0 = Array.from(s);
  const k1 = acrobotDerivs(y0, torque);
  const k2 = acrobotDerivs(y0.map((v, j) => v + dt2 * k1[j]), torque);
  const k3 = acrobotDerivs(y0.map((v, j) => v + dt2 * k2[j]), torque);
  const k4 = acrobotDerivs(y0.map((v, j) => v + dt * k3[j]), torque);
  const y = y0.map((v, j) => v + (dt / 6.0) * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]));
  s[0] = wrap(y[0], -Math.PI, Math.PI);
  s[1] = wrap(y[1], -Math.PI, Math.PI);
  s[2] = Math.min(Math.max(y[2], -4 * Math.PI), 4 * Math.PI);
  s[3] = Math.min(Math.max(y[3], -9 * Math.PI), 9 * Math.PI);
  const terminated = -Math.cos(s[0]) - Math.cos(s[1] + s[0]) > 1.0;
  return { reward: terminated ? 0 : -1, terminated };
}

export function mountainCarStep(s: Float64Array, action: number, goalVelocity = 0): RefStep {
  let [position, velocity] = s;
  velocity += (action - 1) * 0.001 + Math.cos(3 * position) * -0.0025;
  velocity = Math.min(Math.max(velocity, -0.07), 0.07);
  position += velocity;
  position = Math.min(Math.max(position, -1.2), 0.6);
  if (position === -1.2 && velocity < 0) velocity = 0;
  s[0] = position;
  s[1] = velocity;
  return { reward: -1, terminated: position >= 0.5 && velocity >= goalVelocity };
}

export function mountainCarContinuousStep(s: Float64Array, action: number, goalVelocity = 0): RefStep {
  let [position, velocity] = s;
  const force = Math.min(Math.max(action, -1), 1);
  velocity += force * 0.0015 - 0.0025 * Math.cos(3 * position);
  if (velocity > 0.07) velocity = 0.07;
  if (velocity < -0.07) velocity = -0.07;
  position += velocity;
  if (position > 0.6) position = 0.6;
  if (position < -1.2) position = -1.2;
  if (position === -1.2 && velocity < 0) velocity = 0;
  const terminated = position >= 0.45 && velocity >= goalVelocity;
  s[0] = Math.fround(position);
  s[1] = Math.fround(velocity);
  return { reward: (terminated ? 100 : 0) - action ** 2 * 0.1, terminated };
}

export function pendulumStep(s: Float64Array, action: number, g = 10): RefStep {
  const [th, thdot] = s;
  const u = Math.min(Math.max(action, -2), 2);
  const norm = ((((th + Math.PI) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)) - Math.PI;
  const costs = norm ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2;
  let newthdot = thdot + ((3 * g) / 2 * Math.sin(th) + 3.0 * u) * 0.05;
  newthdot = Math.min(Math.max(newthdot, -8), 8);
  s[0] = th + newthdot * 0.05;
  s[1] = newthdot;
  return { reward: -costs, terminated: false };
}

/** Observation of a state, as Gymnasium lays it out. */
export function observe(id: string, s: Float64Array): Float32Array {
  switch (id) {
    case 'Acrobot-v1':
      return Float32Array.from([Math.cos(s[0]), Math.sin(s[0]), Math.cos(s[1]), Math.sin(s[1]), s[2], s[3]]);
    case 'Pendulum-v1':
      return Float32Array.from([Math.cos(s[0]), Math.sin(s[0]), s[1]]);
    default:
      return Float32Array.from(s);
  }
}

export const REF_STEP: Record<string, (s: Float64Array, a: number) => RefStep> = {
  'CartPole-v1': (s, a) => cartpoleStep(s, a),
  'Acrobot-v1': acrobotStep,
  'MountainCar-v0': (s, a) => mountainCarStep(s, a),
  'MountainCarContinuous-v0': (s, a) => mountainCarContinuousStep(s, a),
  'Pendulum-v1': (s, a) => pendulumStep(s, a),
};
