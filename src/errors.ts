/**
 * Error codes carried by {@link RlcoreError}.
 *
 * - `ERR_SHAPE`: an array has the wrong length, or a size is zero, negative or not an integer.
 * - `ERR_DTYPE`: an array has the wrong element type.
 * - `ERR_RANGE`: a number (gamma, λ, a clip value, an index, an id) is outside its valid range or not finite.
 * - `ERR_ARG`: a required option is missing, an option has the wrong type, or outputs alias inputs.
 * - `ERR_DEVICE`: the requested device is unknown or not available.
 * - `ERR_LOAD`: the native addon could not be loaded.
 * - `ERR_IO`: a file could not be read or written.
 * - `ERR_NATIVE`: an unexpected failure inside native code (a bug: please report it).
 */
export type RlcoreErrorCode =
  | 'ERR_SHAPE'
  | 'ERR_DTYPE'
  | 'ERR_RANGE'
  | 'ERR_ARG'
  | 'ERR_DEVICE'
  | 'ERR_LOAD'
  | 'ERR_IO'
  | 'ERR_NATIVE';

/**
 * The one error class rlcore throws, from TypeScript and from native code alike. `code` says
 * what kind of mistake it is; `message` says what was expected and what was received.
 *
 * @example
 * ```ts
 * try { gae({ ... }); } catch (e) { if (e instanceof RlcoreError && e.code === 'ERR_SHAPE') ... }
 * ```
 */
export class RlcoreError extends Error {
  /** Machine-readable kind of error. */
  readonly code: RlcoreErrorCode;

  /**
   * @param code - machine-readable kind of error
   * @param message - what was expected and what was received
   */
  constructor(code: RlcoreErrorCode, message: string) {
    super(message);
    this.name = 'RlcoreError';
    this.code = code;
  }
}
