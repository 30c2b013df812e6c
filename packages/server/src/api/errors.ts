import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, RateLimited, UpstreamRejected, type ErrorCode } from '../core/errors.js';
import type { LimitState } from '../core/shared-state.js';
import { ClientGone } from './client-gone.js';

/** An error as every surface sees it before shaping it into its own documented body. */
export interface ApiError {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

const STATUS: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  MODEL_NOT_FOUND: 404,
  CONTEXT_LENGTH_EXCEEDED: 400,
  UPSTREAM_REJECTED: 400,
  MODEL_ERROR: 502,
  CHANNEL_UNAVAILABLE: 503,
  SPEECH_UNAVAILABLE: 503,
};

const CODE_BY_STATUS: Record<number, string> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Classifies anything thrown while answering a request; unknown errors become an opaque 500. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof UpstreamRejected) {
    return { status: error.status, code: error.code, message: error.message, details: error.details };
  }
  if (error instanceof DomainError) {
    return { status: STATUS[error.code], code: error.code, message: error.message, details: error.details };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const [first] = fastifyError.validation;
    const field = first ? fieldOf(first) : undefined;
    const where = fastifyError.validationContext ?? 'request';
    return {
      status: 400,
      code: 'VALIDATION_ERROR',
      message: first ? `${where}${field ? `.${field}` : ''} ${describeRule(first)}` : fastifyError.message,
      details: field ? { field, in: where } : { in: where },
    };
  }
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    const message =
      fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
        ? 'Body is not valid JSON'
        : fastifyError.message;
    return { status, code: CODE_BY_STATUS[status] ?? 'BAD_REQUEST', message };
  }
  return { status: 500, code: 'INTERNAL', message: 'Internal server error' };
}

type ValidationIssue = NonNullable<FastifyError['validation']>[number];

function fieldOf(issue: ValidationIssue): string | undefined {
  const path = issue.instancePath.split('/').filter(Boolean);
  const params = issue.params as Record<string, unknown>;
  const extra = (params.missingProperty ?? params.additionalProperty) as string | undefined;
  if (extra) path.push(extra);
  return path.length ? path.join('.') : undefined;
}

function describeRule(issue: ValidationIssue): string {
  const params = issue.params as Record<string, unknown>;
  if (issue.keyword === 'required') return 'is required';
  if (issue.keyword === 'additionalProperties') return 'is not an accepted field';
  if (issue.keyword === 'pattern' && typeof params.pattern === 'string') return `has an invalid format`;
  return issue.message ?? 'is invalid';
}

/** Standard `RateLimit-*` headers (IETF draft) with the reset in seconds. */
export function setRateLimitHeaders(
  reply: FastifyReply,
  state: Pick<LimitState, 'limit' | 'remaining' | 'resetMs'>,
): void {
  reply.header('ratelimit-limit', state.limit);
  reply.header('ratelimit-remaining', state.remaining);
  reply.header('ratelimit-reset', Math.ceil(state.resetMs / 1000));
}

/** Headers that belong to some errors whatever the surface: retry hints and auth challenges. */
export function setErrorHeaders(reply: FastifyReply, error: unknown, apiError: ApiError): void {
  if (error instanceof RateLimited) {
    setRateLimitHeaders(reply, error.state);
    reply.header('retry-after', Math.max(1, Math.ceil(error.state.resetMs / 1000)));
  } else if (apiError.status === 401) {
    reply.header('www-authenticate', 'Bearer realm="parley"');
  }
}

/** Logs what the caller could not have caused; client errors are routine and stay at debug. */
export function logError(request: FastifyRequest, error: unknown, apiError: ApiError): void {
  // A client that went away caused the abort itself; there is nothing to fix.
  if (error instanceof ClientGone) return;
  if (apiError.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.debug({ code: apiError.code }, apiError.message);
}

/** A surface's error handler: classification, logging, metrics and headers are shared; only the body differs. */
export function errorHandler(toBody: (apiError: ApiError) => unknown, countError: (code: string) => void) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = toApiError(error);
    logError(request, error, apiError);
    countError(apiError.code);
    setErrorHeaders(reply, error, apiError);
    return reply.code(apiError.status).send(toBody(apiError));
  };
}

/** The native API's error body: `{error: {code, message, details?}}`. */
export function nativeErrorBody({ code, message, details }: Pick<ApiError, 'code' | 'message' | 'details'>) {
  return { error: details ? { code, message, details } : { code, message } };
}
