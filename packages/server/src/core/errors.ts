/**
 * Typed domain errors. The core throws these; every API surface maps `code` to its own status and
 * error body, so no surface needs to know where an error came from.
 */
export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'MODEL_NOT_FOUND'
  | 'CONTEXT_LENGTH_EXCEEDED'
  | 'UPSTREAM_REJECTED'
  | 'CHANNEL_UNAVAILABLE'
  | 'SPEECH_UNAVAILABLE'
  | 'MODEL_ERROR';

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class Invalid extends DomainError {
  constructor(message: string, field?: string) {
    super('VALIDATION_ERROR', message, field ? { field } : undefined);
  }
}

export class Unauthorized extends DomainError {
  constructor(message = 'Authentication required') {
    super('UNAUTHORIZED', message);
  }
}

export class Forbidden extends DomainError {
  constructor(message = 'Not allowed') {
    super('FORBIDDEN', message);
  }
}

export class NotFound extends DomainError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
  }
}

export class Conflict extends DomainError {
  constructor(message: string, field?: string) {
    super('CONFLICT', message, field ? { field } : undefined);
  }
}

/** Something sent is larger than its limit. */
export class TooLarge extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('PAYLOAD_TOO_LARGE', message, details);
  }
}

export class RateLimited extends DomainError {
  constructor(
    message: string,
    /** The exhausted limit, for surfaces that report it (e.g. `RateLimit-*` and `Retry-After`). */
    readonly state: { limit: number; remaining: number; resetMs: number },
  ) {
    super('RATE_LIMITED', message, { retryAfterMs: state.resetMs });
  }
}

export class ModelNotFound extends DomainError {
  constructor(model: string) {
    super('MODEL_NOT_FOUND', `The model '${model}' does not exist or is not available to you`, { model });
  }
}

export class ContextLengthExceeded extends DomainError {
  constructor(message: string) {
    super('CONTEXT_LENGTH_EXCEEDED', message, { field: 'messages' });
  }
}

/** The upstream refused the request itself (a 4xx that is the caller's fault); `status` is the upstream's. */
export class UpstreamRejected extends DomainError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super('UPSTREAM_REJECTED', message, { status });
  }
}

/** Every channel serving the model is cooling down, failing or over its quota. */
export class ChannelUnavailable extends DomainError {
  constructor(model: string) {
    super('CHANNEL_UNAVAILABLE', `No upstream is available for '${model}' right now; try again shortly`, { model });
  }
}

/** No speech provider is configured for what was asked (recognition or synthesis), or the one asked failed. */
export class SpeechUnavailable extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('SPEECH_UNAVAILABLE', message, details);
  }
}

/** The model failed after the answer had begun. */
export class ModelError extends DomainError {
  constructor(message: string) {
    super('MODEL_ERROR', message);
  }
}
