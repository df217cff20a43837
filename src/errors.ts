/**
 * Domain errors. Services throw these; src/http/error-handler.ts is the one
 * place that maps them to HTTP. Services never know about status codes.
 */
export interface FieldIssue {
  field: string;
  code: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly kind: 'validation' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'rule' | 'precondition' | 'throttled' | 'upstream';
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * 400: the request itself is malformed; `issues` lists every field at fault
 * (all of them, so a client fixes a form in one round trip) and the first
 * one is the message. Schema failures share the code validation_failed; a
 * request-level refusal (invalid_cursor, credential_in_query) carries its own.
 */
export class ValidationError extends DomainError {
  readonly kind = 'validation' as const;
  constructor(
    readonly issues: FieldIssue[],
    code = 'validation_failed',
  ) {
    const first = issues[0];
    super(code, first ? `${first.field ? `${first.field}: ` : ''}${first.message}` : 'Invalid request', first?.field);
  }

  /** One issue whose code is also the error's code. */
  static of(issue: FieldIssue): ValidationError {
    return new ValidationError([issue], issue.code);
  }
}

/** 401 */
export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated' as const;
}

/** 403 */
export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden' as const;
}

/** 404: also used for objects of another account, so their existence is not disclosed. */
export class NotFoundError extends DomainError {
  readonly kind = 'not_found' as const;
  constructor(what: string, id: string | number) {
    super(`${what}_not_found`, `No ${what.replace(/_/g, ' ')} with id ${id}`);
  }
}

/** 409: the state of other objects stands in the way (uniqueness, references). */
export class ConflictError extends DomainError {
  readonly kind = 'conflict' as const;
}

/** 422: well-formed but against a business rule. */
export class RuleError extends DomainError {
  readonly kind = 'rule' as const;
}

/** 412: If-Match did not match. */
export class PreconditionFailedError extends DomainError {
  readonly kind = 'precondition' as const;
}

/** 429 */
export class ThrottledError extends DomainError {
  readonly kind = 'throttled' as const;
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('too_many_attempts', message);
  }
}

/** 502: a service we depend on (a carrier's API) is down, timed out or answered 5xx. */
export class UpstreamError extends DomainError {
  readonly kind = 'upstream' as const;
}
