export { stableStringify } from './stable-stringify.js'
export { MIN_SECRET_BYTES, assertSecret, hmacHex, isUsableSecret, safeEqualHex } from './hmac.js'
export {
  signDelete,
  signLegacyDelete,
  signRegistration,
  verifyDelete,
  verifyLegacyDelete,
  verifyRegistrationSignature,
} from './registration-signature.js'
export type { DeleteRequest } from './registration-signature.js'
export {
  CLIENT_TOKEN_SCOPE,
  DEFAULT_CLIENT_TOKEN_TTL_MS,
  MAX_CLIENT_TOKEN_LENGTH,
  issueClientToken,
  verifyClientToken,
} from './client-token.js'
export type {
  ClientTokenPayload,
  IssueClientTokenOptions,
  TokenFailureReason,
  TokenVerification,
  VerifyClientTokenOptions,
} from './client-token.js'
