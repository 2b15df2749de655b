// UserError lives in the kernel (kernel/errors.ts, with the table of codes); re-exported for the roles' imports.
export { ERROR_CODES, type ErrorCode, formatUserError, isErrorCode, UserError } from '../../kernel/errors.ts';
